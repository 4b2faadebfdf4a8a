"""`scriptlens eval` end to end on a few freshly generated shapes images and the demo model.

Small on purpose (4 images, < 20 s on 2 CPU cores): the full 300-image acceptance numbers
are measured by the command in resources/demo/README.md, not here.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from cli.main import main
from tools.make_shapes import write_dataset

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
DECODED = DEMO / "shapes.torchscript"
RAW = DEMO / "shapes_raw.torchscript"
SEED = 4242  # not a training/validation/demo seed (see resources/demo/README.md)

pytestmark = pytest.mark.skipif(not DECODED.is_file() or not RAW.is_file(), reason="demo model not built")


@pytest.fixture(scope="module")
def shapes_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_dataset(root, count=4, seed=SEED)
    (root / "no_labels").mkdir()
    return root


def _eval(model: Path, images: Path, labels: Path) -> tuple[dict, str]:
    """Run the CLI once; return (its JSON report, its stdout)."""
    out = labels.parent / f"{model.stem}_{labels.name}.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["eval", "--model", str(model), "--images", str(images), "--labels", str(labels),
                   "--device", "cpu", "--json", str(out)])
    assert rc == 0
    return json.loads(out.read_text()), buf.getvalue()


@pytest.fixture(scope="module")
def decoded_run(shapes_set):
    return _eval(DECODED, shapes_set / "images", shapes_set / "labels")


def test_eval_prints_table_and_writes_json(shapes_set, decoded_run):
    result, table = decoded_run
    for word in ("circle", "rectangle", "triangle", "all", "mAP50-95"):
        assert word in table
    assert result["images"] == 4
    n_labels = sum(len(p.read_text().splitlines()) for p in (shapes_set / "labels").glob("*.txt"))
    assert result["all"]["gt"] == n_labels
    assert [c["name"] for c in result["classes"]] == ["circle", "rectangle", "triangle"]
    # the demo model on images from its own generator: far above chance
    assert result["all"]["map50"] > 0.6
    assert 0.0 < result["all"]["map50_95"] <= result["all"]["map50"]


def test_raw_and_decoded_exports_score_identically(shapes_set, decoded_run):
    raw, _ = _eval(RAW, shapes_set / "images", shapes_set / "labels")
    assert raw["classes"] == decoded_run[0]["classes"]
    assert raw["all"] == decoded_run[0]["all"]


def test_missing_labels_count_as_negatives(shapes_set, decoded_run):
    neg, text = _eval(DECODED, shapes_set / "images", shapes_set / "no_labels")
    assert "4 images had no label file" in text
    assert neg["all"]["gt"] == 0 and neg["all"]["map50"] is None
    # every detection at conf 0.25 is now a false positive
    result = decoded_run[0]["all"]
    assert neg["all"]["fp"] == result["tp"] + result["fp"]


def test_missing_folder_is_an_error(tmp_path, capsys):
    rc = main(["eval", "--model", str(DECODED), "--images", str(tmp_path / "nope"), "--labels", str(tmp_path)])
    assert rc == 1
    assert "--images not found" in capsys.readouterr().err
