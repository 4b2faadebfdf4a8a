"""`ScriptLens --self-test [--reference DIR]`: does this copy of the app compute what the
pip-installed engine computes? Exit 0 when everything matches, 1 on any difference.

0. The command line runs without Qt, as the pip install's does (PyInstaller's own PySide6 hook
   imported Qt in every process, which slowed torch's imports: packaging/rthook_qt_paths.py).
1. The window's model process: started the way the window starts it (`engine.forward_process`,
   in the frozen app the executable itself), it loads the bundled demo model and runs one
   forward pass, which must match the same pass run in this process.
2. For each backend the reference has (``torchscript``, ``onnxruntime``): `ScriptLens label` (the
   CLI's own code, `cli.main`) on the bundled demo images into a temporary folder, compared file
   by file, byte for byte, with the reference: same file names, same bytes. The run manifest is
   left out of the comparison (it holds paths and times), and so is data.yaml: it names the
   folder Ultralytics finds the images in (engine.training_layout), which is wherever the demo
   is installed, not where the reference was written. The ONNX conversion is made afresh
   in a temporary cache, so the check covers torch's exporter, onnx and ONNX Runtime in the bundle.

The default reference is the one tools/build_app.py wrote with the pip-installed engine at
build time (``resources/selftest_reference`` in the bundle). CI passes ``--reference`` with
labels it wrote itself through the pip-installed ``scriptlens`` (tools/check_bundle.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

BUNDLE_ROOT = Path(__file__).resolve().parents[1]
NOT_COMPARED = {"scriptlens_manifest.json", "data.yaml"}


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in NOT_COMPARED}


def differences(expected: Path, actual: Path, limit: int = 5) -> list[str]:
    """One line per difference between two label folders (at most `limit`, then a count)."""
    want, got = tree(expected), tree(actual)
    lines = [f"missing {name}" for name in sorted(want.keys() - got.keys())]
    lines += [f"unexpected {name}" for name in sorted(got.keys() - want.keys())]
    for name in sorted(want.keys() & got.keys()):
        if want[name] != got[name]:
            a, b = want[name].decode(errors="replace").splitlines(), got[name].decode(errors="replace").splitlines()
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            lines.append(f"{name} line {first + 1}: expected {a[first] if first < len(a) else '<end>'!r}, "
                         f"got {b[first] if first < len(b) else '<end>'!r}")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def check_model_process(model: Path) -> str | None:
    """None when the model process answers like the in-process model, else why not."""
    import numpy as np

    from engine.backend import TorchScriptBackend
    from engine.decode import normalize_output
    from engine.forward_process import ForwardProcess

    x = np.full((1, 3, 512, 512), 0.5, np.float32)  # the demo model's input size (resources/demo/README.md)
    local_backend = TorchScriptBackend.load(model, device="cpu")
    process = ForwardProcess()
    try:
        process.start()
        remote = process.load_backend(model, device="cpu").forward(x)
    except Exception as exc:  # any failure is the finding
        return f"the model process failed: {type(exc).__name__}: {exc}"
    finally:
        process.close()
    local = normalize_output(local_backend.forward(x))
    remote, local = (r if isinstance(r, list) else [r] for r in (remote, local))
    if len(remote) != len(local) or any(a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-4)
                                        for a, b in zip(remote, local)):
        return "the model process's output differs from the same model run in this process"
    return None


def qt_modules() -> list[str]:
    """The Qt modules this process has imported (the command line should have none)."""
    return sorted(name for name in sys.modules if name.split(".")[0] in ("PySide6", "shiboken6"))


def run_label(model: Path, images: Path, out: Path, backend: str) -> int:
    from cli.main import main as cli_main

    with contextlib.redirect_stdout(io.StringIO()):  # the label summary: not what this test reports
        return cli_main(["label", "--model", str(model), "--images", str(images), "--out", str(out), "--backend", backend])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--window" in argv:  # the window's checks: cli/window_self_test.py
        from cli.window_self_test import main as window_self_test

        return window_self_test([arg for arg in argv if arg != "--window"])
    ap = argparse.ArgumentParser(prog="ScriptLens --self-test", description=__doc__.split("\n\n")[0],
                                 epilog="--self-test --window [--shots DIR]: the window's checks instead (needs a display)")
    ap.add_argument("--reference", type=Path, default=BUNDLE_ROOT / "resources" / "selftest_reference",
                    help="folder with one sub-folder of reference labels per backend")
    args = ap.parse_args(argv)
    demo = BUNDLE_ROOT / "resources" / "demo"
    model, images = demo / "shapes.torchscript", demo / "images"
    problems: list[str] = []
    if not model.is_file() or not images.is_dir():
        print(f"self-test: FAILED: the bundled demo is missing ({model} / {images})", file=sys.stderr)
        return 1
    backends = [b for b in ("torchscript", "onnxruntime") if (args.reference / b).is_dir()]
    if not backends:
        print(f"self-test: FAILED: no reference labels in {args.reference}", file=sys.stderr)
        return 1
    qt = qt_modules()
    print(f"self-test: command line without Qt: {'no: ' + ', '.join(qt[:3]) if qt else 'ok'}")
    if qt:  # as the pip install: Qt is the window's; imported here it slows every later import
        problems.append(f"the command line imported Qt ({', '.join(qt[:3])})")
    problem = check_model_process(model)
    print(f"self-test: model process: {problem or 'ok'}")
    if problem:
        problems.append(problem)
    with tempfile.TemporaryDirectory(prefix="scriptlens-selftest-") as tmp:
        os.environ["SCRIPTLENS_CACHE_DIR"] = str(Path(tmp, "cache"))  # a fresh ONNX conversion
        for backend in backends:
            out = Path(tmp, backend)
            rc = run_label(model, images, out, backend)
            found = [f"label exited {rc}"] if rc else differences(args.reference / backend, out)
            n = len(tree(args.reference / backend))
            print(f"self-test: label --backend {backend}: " + ("; ".join(found) if found else f"{n} files identical to the reference"))
            problems += found
    print("self-test: " + ("FAILED" if problems else "passed"), file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0
