"""ScriptLens engine: Qt-free, and torch-free at import time.

Only `backend` imports torch: `pipeline` loads it when a model is loaded in-process (the CLI),
and the window runs its models in a child process (`forward_process` / `forward_server`), so
the window's own process never imports torch. Importing `engine` or its numpy-only modules
(detections, letterbox, thresholds, labels, images...) stays fast.
"""

__version__ = "0.1.0"
