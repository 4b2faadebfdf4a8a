"""The model process (engine/forward_process.py, engine/forward_server.py): the window loads
models in a child so torch imports on the other core and a crashing model cannot take the
window down. The same models must give the same detections and the same messages as
in-process loading."""

from __future__ import annotations

import io
import dataclasses
import os
import signal
import time
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import model_factory as mf
from engine.errors import ModelLoadError, ModelRunError, UnsupportedOutputError
from engine.forward_process import ForwardProcess
from engine.forward_protocol import ProtocolError, read_message, write_message
from engine.pipeline import Detector
from engine.thresholds import Thresholds, apply_thresholds

BOXES = [(100.0, 100.0, 50.0, 40.0, 0, 0.9), (200.0, 200.0, 60.0, 60.0, 1, 0.6), (250.0, 80.0, 30.0, 30.0, 2, 0.35)]
DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


# ------------------------------------------------------------------ the wire format

def test_messages_round_trip_every_dtype_and_shape():
    rng = np.random.default_rng(0)
    arrays = [
        rng.random((2, 3, 5, 4), dtype=np.float32),
        rng.random((7, 3)).astype(np.float16),
        np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2],  # not contiguous
        np.zeros((0, 6), np.float32),  # empty: no bytes on the wire
        rng.integers(0, 255, (4, 4, 3), dtype=np.uint8),
        np.array([True, False]),
    ]
    stream = io.BytesIO()
    write_message(stream, {"op": "x", "note": "é"}, arrays)
    write_message(stream, {"op": "y"})
    stream.seek(0)
    header, got = read_message(stream)
    assert header == {"op": "x", "note": "é"}
    assert [a.dtype for a in got] == [a.dtype for a in arrays]
    for a, b in zip(arrays, got):
        np.testing.assert_array_equal(a, b)
    assert read_message(stream) == ({"op": "y"}, [])
    assert read_message(stream) is None  # closed between messages


def test_a_broken_stream_is_an_error_not_a_hang_or_garbage():
    stream = io.BytesIO()
    write_message(stream, {"op": "x"}, [np.ones((10, 10), np.float32)])
    whole = stream.getvalue()
    with pytest.raises(EOFError):  # cut inside the array
        read_message(io.BytesIO(whole[:-7]))
    with pytest.raises(ProtocolError):  # a dtype that is not plain numbers (no pickled objects)
        bad = b'{"arrays": [{"dtype": "object", "shape": [1]}]}'
        read_message(io.BytesIO(len(bad).to_bytes(4, "little") + bad))
    with pytest.raises(ProtocolError):
        read_message(io.BytesIO((1 << 30).to_bytes(4, "little")))
    with pytest.raises(ProtocolError):  # an absurd size is refused before any allocation
        huge = b'{"arrays": [{"dtype": "float32", "shape": [1000000, 1000000]}]}'
        read_message(io.BytesIO(len(huge).to_bytes(4, "little") + huge))
    with pytest.raises(ProtocolError):
        write_message(io.BytesIO(), {}, [np.array([object()])])


@pytest.mark.skipif(os.name != "posix", reason="shared memory is passed by descriptor on POSIX only")
def test_arena_round_trip_growth_and_bad_specs():
    from engine.forward_process import anonymous_fd
    from engine.shared_arena import Arena

    fd = anonymous_fd()
    writer, reader = Arena(fd), Arena(os.dup(fd))  # two mappings of one file, as in two processes
    try:
        small = [np.arange(10, dtype=np.float32), np.ones((2, 3), np.uint8)]
        spec = writer.write(small)
        got = reader.read(spec, copy=True)
        for a, b in zip(small, got):
            np.testing.assert_array_equal(a, b)
        big = [np.random.default_rng(0).random((3, 640, 640), dtype=np.float32), np.zeros((0, 4), np.float32)]
        spec2 = writer.write(big)  # grows the file; the reader remaps to the announced size
        assert spec2["size"] > spec["size"]
        view = reader.read(spec2, copy=False)
        np.testing.assert_array_equal(view[0], big[0])
        assert view[1].shape == (0, 4)
        copied = reader.read(spec2, copy=True)[0]
        writer.write([np.full((3, 640, 640), 7, np.float32)])  # views follow the writer, copies do not
        assert view[0][0, 0, 0] == 7 and copied[0, 0, 0] == big[0][0, 0, 0]
        with pytest.raises(ProtocolError):  # bigger than the file
            reader.read({"size": spec2["size"] * 4, "arrays": []}, copy=True)
        with pytest.raises(ProtocolError):  # runs past the end
            reader.read({"size": spec2["size"], "arrays": [{"dtype": "float32", "shape": [10**9], "offset": 0}]}, copy=True)
        with pytest.raises(ProtocolError):
            reader.read({"size": spec2["size"], "arrays": [{"dtype": "object", "shape": [1], "offset": 0}]}, copy=True)
    finally:
        del view
        writer.close()
        reader.close()


