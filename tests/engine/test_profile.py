"""Thresholds profiles: stored by class NAME, strict on load; one reader (`read_profile`) for
the window and `label --thresholds`."""

from __future__ import annotations

import json

import pytest

from engine.errors import ScriptLensError
from engine.profile import Profile, class_index, load_profile, read_profile, save_profile

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
        # JSON true is not a threshold (bool is an int in Python), nor NaN
        ('{"class_conf": {"circle": true}}', "got true"),
        ('{"conf": true}', "conf must be a number in [0, 1], got true"),
        ('{"iou": NaN}', "iou must be a number in [0, 1], got NaN"),
        ('{"conf": 1.5}', "conf must be a number in [0, 1]"),
        ('{"max_det": 0}', "max_det must be a whole number of at least 1"),
        ('{"max_det": true}', "max_det"),
        ('{"agnostic": 1}', "agnostic must be true or false"),
        ('{"class_conf": null}', "not a thresholds profile"),
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


def test_read_profile_holds_everything_saved(tmp_path):
    p = tmp_path / "t.json"
    save_profile(p, NAMES, {2: 0.6}, conf=0.5, iou=0.6, agnostic=True, max_det=50)
    assert read_profile(p) == Profile(conf=0.5, iou=0.6, class_conf={"triangle": 0.6}, agnostic=True, max_det=50, source=str(p))
    assert read_profile(p).class_conf_ids(NAMES) == {2: 0.6}


def test_an_old_profile_holds_only_class_conf(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('{"class_conf": {"circle": 0.4}}')
    profile = read_profile(p)
    assert (profile.conf, profile.iou, profile.agnostic, profile.max_det) == (None, None, None, None)
    assert profile.class_conf_ids(NAMES) == {0: 0.4}


def test_class_names_match_regardless_of_case_exact_first(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('{"class_conf": {"Circle": 0.4, "TRIANGLE": 0.6}}')
    assert load_profile(p, NAMES) == {0: 0.4, 2: 0.6}  # as `--classes` matches names
    assert class_index("cat", ("Cat", "cat")) == 1 and class_index("Cat", ("Cat", "cat")) == 0
    with pytest.raises(ScriptLensError, match="ambiguous"):
        class_index("CAT", ("Cat", "cat"))
    assert class_index("dog", ("Cat", "cat")) is None


def test_one_class_twice_is_an_error(tmp_path):
    p = tmp_path / "t.json"
    p.write_text('{"class_conf": {"circle": 0.4, "Circle": 0.6}}')
    with pytest.raises(ScriptLensError, match="twice"):
        load_profile(p, NAMES)
