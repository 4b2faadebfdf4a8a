"""Read-only folders in tests: root (CI containers) ignores permission bits."""

from __future__ import annotations

from pathlib import Path


def permissions_ignored(folder: Path) -> bool:
    """True when `folder` is chmod 0o555 yet still writable for us (running as root): the test
    must then simulate the refusal itself."""
    probe = Path(folder) / ".probe"
    try:
        probe.write_text("x")
    except PermissionError:
        return False
    probe.unlink()
    return True