# ------------------------------------------------------------------ one model process for the module

@pytest.fixture(scope="module")
def process():
    proc = ForwardProcess()
    proc.start()
    yield proc
    proc.close()
    assert not proc.is_running()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.mktemp("remote_models")


def both(path, process, **kw):
    local = Detector.load(path, device="cpu", **kw)
    remote = Detector.load(path, device="cpu", host=process, **kw)
    return local, remote


def assert_same_candidates(a, b):
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.class_id, b.class_id)
    assert a.geometry == b.geometry


@pytest.mark.parametrize("kind", ["anchor_free", "raw_heads", "end2end"])
def test_remote_detector_matches_in_process(process, models, kind):
    assert process.uses_shared_memory == (os.name == "posix")
    if kind == "anchor_free":
        path = mf.anchor_free(models / "af.torchscript", BOXES, names=["a", "b", "c"])
    elif kind == "raw_heads":
        logits = [0.0, 0.0, 0.5, 0.5, 4.0, 3.0, -3.0]
        path = mf.raw_heads(models / "heads.torchscript", [(0, 1, 3, 2, logits), (1, 2, 5, 7, logits[::-1])], nc=2)
    else:
        path = mf.end2end(models / "e2e.torchscript", [(10, 20, 110, 90, 0.9, 1), (50, 50, 80, 70, 0.4, 2)])
    local, remote = both(path, process)
    # the same backend, chosen the same way; the remote load found the local one's conversion cached
    assert dataclasses.replace(remote.info, sources={}) == dataclasses.replace(local.info, sources={})
    assert remote.info.sources == {**local.info.sources, "backend": "cached conversion, opened without TorchScript"}
    assert remote.backend.device == "cpu" and remote.backend.config_text == local.backend.config_text
    image = np.random.default_rng(1).integers(0, 255, (240, 400, 3), dtype=np.uint8)
    assert_same_candidates(local.predict(image).candidates, remote.predict(image).candidates)


def test_without_shared_memory_the_arrays_travel_in_the_pipe(models):
    path = mf.raw_heads(models / "heads_pipe.torchscript", [(0, 1, 3, 2, [0.0, 0.0, 0.5, 0.5, 4.0, 3.0, -3.0])], nc=2)
    process = ForwardProcess(shared_memory=False)
    try:
        local, remote = both(path, process)
        assert not process.uses_shared_memory
        image = np.random.default_rng(2).integers(0, 255, (300, 200, 3), dtype=np.uint8)
        assert_same_candidates(local.predict(image).candidates, remote.predict(image).candidates)
    finally:
        process.close()


