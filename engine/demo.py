"""Where the bundled demo (model and images) lives: `resources/demo` beside the packages.

Qt-free, so the launcher can name the demo model to the model process before Qt is imported
(`engine.forward_process.prestart`)."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "demo"


def demo_paths() -> tuple[Path | None, Path | None]:
    """The bundled demo model and images (each None when missing)."""
    model = DEMO_DIR / "shapes.torchscript"
    images = DEMO_DIR / "images"
    return (model if model.is_file() else None, images if images.is_dir() else None)
