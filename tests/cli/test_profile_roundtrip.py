"""Per-class thresholds: a profile saved by the GUI's threshold panel, given to
`scriptlens label --thresholds`, gives the very label files the GUI exports (demo model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.mark.skipif(not (DEMO / "shapes.torchscript").is_file(), reason="demo not present")
def test_gui_profile_through_cli_label_equals_gui_export(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from cli.main import main
    from gui.export_dialog import ExportChoice
    from gui.main_window import MainWindow
    from gui.settings import Settings

    monkeypatch.setenv("SCRIPTLENS_DATA_DIR", str(tmp_path / "data"))
    w = MainWindow(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w)
    w.show()
    w.side_panel.conf_slider.setValue(0.3)
    w.side_panel.iou_slider.setValue(0.5)
    w.open_folder(DEMO / "images")
    w.open_model(DEMO / "shapes.torchscript")
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=120000)
    w.threshold_panel.set_class_conf({0: 0.6, 2: 0.15})  # circle stricter, triangle laxer
    profile = tmp_path / "shapes_profile.json"
    w.save_profile(profile)  # what the panel's Save profile… button writes
    saved = json.loads(profile.read_text())
    assert {k: saved[k] for k in ("class_conf", "conf", "iou")} == {"class_conf": {"circle": 0.6, "triangle": 0.15},
                                                                  "conf": 0.3, "iou": 0.5}

    gui_out = tmp_path / "gui"
    w.last_export_summary = None
    w.export(ExportChoice(whole_folder=True, out_dir=gui_out, save_conf=True))
    qtbot.waitUntil(lambda: w.last_export_summary is not None, timeout=120000)
    w.close()

    cli_out = tmp_path / "cli"
    assert main(["label", "--model", str(DEMO / "shapes.torchscript"), "--images", str(DEMO / "images"),
                 "--out", str(cli_out), "--save-conf", "--thresholds", str(profile)]) == 0  # conf, iou from it
    names = sorted(p.name for p in gui_out.glob("*.txt") if p.name != "classes.txt")
    assert len(names) == 30
    assert names == sorted(p.name for p in cli_out.glob("*.txt") if p.name != "classes.txt")
    lines = 0
    for name in names:
        gui_text = (gui_out / name).read_text()
        assert gui_text == (cli_out / name).read_text(), name
        for line in gui_text.splitlines():  # the per-class thresholds really applied
            cls, conf = int(line.split()[0]), float(line.split()[5])
            assert conf > {0: 0.6, 1: 0.3, 2: 0.15}[cls]
            lines += 1
    assert lines > 0
    gui_m = json.loads((gui_out / "scriptlens_manifest.json").read_text())
    cli_m = json.loads((cli_out / "scriptlens_manifest.json").read_text())
    assert gui_m["thresholds"] == cli_m["thresholds"]
    assert gui_m["model"]["sha256"] == cli_m["model"]["sha256"] and gui_m["nms"] == cli_m["nms"]
