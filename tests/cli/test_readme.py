"""The README's set-up commands are a contract: CI must run the very same test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup)


def test_readme_has_exactly_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].rstrip().endswith("scriptlens")  # launches the app on the demo
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_demo_paths_named_in_cli_exist():
    from gui.app import demo_paths

    model, images = demo_paths()
    assert model is not None and Path(model).is_file()
    assert images is not None and any(Path(images).iterdir())
