"""Metadata parsing: what the exporters write, and garbage that must never break a load."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import metadata as meta


def facts(cfg: dict) -> meta.MetaFacts:
    f = meta.MetaFacts()
    meta.facts_from_config(cfg, f)
    return f


def test_ultralytics_config():
    f = facts({"stride": 32, "task": "detect", "batch": 1, "imgsz": [384, 640], "names": {"0": "a", "2": "c"},
               "args": {"nms": False}, "end2end": False})
    assert (f.imgsz, f.stride, f.batch, f.end2end, f.nms_in_model) == ((384, 640), 32, 1, False, False)
    assert f.names == ("a", "class1", "c")
    assert facts({"args": {"nms": True}}).nms_in_model and facts({"end2end": True}).nms_in_model


def test_yolov5_config():
    f = facts({"shape": [2, 3, 320, 416], "stride": 32, "names": ["x", "y"]})
    assert (f.imgsz, f.batch, f.names) == ((320, 416), 2, ("x", "y"))


@pytest.mark.parametrize("value, expected", [(640, (640, 640)), ([480, 640], (480, 640)), ([320], (320, 320)),
                                             (0.5, None), ([0.5, 640], None), (True, None), ("640", None), ([1, 2, 3], None)])
def test_parse_imgsz(value, expected):
    assert meta.parse_imgsz(value) == expected


@pytest.mark.parametrize("value, expected", [(32, 32), ([8, 16, 32], 32), ([8.0, None, "x"], 8), ([None, None], None), ([], None), (True, None)])
def test_parse_stride(value, expected):
    assert meta.parse_stride(value) == expected


def test_names_are_sanitised():
    assert meta.parse_names(["a/b", "<script>", "tab\there", "  "]) == ("a_b", "_script_", "tabhere", "?")


def test_invalid_config_text_is_ignored():
    assert meta.parse_config("not json") == {}
    assert meta.parse_config(b"[1, 2]") == {}
    assert meta.parse_config(json.dumps({"a": 1}).encode()) == {"a": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=4), c, max_size=5),
    max_leaves=20,
)
config_keys = st.sampled_from(["names", "imgsz", "shape", "stride", "anchors", "batch", "end2end", "args", "nc", "task"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(config_keys, json_values, max_size=8))
def test_garbage_config_never_raises(cfg):
    f = facts(cfg)
    if f.imgsz is not None:
        assert min(f.imgsz) >= 1
    if f.stride is not None:
        assert f.stride >= 1
    if f.names is not None:
        assert all(isinstance(n, str) for n in f.names)


@pytest.fixture(scope="module")
def side_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("side")


@settings(max_examples=40, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["names", "nc", "anchors", "imgsz"]), json_values, max_size=4))
def test_garbage_sidecar_never_raises(side_dir, data):
    import yaml

    d = side_dir
    (d / "m.yaml").write_text(yaml.safe_dump(data))
    f = meta.MetaFacts()
    meta.facts_from_sidecars(d / "m.torchscript", f)
    if f.imgsz is not None:
        assert min(f.imgsz) >= 1


def test_model_yaml_with_nc_only_gives_default_names(tmp_path):
    # yolov5s.yaml beside yolov5s.torchscript: nc + anchors, no names
    (tmp_path / "yolov5s.yaml").write_text("nc: 80\nanchors:\n  - [10,13, 16,30, 33,23]\n  - [30,61, 62,45, 59,119]\n  - [116,90, 156,198, 373,326]\n")
    f = meta.MetaFacts()
    meta.facts_from_sidecars(tmp_path / "yolov5s.torchscript", f)
    assert f.names == meta.COCO_NAMES
    assert f.anchors[2] == (116, 90, 156, 198, 373, 326)
    (tmp_path / "yolov5s.yaml").write_text("nc: 3\n")
    f = meta.MetaFacts()
    meta.facts_from_sidecars(tmp_path / "yolov5s.torchscript", f)
    assert f.names == ("class0", "class1", "class2")


def test_sidecar_precedence(tmp_path):
    (tmp_path / "classes.txt").write_text("c1\nc2\n")
    (tmp_path / "data.yaml").write_text("names: [d1, d2]\n")
    f = meta.MetaFacts()
    meta.facts_from_sidecars(tmp_path / "m.pt", f)
    assert f.names == ("d1", "d2") and f.sources["names"] == "sidecar data.yaml"
    (tmp_path / "m.yaml").write_text("names: {0: m1, 1: m2}\n")
    f = meta.MetaFacts()
    meta.facts_from_sidecars(tmp_path / "m.pt", f)
    assert f.names == ("m1", "m2") and f.sources["names"] == "sidecar m.yaml"


@pytest.mark.parametrize("where", ["data.yaml", "classes.txt", "metadata"])
def test_model_yaml_nc_does_not_replace_real_names(tmp_path, where):
    (tmp_path / "yolov5s.yaml").write_text("nc: 2\nanchors: [[1,2, 3,4, 5,6], [1,2, 3,4, 5,6], [1,2, 3,4, 5,6]]\n")
    f = meta.MetaFacts()
    if where == "metadata":
        meta.facts_from_config({"names": {"0": "real0", "1": "real1"}}, f)
    elif where == "data.yaml":
        (tmp_path / "data.yaml").write_text("names: [real0, real1]\n")
    else:
        (tmp_path / "classes.txt").write_text("real0\nreal1\n")
    meta.facts_from_sidecars(tmp_path / "yolov5s.torchscript", f)
    assert f.names == ("real0", "real1")
    assert f.anchors is not None
