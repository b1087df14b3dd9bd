"""The README cannot drift from the CLI: every command is documented and has help text."""

from pathlib import Path

from typer.main import get_command

from bestseller_cli.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()


def command_paths(group: object, prefix: str = "bestseller") -> list[tuple[str, object]]:
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}"
        if getattr(command, "commands", None):
            paths += command_paths(command, path)
        else:
            paths.append((path, command))
    return paths


COMMANDS = command_paths(get_command(app))


def test_every_command_is_in_the_readme() -> None:
    missing = [path for path, _ in COMMANDS if path not in README]
    assert missing == []


def test_every_command_has_help_text() -> None:
    assert [path for path, command in COMMANDS if not (command.help or "").strip()] == []


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "pytest"
    assert "```bash\npytest\n```" in README


def test_every_setting_is_in_the_readme_and_env_example() -> None:
    from bestseller_cli.config import Settings

    example = (Path(__file__).parent.parent / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in README, name
        assert f"{name.upper()}=" in example, name
