"""Typed access to what the window remembers between runs (QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


def _to_bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class Settings:
    """Thin typed wrapper; pass a QSettings (tests use an ini file in a temp folder)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings if qsettings is not None else QSettings("ScriptLens", "ScriptLens")

    # generic helpers
    def get_float(self, key: str, default: float) -> float:
        try:
            return float(self._s.value(key, default))
        except (TypeError, ValueError):
            return default

    def get_int(self, key: str, default: int) -> int:
        try:
            return int(self._s.value(key, default))
        except (TypeError, ValueError):
            return default

    def get_bool(self, key: str, default: bool) -> bool:
        return _to_bool(self._s.value(key, None), default)

    def get_str(self, key: str, default: str = "") -> str:
        value = self._s.value(key, default)
        return str(value) if value is not None else default

    def set(self, key: str, value) -> None:
        self._s.setValue(key, value)

    def sync(self) -> None:
        self._s.sync()

    def file_name(self) -> str:
        """Where the settings are stored (a file, or a registry path on Windows)."""
        return self._s.fileName()

    # geometry
    def geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self._s.setValue("window/geometry", data)

    def window_state(self) -> QByteArray | None:
        value = self._s.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def set_window_state(self, data: QByteArray) -> None:
        self._s.setValue("window/state", data)

    # recent files
    def recent(self, kind: str) -> list[str]:
        value = self._s.value(f"recent/{kind}", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def add_recent(self, kind: str, path: str) -> list[str]:
        items = [p for p in self.recent(kind) if p != path]
        items.insert(0, path)
        items = items[:MAX_RECENT]
        self._s.setValue(f"recent/{kind}", items)
        return items
