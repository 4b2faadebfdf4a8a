"""The app's launcher pieces that run the same frozen or not (cli/frozen.py, display_check,
desktop_entry). The frozen app itself is checked by tools/check_bundle.py (a CI step)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import desktop_entry, display_check, frozen

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("variable", ["LC_ALL", "LANG"])
@pytest.mark.parametrize("value", ["C", "POSIX", "xx_NOT.a-locale"])
def test_a_c_or_missing_locale_becomes_c_utf8(monkeypatch, variable, value):
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    assert frozen.ensure_utf8_locale() is True
    assert os.environ["LC_ALL"] == os.environ["LANG"] == "C.UTF-8"
    assert frozen.ensure_utf8_locale() is False  # now UTF-8: left alone


def test_a_utf8_locale_is_left_alone(monkeypatch):
    for name in ("LC_ALL", "LC_CTYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert frozen.ensure_utf8_locale() is False
    assert "LC_ALL" not in os.environ


def test_qt_prints_no_locale_warning_after_the_fix(tmp_path):
    """The warning the issue saw under `env -i`, from a real QCoreApplication in a C locale."""
    code = ("from cli.frozen import ensure_utf8_locale; ensure_utf8_locale()\n"
            "from PySide6.QtCore import QCoreApplication; QCoreApplication([])\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "LC_ALL": "C",
           "PYTHONCOERCECLOCALE": "0"}  # as a frozen app starts: no PEP 538 coercion
    fixed = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    unfixed = subprocess.run([sys.executable, "-c", code.split("\n", 1)[1]], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    assert fixed.returncode == 0 and "Detected locale" not in fixed.stderr
    assert "Detected locale" in unfixed.stderr  # the test can see the warning when it is there


def write_listing(root: Path, libs: dict[str, str]) -> None:
    (root / "resources").mkdir(parents=True)
    (root / "resources" / "system_libs.json").write_text(json.dumps(libs))


def test_missing_system_library_gets_one_line_with_the_install_command(tmp_path):
    write_listing(tmp_path, {"libc.so.6": "libc6", "libscriptlens-absent.so.9": "libabsent9",
                             "libscriptlens-unknown.so.1": ""})
    problem = display_check.window_problem({"DISPLAY": ":0"}, "linux", tmp_path)
    assert problem == ("the window needs libscriptlens-absent.so.9, libscriptlens-unknown.so.1 from the system; "
                       "on Debian/Ubuntu: sudo apt-get install libabsent9 (and libscriptlens-unknown.so.1). "
                       "The command line (`ScriptLens label ...`) works without them")
    assert "\n" not in problem


def test_present_libraries_and_other_platforms_pass(tmp_path):
    write_listing(tmp_path, {"libc.so.6": "libc6"})
    assert display_check.window_problem({"DISPLAY": ":0"}, "linux", tmp_path) is None
    assert display_check.window_problem({}, "win32", tmp_path) is None
    assert display_check.window_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", tmp_path) is None


def test_no_display_is_named_before_qt_starts(tmp_path):
    problem = display_check.window_problem({}, "linux", tmp_path)
    assert problem.startswith("no display to open the window on ($DISPLAY is not set)")
    assert display_check.window_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", tmp_path) is None


def test_launcher_prints_the_line_and_exits_1_instead_of_qts_error(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}  # no DISPLAY
    r = subprocess.run([sys.executable, "-m", "cli.frozen"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "ScriptLens: no display to open the window on ($DISPLAY is not set). On a headless machine run "
        "`xvfb-run ScriptLens`; `ScriptLens label --help` works without one"]


def test_launcher_passes_cli_commands_through_unchanged(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for args in (["--version"], ["label"], ["info", str(tmp_path / "absent.torchscript")]):
        app = subprocess.run([sys.executable, "-m", "cli.frozen", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        cli = subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert (app.returncode, app.stdout, app.stderr) == (cli.returncode, cli.stdout, cli.stderr)


def test_desktop_entry_points_at_the_launcher_and_can_be_removed(tmp_path, capsys):
    env = {"XDG_DATA_HOME": str(tmp_path / "share")}
    assert desktop_entry.main([], environ=env) == 0
    desktop, icon = desktop_entry.paths(env)
    text = desktop.read_text()
    assert f"Icon={icon}\n" in text and icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line == "Exec=" + desktop_entry.quote_exec(desktop_entry.launcher())
    assert "Type=Application" in text and "Terminal=false" in text
    assert desktop_entry.main(["--remove"], environ=env) == 0
    assert not desktop.exists() and not icon.exists()


def test_exec_quoting_follows_the_desktop_entry_spec():
    assert desktop_entry.quote_exec("/opt/ScriptLens/ScriptLens") == "/opt/ScriptLens/ScriptLens"
    assert desktop_entry.quote_exec('/home/a b/Script"Lens$') == '"/home/a b/Script\\"Lens\\$"'


def test_bundled_fonts_only_where_the_machine_has_no_fontconfig(tmp_path, monkeypatch):
    monkeypatch.delenv("FONTCONFIG_FILE", raising=False)
    monkeypatch.delenv("FONTCONFIG_PATH", raising=False)
    conf = tmp_path / "resources" / "fonts" / "fonts.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text((ROOT / "packaging" / "fonts" / "fonts.conf").read_text())
    present = tmp_path / "etc-fonts.conf"
    present.write_text("<fontconfig/>")
    assert frozen.use_bundled_fonts(tmp_path, str(present)) is False  # the machine's own set-up wins
    assert "FONTCONFIG_FILE" not in os.environ
    assert frozen.use_bundled_fonts(tmp_path, str(tmp_path / "absent.conf")) is (sys.platform.startswith("linux"))
    if sys.platform.startswith("linux"):
        assert os.environ["FONTCONFIG_FILE"] == str(conf)


@pytest.mark.skipif(not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file(), reason="needs fonts-dejavu-core")
def test_qt_finds_the_fonts_through_the_bundled_fontconfig_file(tmp_path):
    """The bundle's fonts.conf (relative font folder) works wherever the folder is unpacked."""
    fonts = tmp_path / "unpacked" / "resources" / "fonts"
    fonts.mkdir(parents=True)
    (fonts / "fonts.conf").write_text((ROOT / "packaging" / "fonts" / "fonts.conf").read_text())
    (fonts / "DejaVuSans.ttf").write_bytes(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").read_bytes())
    code = ("from PySide6.QtGui import QGuiApplication, QFontDatabase\n"
            "app = QGuiApplication(['t', '-platform', 'offscreen'])\n"
            "print('|'.join(QFontDatabase.families()))\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "FONTCONFIG_FILE": str(fonts / "fonts.conf"), "LC_ALL": "C.UTF-8"}

    def families() -> list[str]:
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip().split("|")

    assert "DejaVu Sans" in families()
    (fonts / "DejaVuSans.ttf").unlink()
    assert "DejaVu Sans" not in families()  # it was the bundled file, not the machine's fonts


def test_the_window_is_recognised_after_global_flags():
    assert frozen.wants_window([]) and frozen.wants_window(["-v"]) and frozen.wants_window(["--verbose", "gui", "--model", "m"])
    assert not frozen.wants_window(["-v", "label"]) and not frozen.wants_window(["info", "m"])
    # the window's self-test gets the display check and fonts; the engine's does not need a display
    assert frozen.wants_window(["--self-test", "--window"]) and not frozen.wants_window(["--self-test"])


@pytest.mark.parametrize("first", ["", "import PySide6.QtCore; "])
def test_the_self_test_sees_qt_in_the_command_line(first):
    """What --self-test's 'command line without Qt' step reads (PyInstaller's own PySide6 hook
    once imported Qt in every process of the app: packaging/rthook_qt_paths.py)."""
    code = first + "from cli.self_test import qt_modules; print(' '.join(qt_modules()))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert ("PySide6.QtCore" in r.stdout.split()) == bool(first)
