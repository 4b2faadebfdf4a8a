"""`scriptlens gui` wiring (the window itself is replaced by a recorder)."""

from __future__ import annotations

import argparse
from pathlib import Path

import gui.app
from cli import gui_cmd


def test_gui_subcommand_passes_model_and_images(monkeypatch):
    seen = {}
    monkeypatch.setattr(gui.app, "main", lambda model=None, images=None, backend="auto":
                        seen.update(model=model, images=images, backend=backend) or 0)
    parser = argparse.ArgumentParser()
    gui_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gui", "--model", "m.torchscript", "--images", "imgs"])
    assert args.run(args) == 0
    assert seen == {"model": Path("m.torchscript"), "images": Path("imgs"), "backend": "auto"}
    args = parser.parse_args(["gui", "--model", "m.onnx", "--backend", "torchscript"])
    assert args.run(args) == 0
    assert seen == {"model": Path("m.onnx"), "images": None, "backend": "torchscript"}


def test_the_launcher_names_the_first_model_before_parsing():
    """What `scriptlens` tells the model process at once (cli.main.first_model): the demo when
    it runs alone, --model and --backend of `gui`."""
    from cli.main import first_model

    assert first_model([]) == (str(gui.app.demo_paths()[0]), "auto")
    assert first_model(["gui", "--model", "a.onnx", "--backend=torchscript"]) == ("a.onnx", "torchscript")
    assert first_model(["gui"]) == (None, "auto")  # the last model: known only once Qt reads the settings


def test_no_arguments_opens_the_demo(monkeypatch):
    seen = {}
    monkeypatch.setattr(gui.app, "main", lambda model=None, images=None, backend="auto":
                        seen.update(model=model, images=images) or 0)
    monkeypatch.setattr(gui.app, "demo_paths", lambda: (Path("demo.torchscript"), Path("demo/images")))
    assert gui_cmd.run(argparse.Namespace(model=None, images=None, demo=True)) == 0
    assert seen == {"model": Path("demo.torchscript"), "images": Path("demo/images")}


def test_demo_paths_point_into_resources():
    model, images = gui.app.demo_paths()
    for p in (model, images):
        assert p is None or "resources" in p.parts


def test_create_window_shows_first_then_opens_model_and_images(qtbot, tmp_path, tiny_model, image_dir):
    from PySide6.QtCore import QSettings

    from gui.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    window = gui.app.create_window(tiny_model, image_dir, settings)
    qtbot.addWidget(window)
    assert window.isVisible() and window.model_id == 0  # shown before anything loads
    qtbot.waitUntil(lambda: window.first_detections_shown, timeout=60000)
    assert window.current_path.parent == image_dir
    window.close()
