"""Can the frozen app open a window here? Asked before Qt starts, so a missing system library
or display gets one line naming it and the command that installs it, not Qt's stock
"Could not load the Qt platform plugin "xcb"" (cli/frozen.py).

Only the frozen Linux app checks: tools/build_app.py lists, in ``resources/system_libs.json``,
the shared libraries the bundled xcb plugin loads from the system (libxcb, libGL... which
PyInstaller deliberately does not bundle: they belong to the graphics stack) with their
Debian packages. A pip install has no such list and lets Qt speak.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path

BUNDLE_ROOT = Path(__file__).resolve().parents[1]  # _internal/ in the app, the repository otherwise


def missing_libraries(listing: Path, load=ctypes.CDLL) -> dict[str, str]:
    """soname -> package for each listed library the dynamic loader cannot load."""
    try:
        wanted = json.loads(listing.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    missing = {}
    for soname, package in wanted.items():
        try:
            load(soname)
        except OSError:
            missing[soname] = package
    return missing


def window_problem(environ=os.environ, platform: str = sys.platform, root: Path = BUNDLE_ROOT, load=ctypes.CDLL) -> str | None:
    """One line saying why the window cannot open here, or None (then Qt is started)."""
    if not platform.startswith("linux"):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: asked for by name, Qt reports its own problems
    if not environ.get("DISPLAY"):
        if environ.get("WAYLAND_DISPLAY"):
            return None
        return ("no display to open the window on ($DISPLAY is not set). On a headless machine run "
                "`xvfb-run ScriptLens`; `ScriptLens label --help` works without one")
    missing = missing_libraries(root / "resources" / "system_libs.json", load)
    if missing:
        packages = sorted({p for p in missing.values() if p})
        unnamed = sorted(s for s, p in missing.items() if not p)
        install = f"; on Debian/Ubuntu: sudo apt-get install {' '.join(packages)}" if packages else ""
        extra = f" (and {', '.join(unnamed)})" if unnamed and packages else ""
        return (f"the window needs {', '.join(sorted(missing))} from the system{install}{extra}. "
                "The command line (`ScriptLens label ...`) works without them")
    plugin = root / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if plugin.is_file():
        try:
            load(str(plugin))  # the loader's own words name anything the list above missed
        except OSError as exc:
            return f"the window cannot start: {exc}"
    return None
