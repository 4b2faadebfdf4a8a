"""PyInstaller's entry script for the ScriptLens app (tools/build_app.py); all logic is in cli/frozen.py."""

import sys

from cli.frozen import main

if __name__ == "__main__":
    sys.exit(main())
