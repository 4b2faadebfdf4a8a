"""Messages to the person, for every controller: the banner (stays until its cause goes away)
and the status bar (a line that fades). One object so no controller needs the window."""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtWidgets import QStatusBar

from .banner import Banner

log = logging.getLogger(__name__)


class Feedback:
    def __init__(self, banner: Banner, status_bar: QStatusBar) -> None:
        self.banner = banner
        self.status_bar = status_bar

    def error(self, message: str, action: tuple[str, Callable[[], object]] | None = None, cause: str = "") -> None:
        """`cause`: what the message is about ("image", "model", "profile", "folder", "ground-truth");
        the banner goes when that cause does (Banner.clear)."""
        log.warning("%s", message)
        self.banner.show_message(message, "error", action, cause)
        self.status_bar.showMessage(message.splitlines()[0], 8000)

    def info(self, message: str) -> None:
        self.banner.show_message(message, "info")
        self.status_bar.showMessage(message.splitlines()[0], 8000)

    def status(self, message: str, timeout_ms: int = 0) -> None:
        self.status_bar.showMessage(message, timeout_ms)

    def clear_status(self) -> None:
        self.status_bar.clearMessage()

    def clear(self, cause: str) -> None:
        self.banner.clear(cause)
