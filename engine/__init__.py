"""ScriptLens engine: Qt-free, and torch-free at import time.

Modules that need torch (`backend`, `pipeline`) import it themselves; importing `engine` or
its numpy-only modules (detections, letterbox, thresholds, labels, images...) stays fast so
the window can appear before torch has loaded.
"""

__version__ = "0.1.0"
