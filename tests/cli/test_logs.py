"""Logs a cron run can be searched by: one JSON object per line when not on a terminal,
the human form (tables, progress) on a terminal, and never a secret."""

import json
import os
import pty
import select
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.store import asin_store
from fakes import KEEPA_TEST_KEY
from fakes.keepa_server import FakeKeepa

GADGETS, KITCHEN = 289913, 1055398
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
CHECK = [sys.executable, "-m", "bestseller_cli", "check", "--all"]


def child_env(env: dict[str, str], keepa: FakeKeepa, **extra: str) -> dict[str, str]:
    """The test's settings with LOG_FORMAT unset: the process decides by its streams."""
    environment = {**os.environ, **env, "KEEPA_API_URL": keepa.url, "MAX_RETRIES": "1"}
    environment.pop("LOG_FORMAT")
    return {**environment, **extra}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed as one JSON object (fails on any other line)."""
    records = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(record, dict) for record in records), text
    return records


def assert_log_shape(record: dict[str, Any]) -> None:
    assert {"time", "level", "event", "run_id", "message"} <= set(record)
    assert record["time"].endswith("Z") and "T" in record["time"]
    assert record["level"] in {"debug", "info", "warning", "error", "critical"}


def run_on_a_terminal(command: list[str], environment: dict[str, str]) -> tuple[int, str]:
    """Run with stdin, stdout and stderr on a pseudo-terminal; return its exit code and text."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        command, env=environment, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            child.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return child.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.fixture
def two_tracked(conn: psycopg.Connection, keepa_server: FakeKeepa) -> FakeKeepa:
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client=None)
    keepa_server.set_ranks(A, {KITCHEN: 4, GADGETS: 1})
    keepa_server.set_ranks(B, {GADGETS: 2})
    return keepa_server


