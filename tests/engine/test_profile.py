"""Per-class confidence profiles: stored by class NAME, strict on load."""

from __future__ import annotations

import json

import pytest

from engine.errors import ScriptLensError
from engine.profile import load_profile, save_profile

NAMES = ("circle", "rectangle", "triangle")


def test_round_trip_by_name(tmp_path):
    p = tmp_path / "t.json"
    save_profile(p, NAMES, {2: 0.61234, 0: 0.4}, conf=0.3, iou=0.5)
    data = json.loads(p.read_text())
    assert data == {"class_conf": {"circle": 0.4, "triangle": 0.6123}, "conf": 0.3, "iou": 0.5}
    assert load_profile(p, NAMES) == {0: 0.4, 2: 0.6123}
    # ids follow the names when a retrained model orders its classes differently
    assert load_profile(p, ("triangle", "square", "circle")) == {2: 0.4, 0: 0.6123}


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json", "cannot read"),
        ("[1, 2]", "not a thresholds profile"),
        ('{"class_conf": [1]}', "not a thresholds profile"),
        ('{"class_conf": {"hexagon": 0.5}}', "hexagon"),
        ('{"class_conf": {"circle": 1.5}}', "[0, 1]"),
        ('{"class_conf": {"circle": "high"}}', "[0, 1]"),
    ],
)
def test_bad_profiles(tmp_path, content, words):
    p = tmp_path / "t.json"
    p.write_text(content)
    with pytest.raises(ScriptLensError) as info:
        load_profile(p, NAMES)
    assert words in str(info.value)


def test_missing_profile(tmp_path):
    with pytest.raises(ScriptLensError, match="cannot read"):
        load_profile(tmp_path / "nope.json", NAMES)
