"""The window's export leaves out the same rows as `scriptlens label` (engine.label_rows) and
writes the same bytes; its banner counts what it left out."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import degenerate_rows as dr  # noqa: E402
from cli.main import main  # noqa: E402
from gui.export_dialog import ExportChoice  # noqa: E402


def test_window_export_drops_the_rows_label_drops(window, qtbot, tmp_path):
    model = dr.build_model(tmp_path / "e2e.torchscript")
    images = tmp_path / "ds" / "images"
    dr.make_images(images, 2)
    window.open_folder(images)
    window.open_model(model)
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    gui_out = tmp_path / "gui"
    window.last_export_summary = None
    assert window.export(ExportChoice(whole_folder=True, out_dir=gui_out)) is not None
    qtbot.waitUntil(lambda: window.last_export_summary is not None, timeout=60000)
    summary = window.last_export_summary
    assert (summary.degenerate, summary.duplicates) == (2 * dr.DEGENERATE, 2 * dr.DUPLICATES)
    assert "Not in the label files: 6 zero-area boxes" in window.banner.text()
    cli_out = tmp_path / "cli"
    assert main(["label", "--model", str(model), "--images", str(images), "--out", str(cli_out), "--device", "cpu"]) == 0
    for name in ("wide0.txt", "wide1.txt"):
        assert (gui_out / name).read_text().splitlines() == dr.EXPECTED_LINES
        assert (gui_out / name).read_bytes() == (cli_out / name).read_bytes()
