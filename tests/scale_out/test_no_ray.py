"""Without the ray extra, `--ray` says how to install it; and nothing imports Ray unless asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scale_out.folders import DEMO, DEMO_MODEL

ROOT = Path(__file__).resolve().parents[2]


def run_label(tmp_path: Path, *extra: str, block_ray: bool, out: str | None = None) -> subprocess.CompletedProcess:
    """`scriptlens label` in a fresh interpreter; `block_ray`: Ray (and pyarrow) cannot be imported there
    (sys.modules[name] = None is how Python marks a module as not importable), as without the extra."""
    code = ("import sys\n"
            + ("sys.modules['ray'] = sys.modules['pyarrow'] = None\n" if block_ray else "")
            + "from cli.main import main\n"
            "rc = main(sys.argv[1:])\n"
            "print('RAY_IMPORTED' if any(m == 'ray' or m.startswith('ray.') for m in sys.modules if sys.modules[m]) else 'NO_RAY')\n"
            "sys.exit(rc)\n")
    one = sorted((DEMO / "images").iterdir())[0]
    return subprocess.run([sys.executable, "-c", code, "label", "--model", str(DEMO_MODEL), "--images", str(one),
                           "--out", out or str(tmp_path / "out"), "--device", "cpu", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ray_without_the_extra_says_how_to_install(tmp_path):
    proc = run_label(tmp_path, "--ray", "auto", block_ray=True)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and 'pip install -e ".[ray]"' in lines[0]
    assert not (tmp_path / "out").exists()  # refused before the model loaded or anything was written


def test_label_without_ray_flag_never_imports_ray(tmp_path):
    proc = run_label(tmp_path, block_ray=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "NO_RAY"
    assert (tmp_path / "out" / "classes.txt").exists()


def test_actors_without_ray_is_a_usage_error(tmp_path):
    proc = run_label(tmp_path, "--actors", "2", block_ray=False)
    assert proc.returncode == 2 and "--actors needs --ray" in proc.stderr


def test_s3_out_without_the_extra_says_how_to_install(tmp_path):
    """--out s3:// needs pyarrow (the ray extra brings it): one line, exit 2, nothing loaded."""
    proc = run_label(tmp_path, block_ray=True, out="s3://bucket/labels")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == ['error: s3:// paths need pyarrow, which the ray extra installs: '
                                                'pip install -e ".[ray]"']
    assert "thresholds:" not in proc.stdout
