"""QApplication setup and `main()`: the window shows first, the model loads in the worker."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from engine import forward_process
from engine.demo import demo_paths  # noqa: F401  (gui.app.demo_paths: what tools and tests use)

log = logging.getLogger(__name__)


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("ScriptLens")
    app.setApplicationName("ScriptLens")
    app.setApplicationDisplayName("ScriptLens")
    return app


def _install_excepthook(window) -> None:
    """An unexpected error in a handler becomes a banner, not a silent exit."""

    def hook(exc_type, exc, tb) -> None:
        log.error("unhandled error", exc_info=(exc_type, exc, tb))
        window.show_error(f"Unexpected error: {exc_type.__name__}: {exc} (details in the log)")

    sys.excepthook = hook


def create_window(model: Path | str | None = None, images: Path | str | None = None, settings=None, model_process=None,
                  backend: str = "auto"):
    """Build and show the window, then open `model` / `images` (or the last ones) right after.

    `model_process`: where models run (see `MainWindow`); `main()` passes the one it started,
    so torch never loads in the window's process. `backend`: `engine.model_info.BACKEND_MODES`."""
    from .main_window import MainWindow

    window = MainWindow(settings, model_process=model_process, backend=backend)
    window.show()

    def open_initial() -> None:
        if images is not None:
            window.open_folder(Path(images))
        if model is not None:
            window.open_model(Path(model))

    QTimer.singleShot(0, open_initial)
    return window


def initial_paths(settings) -> tuple[Path | str | None, Path | str | None]:
    """What a launch without arguments opens: the last model and folder that still exist, else
    the bundled demo."""
    last_model, last_folder = settings.get_str("last/model"), settings.get_str("last/folder")
    model = last_model if last_model and Path(last_model).is_file() else None
    images = last_folder if last_folder and Path(last_folder).is_dir() else None
    return (model, images) if model is not None or images is not None else demo_paths()


def start(model: Path | str | None = None, images: Path | str | None = None, backend: str = "auto"):
    """Everything `main()` does before the event loop: the model process, Qt, the window.
    Returns (app, window, model process or None). `cli/window_self_test.py` drives this too."""
    # Usually started already by `scriptlens` before Qt was imported (cli/gui_cmd.py); the
    # same process is returned then. None: no child possible, models load in this process.
    forward = forward_process.prestart(model, backend)
    app = make_app()
    if model is None and images is None:
        from .settings import Settings

        model, images = initial_paths(Settings())
    window = create_window(model, images, model_process=forward, backend=backend)
    _install_excepthook(window)
    return app, window, forward


def main(model: Path | str | None = None, images: Path | str | None = None, backend: str = "auto") -> int:
    t0 = time.perf_counter()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app, _window, forward = start(model, images, backend)
    log.info("window shown %.0f ms after main() (epoch %.3f, process CPU %.2f s)",
             (time.perf_counter() - t0) * 1e3, time.time(), time.process_time())
    try:
        return app.exec()
    finally:
        if forward is not None:
            forward.close()


if __name__ == "__main__":
    raise SystemExit(main(*(sys.argv[1:3] + [None, None])[:2]))
