"""Build the double-click app: `python -m tools.build_app --out DIR` (needs `pip install -e ".[build]"`).

Makes ``DIR/ScriptLens/`` (one folder: a one-file build unpacks ~1 GB into a temp folder on
every launch) with the executable ``DIR/ScriptLens/ScriptLens``, and
``DIR/ScriptLens-<version>-<os>-<arch>.tar.xz`` (``.zip`` on Windows, ``.tar.gz`` on macOS).

Steps, each for a reason:
1. Reference labels for ``ScriptLens --self-test``, written by THIS environment's pip-installed
   engine (``python -m cli label``, both backends) into the bundle: a user without Python can then
   check their copy, and a bundle that labels differently from the pip install fails its own test.
   CI additionally passes a reference it wrote itself (tools/check_bundle.py), so a wrong
   build-time reference cannot hide a wrong bundle.
2. PyInstaller with packaging/ScriptLens.spec, minus what the app never uses (DROP_PATTERNS,
   EXCLUDE_MODULES: each says why).
3. The list of shared libraries the window needs from the system (the bundle's xcb plugin
   resolved with ``ldd``), with their Debian packages, for cli/display_check.py's one-line
   message before Qt starts.
4. Checks that the files the app cannot run without are in (a build that silently lost one
   fails here, not on a user's machine), sizes, then the archive.

Archive (``archive_suffix``): on Linux ``.tar.xz``, xz preset 6, packed by the ``xz`` tool on
every core (Python's lzma module, one core, where there is no ``xz``). Why xz and not gzip: the
download is the one thing every user pays, and it is where the size target sits. Measured on
this build (907 MB folder): gzip -6 336 MB in 36 s, xz -2 266 MB in 63 s, xz -6 241 MB in
193 s (2 cores); unpacking costs about the same (xz 5.4 s, gzip 4.7 s). Every Linux archive
manager opens .tar.xz, and ``tar xf`` does wherever xz-utils is installed (Debian priority
"standard", so every desktop install; tools/check_bundle_bare.sh unpacks it on a bare Debian).
The packing time is the release build's only: CI checks the folder (``--no-archive``).
Windows: ``.zip`` (Explorer opens it); macOS: ``.tar.gz`` (Archive Utility's safe choice; untested).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"
SPEC = ROOT / "packaging" / "ScriptLens.spec"
BACKENDS = ("torchscript", "onnxruntime")  # what --self-test compares (cli/self_test.py)

# Qt's xcb plugin needs these helpers, which a fresh desktop install often lacks (Debian names).
XCB_HELPERS = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

# glvnd's vendor-neutral EGL dispatcher: Qt's xcb libraries link it, but a machine with an X
# server and GLX (e.g. after `apt install xvfb`) need not have it. It holds no driver: it finds
# the machine's EGL driver, if any, through glvnd's vendor files, and with none Qt draws
# without EGL. Bundled so the window starts there; the GL libraries themselves (libGL,
# libGLX, libGLdispatch) stay the machine's, as PyInstaller rules.
GLVND_DISPATCH = {"libEGL.so.1": "libegl1"}

# Fonts for machines with no fontconfig set-up at all (cli/frozen.py uses them only there):
# DejaVu (fonts-dejavu-core; a free licence, copied along), regular and bold.
FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
         "/usr/share/doc/fonts-dejavu-core/copyright"]

# Python modules the app never imports, though something in the environment offers them:
# test-only and build-only packages (they are in the build venv), and torch parts for
# training/compiling/distributed work that a viewer of exported models never reaches.
EXCLUDE_MODULES = [
    "tkinter", "pytest", "_pytest", "pytestqt", "hypothesis", "importlinter", "grimp", "PIL",
    "pip", "setuptools", "pkg_resources", "IPython", "matplotlib", "pandas", "scipy",
    "torch.utils.tensorboard", "torch.utils.benchmark", "torch.distributed.elastic", "torch.distributed.pipelining",
    # the ray extra (`label --ray`, cli/ray_label.py imports it lazily) is for clusters, not the desktop
    # app; CI installs it into the venv the app is built from
    "ray", "pyarrow", "moto", "boto3", "botocore",
]  # not torch.testing._internal: torch.utils.checkpoint imports it (on the ONNX exporter's path)

# Collected files (destination paths, fnmatch) the app never uses.
DROP_PATTERNS = [
    "*/__pycache__/*", "*.pyc.*",                   # caches
    "torch/include/*", "torch/share/*", "*.h", "*.hpp", "*.cuh", "*.cpp", "*.pyi", "*.a", "*.lib",  # C++ headers/static libs
    "torch/bin/[!t]*", "torch/bin/test_*", "torch/bin/upgrader_models/*",  # torch's C++ test programs and protoc
    # (not torch/bin/torch_shm_manager: `import torch` checks that it exists)
    "*/tests/*", "*/test/*",                        # test suites (not torch/testing/_internal: torch.utils.checkpoint
    # imports from it, on the ONNX exporter's path, and torch's modules are plain files: see TORCH_AS_FILES)
    "PySide6/include/*", "PySide6/typesystems/*", "PySide6/glue/*", "PySide6/scripts/*",  # binding-generator inputs
    "PySide6/Qt/translations/qtwebengine*",         # no web engine in the Essentials wheel's modules we use
    "PySide6/Qt/plugins/sqldrivers/*", "PySide6/Qt/plugins/multimedia/*", "PySide6/Qt/plugins/qmltooling/*",
    "PySide6/Qt/qml/*",                             # no QML anywhere
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",  # loads the desktop's GTK 3 against the bundle's
    # older cairo/pango (a crash risk); without it Qt uses its own style and dialogs
    "resources/demo/shapes_raw.torchscript",        # the demo's second export, for tests only
]

# Every Python module a file in the folder, imported by Python's own path finder as in a pip
# install, not a member of PyInstaller's zlib-compressed PYZ archive (the spec's noarchive).
# Measured with tools/startup_compare (9 launches each, paired with the pip install's): with the
# PYZ the app's first detections came 14 ms after the pip install's and its window 27 ms after;
# with files, 76 ms and 40 ms before; 34 MB more on disk. torch's modules, moreover, are its .py
# files (TorchScript reads some sources at load time) with their .pyc in __pycache__, compiled
# by `precompile` (unchecked-hash), instead of PyInstaller's default for torch: a compressed copy
# in the PYZ plus a second copy of every .py.
MODULES_AS_FILES = True
TORCH_AS_FILES = {"torch": "py"}

# Shared libraries shipped with their full symbol tables (.symtab), which only debuggers and
# profilers read: ``strip --strip-unneeded`` takes libtorch_cpu.so from 434 to 345 MB. Only
# these: libraries that auditwheel/patchelf rewrote (the *.libs folders) can break when stripped.
STRIP = ["torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so", "torch/lib/libc10.so"]

# Files the app cannot run without: checked after the build (and by tools/check_bundle.py).
REQUIRED = [
    "resources/demo/shapes.torchscript",
    "resources/demo/images",
    "resources/selftest_reference/torchscript",
    "torch/jit/_script.py",  # torch's Python sources (TorchScript compiles some from source at load time)
    "PySide6/Qt/plugins/platforms/libqxcb.so",
] + list(XCB_HELPERS) + list(GLVND_DISPATCH)


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from engine import __version__

    return __version__


def platform_tag() -> str:
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
    return f"{system}-{machine}"


def write_reference(out: Path) -> None:
    """Label the demo with the pip-installed engine (this interpreter), once per backend."""
    for backend in BACKENDS:
        with tempfile.TemporaryDirectory() as cache:  # a fresh ONNX conversion, not the user's cache
            env = dict(os.environ, SCRIPTLENS_CACHE_DIR=cache)
            subprocess.run([sys.executable, "-m", "cli", "label", "--model", str(DEMO / "shapes.torchscript"),
                            "--images", str(DEMO / "images"), "--out", str(out / backend), "--backend", backend],
                           cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        (out / backend / "scriptlens_manifest.json").unlink(missing_ok=True)  # holds paths and times


def find_library(soname: str) -> str | None:
    """Where the dynamic loader finds `soname` here (ldconfig's cache), or None."""
    try:
        listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in listing.splitlines():  # "\tlibfoo.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfoo.so.0"
        name, _, path = line.strip().partition(" => ")
        if path and name.split(" ")[0] == soname:
            return path
    return None


def xcb_helpers() -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    wanted = {**XCB_HELPERS, **GLVND_DISPATCH}
    found = {soname: find_library(soname) for soname in wanted}
    missing = [wanted[s] for s, path in found.items() if path is None]
    if missing:
        raise SystemExit(f"build_app: the bundle carries Qt's xcb helpers; install them first: "
                         f"sudo apt-get install {' '.join(missing)}")
    return [str(Path(p).resolve().parent / s) for s, p in found.items()]


def system_libraries(internal: Path) -> dict[str, str]:
    """Shared libraries the window's xcb plugin loads from outside the bundle -> Debian package
    ("" where dpkg cannot tell). ldd resolves them as the app's loader would (LD_LIBRARY_PATH:
    the bundle, as PyInstaller's bootloader sets it)."""
    plugin = internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    env = dict(os.environ, LD_LIBRARY_PATH=str(internal))
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, env=env, check=True).stdout
    libs: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if not m or m.group(2).startswith(str(internal)):
            continue
        soname, path = m.groups()
        package = ""
        if shutil.which("dpkg") and path != "not":
            q = subprocess.run(["dpkg", "-S", str(Path(path).resolve())], capture_output=True, text=True)
            if q.returncode != 0:
                q = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if q.returncode == 0:
                package = q.stdout.split(":", 1)[0]
        libs[soname] = package
    return libs


