"""ScriptLens desktop window (PySide6). Never imports torch: the engine worker loads it lazily."""

from ._singleton_guard import make_singletons_immortal

_SINGLETONS_GUARDED = make_singletons_immortal()  # before any Qt call; see _singleton_guard.py
