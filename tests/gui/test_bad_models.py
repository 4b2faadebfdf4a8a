"""Issue 7 in the window: every kind of unusable model file gets one readable message, and
the app stays usable (a good model opens right after)."""

from __future__ import annotations

import pytest

import model_factory as mf

BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9)]

BAD_MODELS = {
    "checkpoint": lambda p: mf.training_checkpoint(p),
    "state_dict": lambda p: mf.state_dict_file(p),
    "empty": lambda p: mf.empty_file(p),
    "random_zip": lambda p: mf.random_zip(p),
    "text": lambda p: mf.text_file(p),
    "unsupported_output": lambda p: mf.unsupported_tensor_model(p),
    "dict_output": lambda p: mf.dict_output_model(p),
    "raises_in_forward": lambda p: mf.raising_model(p),
    "other_input_size": lambda p: mf.anchor_free(p, BOXES, hw=(256, 256), meta=mf.ultralytics_meta(["a", "b", "c"], hw=(320, 320))),
    "all_nan": lambda p: mf.nan_model(p),
}


@pytest.mark.parametrize("kind", sorted(BAD_MODELS))
def test_bad_model_shows_one_message_and_app_stays_usable(window, qtbot, tmp_path, tiny_model, image_dir, kind):
    bad = BAD_MODELS[kind](tmp_path / f"{kind}.torchscript")
    window.open_folder(image_dir)
    window.open_model(bad)
    qtbot.waitUntil(lambda: bad.name in window.banner.text(), timeout=60000)
    message = window.banner.text()
    assert "Traceback" not in message and len(message.splitlines()) <= 2
    assert window.model_id == 0
    window.open_model(tiny_model)
    qtbot.waitUntil(lambda: window.model_id != 0 and window.first_detections_shown, timeout=60000)