def test_the_demo_model_gives_identical_detections(process):
    if not (DEMO / "shapes.torchscript").is_file():
        pytest.skip("demo model not bundled")
    local, remote = both(DEMO / "shapes.torchscript", process)
    total = 0
    for image_path in sorted((DEMO / "images").iterdir())[:5]:
        a, b = local.predict_path(image_path).candidates, remote.predict_path(image_path).candidates
        # The tests run torch on one thread, the model process on its default count: the
        # convolutions sum in another order, so last-bit differences are expected.
        da, db = apply_thresholds(a, Thresholds()), apply_thresholds(b, Thresholds())
        assert len(da) == len(db)
        total += len(da)
        np.testing.assert_allclose(da.xyxy, db.xyxy, rtol=0, atol=1e-3)
        np.testing.assert_allclose(da.confidence, db.confidence, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(da.class_id, db.class_id)
    assert total > 0


def test_size_probing_works_through_the_process(process, models):
    # no metadata, rejects 640x640: the load probes sizes from torch's shape errors
    path = mf.anchor_free(models / "af80.pt", BOXES, nc=80, meta=None)
    local, remote = both(path, process)
    assert remote.info.input_hw == local.info.input_hw == (320, 320)
    assert "probed" in remote.info.sources["input_hw"]


@pytest.mark.parametrize("build, error", [
    (mf.raising_model, ModelLoadError),
    (mf.nan_model, ModelLoadError),
    (mf.dict_output_model, UnsupportedOutputError),
    (mf.unsupported_tensor_model, UnsupportedOutputError),
])
def test_load_errors_read_the_same_as_in_process(process, models, build, error):
    path = build(models / f"{build.__name__}.torchscript")
    with pytest.raises(error) as local:
        Detector.load(path, device="cpu")
    with pytest.raises(error) as remote:
        Detector.load(path, device="cpu", host=process)
    assert str(remote.value) == str(local.value)
    assert str(path) in str(remote.value)


def test_a_model_that_fails_to_load_leaves_the_previous_one_running(process, models):
    first = Detector.load(mf.anchor_free(models / "keep.torchscript", BOXES, names=["a", "b", "c"]),
                          device="cpu", host=process)
    with pytest.raises(ModelLoadError):  # the window then says "still using keep.torchscript"
        Detector.load(mf.raising_model(models / "broken.torchscript"), device="cpu", host=process)
    image = np.zeros((50, 60, 3), np.uint8)
    assert len(first.predict(image).candidates.score) == 3
    second = Detector.load(mf.anchor_free(models / "next.torchscript", BOXES[:1], names=["a", "b", "c"]),
                           device="cpu", host=process)
    assert len(second.predict(image).candidates.score) == 1
    assert len(first.predict(image).candidates.score) == 3  # each detector runs its own model
    assert sorted(process._live) == sorted([first.backend.model_id, second.backend.model_id])
    first_id = first.backend.model_id
    del first  # the window let go of it: the next request frees it in the child too
    assert len(second.predict(image).candidates.score) == 1
    assert sorted(process._live) == [second.backend.model_id]
    reply, _ = process.request({"op": "forward", "model": first_id}, [np.zeros((1, 3, 320, 320), np.float32)])
    assert not reply["ok"] and "no longer loaded" in reply["message"]


def test_a_failure_on_one_image_keeps_the_model_loaded(process, models):
    path = mf.raises_on_dark_model(models / "dark.torchscript", BOXES)
    det = Detector.load(path, device="cpu", host=process)
    with pytest.raises(ModelRunError, match="failed while running"):
        det.predict(np.zeros((100, 100, 3), np.uint8))
    assert len(det.predict(np.full((100, 100, 3), 200, np.uint8)).candidates.score) == 3


def test_what_a_model_prints_does_not_corrupt_the_replies(process, models):
    class Chatty(torch.nn.Module):
        def forward(self, x):
            print("hello from the model", x.shape)
            return torch.zeros(1, 7, 2100) + x.mean() * 0.0

    path = models / "chatty.torchscript"
    torch.jit.save(torch.jit.script(Chatty()), str(path), _extra_files={"config.txt": '{"imgsz": [320, 320]}'})
    det = Detector.load(path, device="cpu", host=process)
    for _ in range(3):
        assert len(det.predict(np.zeros((50, 60, 3), np.uint8)).candidates.score) == 0
    assert process.is_running()


# ------------------------------------------------------------------ crashes and start-up

def test_a_killed_model_process_is_reported_and_the_next_load_restarts_it(models):
    path = mf.anchor_free(models / "af_kill.torchscript", BOXES, names=["a", "b", "c"])
    proc = ForwardProcess()
    try:
        det = Detector.load(path, device="cpu", host=proc)
        first_pid = proc.pid
        os.kill(first_pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
        with pytest.raises(ModelRunError, match="model process stopped .*Open the model again"):
            det.predict(np.zeros((50, 60, 3), np.uint8))
        assert not proc.is_running()
        again = Detector.load(path, device="cpu", host=proc)
        assert proc.pid != first_pid
        assert len(again.predict(np.zeros((50, 60, 3), np.uint8)).candidates.score) == 3
    finally:
        proc.close()
    assert not proc.is_running()


def test_the_window_process_never_imports_torch(tmp_path):
    if not (DEMO / "shapes.torchscript").is_file():
        pytest.skip("demo model not bundled")
    code = (
        "import sys; from engine.forward_process import prestart; from engine.pipeline import Detector\n"
        "p = prestart()\n"
        f"d = Detector.load({str(DEMO / 'shapes.torchscript')!r}, host=p)\n"
        f"n = len(d.predict_path({str(sorted((DEMO / 'images').iterdir())[0])!r}).candidates.score)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "p.close(); print(n)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 0


def test_interrupt_stops_only_a_busy_process_and_says_so(models):
    import threading

    path = mf.stuck_on_images_model(models / "stuck.torchscript", BOXES)
    proc = ForwardProcess()
    try:
        det = Detector.load(path, device="cpu", host=proc, backend="torchscript")  # the grey warm-up is quick (auto would also run the image-like check input)
        assert proc.busy_for() == 0.0 and not proc.interrupt()  # idle: nothing to stop
        assert proc.is_running()
        errors = []

        def run():
            try:
                det.predict(np.full((60, 80, 3), 30, np.uint8))
            except ModelRunError as exc:
                errors.append(str(exc))

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 30
        while proc.busy_for() < 0.3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.interrupt()
        thread.join(10)
        assert not thread.is_alive()
        assert errors == ["stopped: the model was still running this image when it was interrupted"]
        again = Detector.load(mf.anchor_free(models / "af_after.torchscript", BOXES, names=["a", "b", "c"]),
                              device="cpu", host=proc)
        assert len(again.predict(np.zeros((50, 60, 3), np.uint8)).candidates.score) == 3
    finally:
        proc.close()
