# Run-time hook of the ScriptLens app, in place of PyInstaller's own PySide6 hook
# (pyi_rth_pyside6, removed in packaging/ScriptLens.spec). Same paths, but no Qt import: that
# hook imports PySide6.QtCore at the start of every process the executable runs, and PySide6
# then looks at the source of every module imported afterwards (its __feature__ import hook),
# which made torch's ~2,000 imports 0.2-0.4 s slower in `label`, `info` and the window's model
# process, none of which uses Qt. The window imports PySide6 itself, as the pip install does;
# the PySide6 wheel registers its own qt.conf when imported, so nothing else is needed.
import os
import sys


def _qt_paths() -> None:
    qt = os.path.join(sys._MEIPASS, "PySide6") if sys.platform.startswith("win") else os.path.join(sys._MEIPASS, "PySide6", "Qt")
    os.environ["QT_PLUGIN_PATH"] = os.path.join(qt, "plugins")
    if sys.platform.startswith("win"):  # as PyInstaller's hook: DLLs collected beside the executable
        os.environ["PATH"] = sys._MEIPASS + os.pathsep + os.environ.get("PATH", "")


_qt_paths()
del _qt_paths
