"""A `.onnx` written by Ultralytics' own exporter (issue 21's acceptance): `info`, `label`,
`eval` and the window open it with the names and input size the file carries, on ONNX Runtime,
without torch in the way. The file is made in the test-only Ultralytics venv (conftest.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXPORT = Path(__file__).with_name("export_onnx.py")
DEMO_IMAGES = REPO / "resources" / "demo" / "images"
NAMES = ["circle", "rectangle", "triangle"]


@pytest.fixture(scope="module")
def exports(ultralytics_python, tmp_path_factory) -> dict[str, Path]:
    """A static 320 export and a dynamic-axis one."""
    made = {}
    for kind, flags in (("static", []), ("dynamic", ["--dynamic"])):
        out = tmp_path_factory.mktemp(f"onnx_{kind}")
        env = {"PATH": "/usr/bin:/bin", "HOME": str(out), "YOLO_CONFIG_DIR": str(out / "cfg"), "YOLO_OFFLINE": "1",
               "YOLO_AUTOINSTALL": "False"}
        done = subprocess.run([str(ultralytics_python), str(EXPORT), str(out), "320", *flags], capture_output=True,
                              encoding="utf-8", errors="replace", timeout=600, env=env, cwd=out)
        assert done.returncode == 0, done.stderr[-3000:]
        made[kind] = Path(done.stdout.strip().splitlines()[-1])
        assert made[kind].suffix == ".onnx" and made[kind].is_file()
    return made


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_an_ultralytics_onnx_export_opens_in_info_label_and_eval(exports, kind, tmp_path, capsys):
    onnx = exports[kind]
    capsys.readouterr()
    assert main(["info", str(onnx), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["names"] == NAMES and info["input_hw"] == [320, 320] and info["layout"] == "anchor_free"
    assert info["sources"]["names"] == "metadata" and info["sources"]["input_hw"] == "metadata"
    assert info["backend"] == "onnxruntime" and info["metadata"]["args"]["dynamic"] is (kind == "dynamic")

    out = tmp_path / "labels"
    assert main(["label", "--model", str(onnx), "--images", str(DEMO_IMAGES), "--out", str(out), "--conf", "0.001"]) == 0
    assert (out / "classes.txt").read_text().split() == NAMES
    assert len(list(out.glob("*.txt"))) == len(list(DEMO_IMAGES.iterdir())) + 1  # one per image, and classes.txt
    capsys.readouterr()
    assert main(["eval", "--model", str(onnx), "--images", str(DEMO_IMAGES), "--labels", str(REPO / "resources" / "demo" / "labels")]) == 0
    assert "backend: onnxruntime (ONNX file, run by ONNX Runtime)" in capsys.readouterr().out


def test_an_ultralytics_onnx_export_opens_in_the_window(exports, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from gui.settings import Settings

    w = MainWindow(Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w)
    w.show()
    w.open_folder(DEMO_IMAGES)
    w.open_model(exports["dynamic"])
    qtbot.waitUntil(lambda: w.first_detections_shown, timeout=60000)
    assert w.session.model_info.names == tuple(NAMES) and w.session.model_info.input_hw == (320, 320)
    assert w.side_panel.model_info_text("Runs on") == "ONNX Runtime"
    assert w.side_panel.model_info_text("Input").startswith("320×320")
    w.close()
