"""`ScriptLens install-desktop-entry [--remove]`: put ScriptLens in the desktop's application
menu (Linux: the freedesktop.org ``.desktop`` file and icon under ``$XDG_DATA_HOME``, default
``~/.local/share``), pointing at this executable wherever it was unpacked. Run it again after
moving the folder. No root: it writes only in the user's own data folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

BUNDLE_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = BUNDLE_ROOT / "resources" / "desktop" / "scriptlens.desktop"  # in the app
SOURCE_TEMPLATE = BUNDLE_ROOT / "packaging" / "scriptlens.desktop"       # in a checkout


def data_home(environ=os.environ) -> Path:
    return Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher() -> str:
    """The Exec= line's command: this executable when frozen, else the pip-installed `scriptlens`."""
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).resolve())
    return shutil.which("scriptlens") or "scriptlens"


def quote_exec(arg: str) -> str:
    """Desktop Entry Specification quoting for an Exec= argument."""
    if not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def entry_text(template: str, command: str, icon: Path) -> str:
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={quote_exec(command)}"
        elif line.startswith("Icon="):
            line = f"Icon={icon}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def paths(environ=os.environ) -> tuple[Path, Path]:
    home = data_home(environ)
    return home / "applications" / "scriptlens.desktop", home / "icons" / "hicolor" / "256x256" / "apps" / "scriptlens.png"


def main(argv: list[str] | None = None, environ=os.environ) -> int:
    ap = argparse.ArgumentParser(prog="ScriptLens install-desktop-entry", description=__doc__.split("\n\n")[0])
    ap.add_argument("--remove", action="store_true", help="take the entry and icon out of the menu again")
    args = ap.parse_args(argv)
    if not sys.platform.startswith(("linux", "freebsd")):
        print("install-desktop-entry: menu entries are made this way on Linux only; on Windows pin "
              "ScriptLens.exe to Start, on macOS drag ScriptLens.app to Applications", file=sys.stderr)
        return 2
    desktop, icon = paths(environ)
    if args.remove:
        for path in (desktop, icon):
            path.unlink(missing_ok=True)
        print(f"removed {desktop}")
        return 0
    template = TEMPLATE if TEMPLATE.is_file() else SOURCE_TEMPLATE
    icon_source = template.with_name("scriptlens.png")
    desktop.parent.mkdir(parents=True, exist_ok=True)
    icon.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(icon_source, icon)
    tmp = desktop.with_name(desktop.name + ".tmp")
    tmp.write_text(entry_text(template.read_text(encoding="utf-8"), launcher(), icon), encoding="utf-8")
    os.replace(tmp, desktop)
    print(f"installed {desktop} (ScriptLens is in the application menu; run this again after moving the app)")
    return 0