def strip_symbols(internal: Path, log=print) -> None:
    strip = shutil.which("strip")
    if not strip or not sys.platform.startswith("linux"):
        log("build_app: no `strip` here: libraries keep their symbol tables (a bigger bundle, nothing else)")
        return
    before = after = 0
    for name in STRIP:
        path = internal / name
        if path.is_file():
            before += path.stat().st_size
            subprocess.run([strip, "--strip-unneeded", str(path)], check=True)
            after += path.stat().st_size
    log(f"build_app: stripped {before / 1e6:.0f} -> {after / 1e6:.0f} MB")


def precompile(package: Path, log=print) -> None:
    """Byte-compile the modules collected as .py files (torch's, cv2's: their hooks want sources)
    into __pycache__, as pip does at install time: unchecked-hash pycs, valid wherever the folder
    is unpacked, whatever the files' times. Without them Python compiles those files on every
    launch (a read-only install) or writes __pycache__ into the app's folder."""
    import compileall
    import py_compile

    t = time.monotonic()
    ok = compileall.compile_dir(str(package), quiet=1, workers=os.cpu_count() or 1,
                                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    if not ok:
        raise SystemExit(f"build_app: byte-compiling {package} failed")
    log(f"build_app: byte-compiled the modules kept as .py files ({time.monotonic() - t:.0f} s)")


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


XZ_PRESET = 6  # the module docstring has the measurements behind it


def archive_suffix(system: str = sys.platform) -> str:
    return ".zip" if system == "win32" else ".tar.gz" if system == "darwin" else ".tar.xz"


def make_archive(folder: Path, archive: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            for f in sorted(folder.rglob("*")):
                z.write(f, f.relative_to(folder.parent))
        return
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
            tar.add(folder, arcname=folder.name)
        return
    xz = shutil.which("xz")
    if xz is None:  # the same format from Python's lzma: one core, so several times slower
        with tarfile.open(archive, "w:xz", preset=XZ_PRESET) as tar:
            tar.add(folder, arcname=folder.name)
        return
    with open(archive, "wb") as out:
        proc = subprocess.Popen([xz, f"-{XZ_PRESET}", "--threads=0", "--stdout"], stdin=subprocess.PIPE, stdout=out)
        try:
            with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:  # streamed: no uncompressed copy on disk
                tar.add(folder, arcname=folder.name)
        finally:
            proc.stdin.close()
            code = proc.wait()
    if code != 0:
        archive.unlink(missing_ok=True)
        raise SystemExit(f"build_app: xz failed (exit {code}) packing {archive.name}")


def build(out: Path, archive: bool = True, log=print) -> Path:
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        raise SystemExit('build_app: PyInstaller is missing: pip install -e ".[build]"') from None
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".build"
    t0 = time.monotonic()
    reference = work / "selftest_reference"
    shutil.rmtree(reference, ignore_errors=True)
    write_reference(reference)
    log(f"build_app: self-test reference labels written by the pip-installed engine ({time.monotonic() - t0:.0f} s)")
    settings = {
        "selftest_reference": str(reference),
        "xcb_libs": xcb_helpers(),
        "fonts": [f for f in FONTS if Path(f).is_file()] if sys.platform.startswith("linux") else [],
        "exclude_modules": EXCLUDE_MODULES,
        "keep_rules": {"drop": DROP_PATTERNS},
        "modules_as_files": MODULES_AS_FILES,
        "module_collection_mode": TORCH_AS_FILES,
    }
    os.environ["SCRIPTLENS_BUILD"] = json.dumps(settings)
    t1 = time.monotonic()
    pyinstaller.run([str(SPEC), "--noconfirm", "--clean", "--distpath", str(out), "--workpath", str(work / "pyinstaller"),
                     "--log-level", "WARN"])
    app = out / "ScriptLens"
    internal = app / "_internal"
    log(f"build_app: PyInstaller {time.monotonic() - t1:.0f} s")
    strip_symbols(internal, log)
    precompile(internal, log)
    if sys.platform.startswith("linux"):
        (internal / "resources" / "system_libs.json").write_text(json.dumps(system_libraries(internal), indent=1) + "\n")
    missing = [name for name in REQUIRED if not (internal / name).exists()
               and not ((name in XCB_HELPERS or name in GLVND_DISPATCH) and not sys.platform.startswith("linux"))
               and not (name.endswith(".so") and not sys.platform.startswith("linux"))]
    if missing:
        raise SystemExit(f"build_app: the bundle lacks {', '.join(missing)}")
    log(f"build_app: {app} {folder_size(app) / 1e6:.0f} MB")
    if archive:
        t2 = time.monotonic()
        path = out / f"ScriptLens-{version()}-{platform_tag()}{archive_suffix()}"
        make_archive(app, path)
        log(f"build_app: {path} {path.stat().st_size / 1e6:.0f} MB ({time.monotonic() - t2:.0f} s)")
    log(f"build_app: done in {time.monotonic() - t0:.0f} s")
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.build_app", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for ScriptLens/ and the archive")
    ap.add_argument("--no-archive", action="store_true", help="skip the archive (CI's checks need only the folder)")
    args = ap.parse_args(argv)
    build(args.out.resolve(), archive=not args.no_archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
