"""Work around a PySide6 6.12 reference-count bug on Python < 3.12.

PySide6/shiboken 6.12 return `None` from every void method (`label.setText(...)`,
`painter.setPen(...)`, ...) and pass `True`/`False` through signals without taking a
reference. On Python >= 3.12 these objects are immortal, so nothing happens; on 3.10/3.11
each call steals one reference, and after some tens of thousands of calls (a few seconds of
dragging a slider over an image with many boxes) the interpreter aborts with
"Fatal Python error: none_dealloc: deallocating None" (or bool_dealloc).

These singletons are never freed anyway, so giving them a practically infinite reference
count is harmless and makes them as immortal as Python 3.12 does. Applied once, when `gui`
is imported, before any Qt call. Tested by tests/gui/test_singleton_guard.py.
"""

from __future__ import annotations

import ctypes
import sys

_MARGIN = 1 << 40  # ~10^12 stolen references before anything could go wrong


def make_singletons_immortal() -> bool:
    """Returns True when the guard was applied (CPython < 3.12 only)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    for obj in (None, True, False, Ellipsis, NotImplemented):
        ctypes.c_ssize_t.from_address(id(obj)).value += _MARGIN
    return True