def test_a_piped_check_writes_only_json_lines_ending_with_the_summary(
    env: dict[str, str], two_tracked: FakeKeepa
) -> None:
    environment = child_env(env, two_tracked)
    assert subprocess.run(CHECK, env=environment, capture_output=True).returncode == 0
    two_tracked.set_ranks(A, {KITCHEN: 4, GADGETS: 2})
    two_tracked.set_ranks(B, {GADGETS: 1})

    result = subprocess.run(CHECK, env=environment, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    stdout, stderr = json_lines(result.stdout), json_lines(result.stderr)
    for record in stdout + stderr:
        assert_log_shape(record)
    events = [record["event"] for record in stdout]
    assert events.count("badge_change") == 2 and events.count("alert_printed") == 2
    summary = stdout[-1]
    assert summary["event"] == "check_summary"
    assert isinstance(summary["run_id"], int)
    assert (summary["checked"], summary["gained"], summary["lost"]) == (2, 1, 1)
    assert summary["exit_code"] == 0 and summary["unchecked"] == 0
    assert {record["run_id"] for record in stdout} == {summary["run_id"]}
    assert KEEPA_TEST_KEY not in result.stdout + result.stderr


def test_a_piped_check_with_keepa_failing_still_writes_only_json_lines(
    env: dict[str, str], two_tracked: FakeKeepa
) -> None:
    two_tracked.fail_next = [500] * 6  # /token and both /product attempts, beyond retries

    result = subprocess.run(
        CHECK, env=child_env(env, two_tracked), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1
    stdout, stderr = json_lines(result.stdout), json_lines(result.stderr)
    for record in stdout + stderr:
        assert_log_shape(record)
    assert stdout[-1]["event"] == "check_summary" and stdout[-1]["level"] == "error"
    assert stdout[-1]["unchecked"] == 2
    levels = {record["level"] for record in stderr}
    assert "warning" in levels and "error" in levels
    unchecked = next(record for record in stderr if record["event"] == "asins_unchecked")
    assert unchecked["count"] == 2
    assert KEEPA_TEST_KEY not in result.stdout + result.stderr


def test_an_error_before_the_pass_is_one_json_line_on_stderr(
    env: dict[str, str], keepa_server: FakeKeepa
) -> None:
    environment = child_env(env, keepa_server, BATCH_SIZE="1000")

    result = subprocess.run(CHECK, env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert result.stdout == ""
    [record] = json_lines(result.stderr)
    assert_log_shape(record)
    assert (record["level"], record["event"], record["exit_code"]) == ("error", "error", 2)
    assert "BATCH_SIZE" in record["message"]


def test_check_on_a_terminal_still_prints_the_table(
    env: dict[str, str], two_tracked: FakeKeepa
) -> None:
    code, text = run_on_a_terminal(CHECK, child_env(env, two_tracked))

    assert code == 0, text
    assert "ASINs checked" in text and "2 of 2" in text
    assert "─" in text or "━" in text  # box drawing: the rich table
    assert '"event"' not in text


def test_log_format_text_forces_the_human_form_when_piped(
    env: dict[str, str], two_tracked: FakeKeepa
) -> None:
    environment = child_env(env, two_tracked, LOG_FORMAT="text")

    result = subprocess.run(CHECK, env=environment, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "ASINs checked" in result.stdout and '"event"' not in result.stdout


def test_log_format_json_forces_json_lines_in_process(
    env: dict[str, str], two_tracked: FakeKeepa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_API_URL", two_tracked.url)
    monkeypatch.setenv("LOG_FORMAT", "json")

    result = CliRunner().invoke(app, ["check", "--all"])

    assert result.exit_code == 0, result.output
    [summary] = json_lines(result.stdout)
    assert summary["event"] == "check_summary" and summary["baselines"] == 2


def test_warnings_have_one_style_in_the_human_form(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {GADGETS: 1})
    keepa.fail_next = [500]  # the free /token call: a warning, then the pass goes on

    result = CliRunner().invoke(app, ["check", "--all"])

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert warnings and all(line.startswith("warning: ") for line in warnings)


def test_doctor_in_json_form_writes_one_line_per_finding(
    keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    keepa.fail_next = [400]

    result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 1
    findings = json_lines(result.stdout)
    for record in findings:
        assert_log_shape(record)
        assert record["event"] == "doctor_finding"
    failed = [record for record in findings if record["status"] == "fail"]
    assert failed and all(record["level"] == "error" for record in failed)
    assert any(record["part"] == "database" for record in findings)
    assert KEEPA_TEST_KEY not in result.output


def test_a_usage_error_when_piped_is_one_json_line(env: dict[str, str]) -> None:
    environment = {**os.environ, **env}
    environment.pop("LOG_FORMAT")

    result = subprocess.run(
        [*CHECK, "--no-such-option"], env=environment, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2 and result.stdout == ""
    [record] = json_lines(result.stderr)
    assert_log_shape(record)
    assert (record["event"], record["exit_code"]) == ("usage_error", 2)
    assert "--no-such-option" in record["message"]


def test_prune_in_json_form_is_one_summary_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")

    result = CliRunner().invoke(app, ["prune"])

    assert result.exit_code == 0, result.output
    [summary] = json_lines(result.stdout)
    assert_log_shape(summary)
    assert summary["event"] == "prune_summary" and summary["retention_days"] == 90
    assert summary["cutoff"].endswith("Z")


def test_many_invalid_asins_are_a_few_lines_a_count_and_the_command_that_lists_them(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    unknown = [f"B0NOWHERE{n}" for n in range(8)]  # the fake Keepa knows none: productType 4
    asin_store.add_tracked(conn, asins=unknown, marketplace="com", client=None)
    result = CliRunner().invoke(app, ["check"])
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4, warnings
    assert all("is invalid on Keepa" in line for line in warnings[:3])
    assert warnings[3] == (
        "warning: 5 more tracked ASINs are invalid on Keepa (8 in all; each run says so until"
        " they are fixed or removed): `bestseller doctor` lists every one"
    )
    doctor = CliRunner().invoke(app, ["doctor"], env={"LOG_FORMAT": "json"}).output
    assert all(asin in doctor for asin in unknown)


def test_a_reader_that_stops_early_ends_the_command_quietly(
    env: dict[str, str], keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client=None)
    conn.commit()
    child = subprocess.Popen(
        [sys.executable, "-m", "bestseller_cli", "asins", "list", "--json"],
        env=child_env(env, keepa),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # `| head -c 0`: gone before the first byte
    assert child.wait(timeout=120) == 1
    assert child.stderr.read() == b""
