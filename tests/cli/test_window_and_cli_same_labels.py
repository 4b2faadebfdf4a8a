"""Issue 25 item 5: the window's export and `scriptlens label` write the same bytes on the demo,
with the window set up as `scriptlens` runs it: its model in a child process
(engine.forward_process). The float32 forward's last bits depend on torch's intra-op thread
count (oneDNN/MKL split their sums by thread), and the two ran with different counts: the
model process with torch's default, the CLI's image-parallel pool with cpus // workers each,
so 5 of 30 demo files differed in the 6th decimal (0.436210 vs 0.436209; 8 with --save-conf).

The model process gets an OMP_NUM_THREADS unlike the CLI's count, so the test tells the two
apart on any machine (torch's default differs from the CLI's only on some)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.mark.skipif(not (DEMO / "shapes.torchscript").is_file(), reason="demo not present")
def test_window_export_with_its_model_process_equals_cli_label(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from cli.main import main
    from engine.forward_process import ForwardProcess
    from gui.export_dialog import ExportChoice
    from gui.main_window import MainWindow
    from gui.settings import Settings

    monkeypatch.setenv("SCRIPTLENS_DATA_DIR", str(tmp_path / "data"))
    cpus = os.cpu_count() or 1
    monkeypatch.setenv("OMP_NUM_THREADS", str(max(1, cpus // min(4, cpus)) + 1))  # torch's default there
    process = ForwardProcess()
    w = MainWindow(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)), model_process=process)
    qtbot.addWidget(w)
    try:
        w.show()
        w.open_folder(DEMO / "images")
        w.open_model(DEMO / "shapes.torchscript")
        qtbot.waitUntil(lambda: w.first_detections_shown, timeout=120000)
        profile = tmp_path / "profile.json"
        w.save_profile(profile)  # the window's thresholds, for the CLI
        gui_out = tmp_path / "gui"
        w.last_export_summary = None
        w.export(ExportChoice(whole_folder=True, out_dir=gui_out, save_conf=True))
        qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=120000)
    finally:
        w.close()
        process.close()

    cli_out = tmp_path / "cli"
    assert main(["label", "--model", str(DEMO / "shapes.torchscript"), "--images", str(DEMO / "images"),
                 "--out", str(cli_out), "--save-conf", "--thresholds", str(profile)]) == 0
    names = sorted(p.name for p in gui_out.glob("*.txt"))
    assert len(names) == 31 and names == sorted(p.name for p in cli_out.glob("*.txt"))  # 30 labels + classes.txt
    differ = [n for n in names if (gui_out / n).read_bytes() != (cli_out / n).read_bytes()]
    assert differ == []
    gui_m = json.loads((gui_out / "scriptlens_manifest.json").read_text())
    assert gui_m["thresholds"] == json.loads((cli_out / "scriptlens_manifest.json").read_text())["thresholds"]
