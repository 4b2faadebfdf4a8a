"""ScriptLens desktop window (PySide6). Never imports torch: the engine worker loads it lazily."""
