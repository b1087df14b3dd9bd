"""One format for each thing: JSON times in UTC with `Z`, CSV booleans `true`/`false`, one
machine format at a time, fixed choices listed in help and completion, `-h`, examples at
the end of every command's help, and tables never cut when piped."""

import csv
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.output import utc_timestamp
from bestseller_cli.rules.notify_config import GLOBAL_KEYS
from bestseller_cli.store import asin_store, client_store
from fakes.keepa_server import FakeKeepa
from tests.test_docs import COMMANDS

runner = CliRunner()
A = "B0AAAAAAAA"
GADGETS = 289913
MACHINE_FLAGS = ("--json", "--csv", "--markdown")


def times_in(value: Any) -> list[str]:
    """Every string in a JSON document that looks like a timestamp."""
    if isinstance(value, dict):
        return [t for item in value.values() for t in times_in(item)]
    if isinstance(value, list):
        return [t for item in value for t in times_in(item)]
    is_time = isinstance(value, str) and len(value) >= 19 and value[4] == "-" and ":" in value
    return [value] if is_time else []


@pytest.fixture
def berlin_session(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The database hands back times in Berlin's offset; the output must still say UTC."""
    monkeypatch.setenv("PGTZ", "Europe/Berlin")


def test_utc_timestamps_end_in_z_with_a_t_separator() -> None:
    from datetime import datetime, timedelta, timezone

    berlin = timezone(timedelta(hours=1))
    assert utc_timestamp(datetime(2026, 11, 23, 10, 0, 5, 120000, berlin)) == (
        "2026-11-23T09:00:05.120000Z"
    )
    assert utc_timestamp(datetime(2026, 11, 23, 9, 0)) == "2026-11-23T09:00:00.000000Z"


def test_every_json_time_is_utc_with_z(
    keepa: FakeKeepa, conn: psycopg.Connection, berlin_session: None
) -> None:
    client_store.add_client(conn, name="acme")
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client="acme")
    keepa.set_ranks(A, {GADGETS: 2})
    assert runner.invoke(app, ["check", "--all"]).exit_code == 0
    keepa.set_ranks(A, {GADGETS: 1})
    checked = runner.invoke(app, ["check", "--all", "--json"])
    assert checked.exit_code == 0, checked.output
    documents = {"check --json": json.loads(checked.stdout)}
    for command in (
        ["asins", "list", "--json"],
        ["clients", "list", "--json"],
        ["settings", "show", "--json"],
        ["report", "--json"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        documents[" ".join(command)] = json.loads(result.stdout)
    for name, document in documents.items():
        times = times_in(document)
        assert times, f"{name} printed no time at all"
        for text in times:
            assert text.endswith("Z") and text[10] == "T" and "+" not in text, (name, text)


def test_csv_booleans_are_lowercase_true_and_false(env: dict[str, str], conn) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    result = runner.invoke(app, ["asins", "list", "--csv"])
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["active"] == "true"
    assert row["added_at"].endswith("Z")


def commands_with_machine_flags() -> list[tuple[str, list[str]]]:
    found = []
    for path, command in COMMANDS:
        flags = [flag for param in command.params for flag in param.opts if flag in MACHINE_FLAGS]
        if len(flags) > 1:
            found.append((path, flags))
    return found


def test_there_are_commands_with_several_machine_formats() -> None:
    assert {path for path, _ in commands_with_machine_flags()} >= {
        "bestseller asins list",
        "bestseller report",
    }


@pytest.mark.parametrize(("path", "flags"), commands_with_machine_flags())
def test_two_machine_formats_at_once_exit_2(
    env: dict[str, str], path: str, flags: list[str]
) -> None:
    result = runner.invoke(app, [*path.split()[1:], *flags[:2]])
    assert result.exit_code == 2
    assert "choose one of" in result.stderr
    assert result.stdout == ""


def completions(line: str) -> list[str]:
    """What bash completion offers after `line` (which ends in a space)."""
    environment = {
        **os.environ,
        "_BESTSELLER_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(line.split())),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "bestseller")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.split()


def test_delivery_mode_choices_are_listed_in_help_and_completion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 200)  # one line per option
    help_text = runner.invoke(app, ["clients", "rule", "--help"]).stdout
    assert "<instant|hourly|daily>" in help_text
    assert completions("bestseller clients rule acme --mode ") == ["instant", "hourly", "daily"]


def test_an_unknown_delivery_mode_is_a_usage_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["clients", "rule", "acme", "--mode", "weekly"])
    assert result.exit_code == 2
    assert "weekly" in result.output


def test_setting_keys_are_offered_by_completion(env: dict[str, str]) -> None:
    assert completions("bestseller settings set ") == list(GLOBAL_KEYS)
    assert runner.invoke(app, ["settings", "set", "colour", "red"]).exit_code == 2


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_dash_h_shows_help_ending_with_examples_that_parse(path: str) -> None:
    words = path.split()[1:]
    result = runner.invoke(app, [*words, "-h"])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    examples = []
    for line in reversed(lines):
        if not line.startswith("bestseller "):
            assert line == "Examples:", f"{path} --help does not end with examples"
            break
        examples.append(line)
    assert 1 <= len(examples) <= 2, path
    root = get_command(app)
    parent = root.make_context("bestseller", [], resilient_parsing=True)
    command: Any = root
    for word in words:
        command = command.commands[word]
    for example in examples:
        tokens = shlex.split(example)[1:]
        assert tokens[: len(words)] == words, example
        command.make_context(path, tokens[len(words) :], parent=parent)  # raises if invalid


def test_a_piped_table_is_not_cut_to_80_columns(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    client = "a client with a rather long name for a table"
    client_store.add_client(conn, name=client)
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=client)
    keepa.set_ranks(A, {GADGETS: 1, 1055398: 1, 3015427011: 1})
    assert runner.invoke(app, ["check", "--all"]).exit_code == 0
    result = runner.invoke(app, ["asins", "list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if A in line)
    assert client in row and "…" not in result.stdout
    assert len(row) > 80
