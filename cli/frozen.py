"""The double-click app's launcher (`tools/build_app.py` freezes it; `packaging/scriptlens_app.py`
is PyInstaller's entry script). One executable is the window, the CLI and the model process:

    ScriptLens                         the window on the bundled demo (as `scriptlens`)
    ScriptLens label|eval|info|gui ... exactly `scriptlens ...` (cli.main: same files, same exit codes)
    ScriptLens --self-test [--reference DIR]    cli/self_test.py
    ScriptLens --self-test --window [--shots DIR]   cli/window_self_test.py (needs a display)
    ScriptLens install-desktop-entry [--remove] cli/desktop_entry.py
    ScriptLens -m engine.forward_server ...     the window's model process (internal)

Why `-m engine.forward_server`: `engine.forward_process` starts the model process as
``[sys.executable, "-m", "engine.forward_server", ...]``. Frozen, `sys.executable` is this
executable, so it answers that one module the way Python's ``-m`` would: the engine needs no
frozen special case, and any flag the model process gains later passes through unchanged.
(No `multiprocessing` is involved, so `freeze_support` has nothing to do here.)

Also runs unfrozen (`python -m cli.frozen --self-test`), which is how tests reach it.
"""

from __future__ import annotations

import os
import sys

FORWARD_SERVER = "engine.forward_server"  # the only module `-m` runs: the app is no Python interpreter


def ensure_utf8_locale() -> bool:
    """Give a C/POSIX (or any non-UTF-8, or missing) locale a UTF-8 codeset: `env -i`, a bare
    chroot and some desktop launchers start us with none, and Qt then warns ("Detected locale
    "C" ... switched to "C.UTF-8""). The pip install never sees this: Python's own start-up
    coerces a C locale (PEP 538), which a PyInstaller bootloader does not. glibc >= 2.35 has
    C.UTF-8 built in. True when it changed the environment. POSIX only (Windows has no such
    variables; macOS app bundles get a UTF-8 locale from the system)."""
    if os.name != "posix":
        return False
    import locale

    try:
        locale.setlocale(locale.LC_CTYPE, "")
        codeset = locale.nl_langinfo(locale.CODESET)
    except (locale.Error, AttributeError):  # the locale named by the environment is not installed
        codeset = ""
    finally:
        try:
            locale.setlocale(locale.LC_CTYPE, "C")  # leave the process as Python left it
        except locale.Error:
            pass
    if codeset.replace("-", "").upper() == "UTF8":
        return False
    os.environ["LC_ALL"] = os.environ["LANG"] = "C.UTF-8"  # read by Qt's setlocale(LC_ALL, "")
    return True


def use_bundled_fonts(root=None, system_conf: str = "/etc/fonts/fonts.conf") -> bool:
    """Point fontconfig at the app's own fonts where the machine has no fontconfig set-up (a
    minimal system: Qt would start but draw no text). Never where the machine has one: its
    fonts and settings win. True when it set FONTCONFIG_FILE."""
    from pathlib import Path

    conf = Path(root or Path(__file__).resolve().parents[1]) / "resources" / "fonts" / "fonts.conf"
    if (not sys.platform.startswith("linux") or "FONTCONFIG_FILE" in os.environ or "FONTCONFIG_PATH" in os.environ
            or Path(system_conf).exists() or not conf.is_file()):
        return False
    os.environ["FONTCONFIG_FILE"] = str(conf)
    return True


def wants_window(argv: list[str]) -> bool:
    """`ScriptLens`, `ScriptLens gui ...`, also after the global -v (as cli.main's parser reads
    them), and the window's self-test."""
    rest = [arg for arg in argv if arg not in ("-v", "--verbose")]
    return not rest or rest[0] == "gui" or (rest[0] == "--self-test" and "--window" in rest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ensure_utf8_locale()
    if argv[:2] == ["-m", FORWARD_SERVER]:
        from engine.forward_server import main as serve

        sys.argv = [FORWARD_SERVER] + argv[2:]
        return serve(argv[2:])
    if wants_window(argv) and "-h" not in argv and "--help" not in argv:
        from cli.display_check import window_problem

        use_bundled_fonts()
        problem = window_problem()
        if problem:  # one actionable line instead of Qt's stock "could not load the Qt platform plugin"
            print(f"ScriptLens: {problem}", file=sys.stderr)
            return 1
    if argv[:1] == ["--self-test"]:
        from cli.self_test import main as self_test

        return self_test(argv[1:])
    if argv[:1] == ["install-desktop-entry"]:
        from cli.desktop_entry import main as install

        return install(argv[1:])
    from cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
