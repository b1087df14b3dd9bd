"""Fault drills: `bestseller check` killed at random moments, services failing, the
database connection dropped. Afterwards, clean runs finish the work: every change recorded
once and every alert delivered exactly once.

Run just these with `pytest -m drill`; they are part of the default test command.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store, check_store, schema
from fakes import SLACK_TEST_TOKEN
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack, RecordedRequest
from tests.conftest import FULL_PASS

pytestmark = pytest.mark.drill

CHANNEL = "C0DRILLS"
CATEGORIES = [289913, 3015427011, 1055398]
KILLS = int(os.environ.get("BESTSELLER_DRILL_KILLS", "50"))
# Kill times are drawn within a pass measured afresh every this many kills.
KILLS_PER_MEASURE = 10


class SlowSlack(FakeSlack):
    """Takes a post, then waits before answering: a kill lands inside the crash window."""

    post_latency = 0.05

    def handle(self, request: RecordedRequest) -> tuple[Any, dict[str, Any]]:
        answer = super().handle(request)
        if request.method == "chat.postMessage":
            time.sleep(self.post_latency)
        return answer


def child_env(env: dict[str, str], keepa: FakeKeepa, slack: FakeSlack) -> dict[str, str]:
    return {
        **os.environ,
        **env,
        "KEEPA_API_URL": keepa.url,
        "SLACK_API_URL": slack.base_url,
        "SLACK_BOT_TOKEN": SLACK_TEST_TOKEN,
        "SLACK_CHANNEL_ID": CHANNEL,
        # Operations posts share the channel, so the exactly-once count covers them too;
        # killed passes are resumed, and Slack failing leaves alerts undelivered: both open
        # conditions.
        "SLACK_OPS_CHANNEL_ID": CHANNEL,
        "OPS_MAX_RESUMES": "0",
        "OPS_UNDELIVERED_MINUTES": "0",
        "BATCH_SIZE": "4",
        "MAX_RETRIES": "1",
    }


def churn(rng: random.Random, keepa: FakeKeepa, asins: list[str]) -> None:
    for asin in rng.sample(asins, k=3):
        keepa.set_ranks(asin, {category: rng.choice([1, 1, 2, 5]) for category in CATEGORIES})


def assert_every_change_alerted_exactly_once(conn: psycopg.Connection, slack: FakeSlack) -> None:
    """Each alert (and operations post) was posted exactly once, or folded into a message
    already posted for the same badge (flap control) — never both, never neither."""
    outbox = conn.execute(
        "SELECT id, status, slack_ts FROM notification_log ORDER BY id"
    ).fetchall()
    assert outbox, "the drill produced no alerts: it proves nothing"
    assert {status for _, status, _ in outbox} <= {"sent", "suppressed"}
    posts = Counter(i for message in slack.messages(CHANNEL) for i in message.outbox_ids)
    posted_ts = {message.ts for message in slack.messages(CHANNEL)}
    sent = {row_id for row_id, status, _ in outbox if status == "sent"}
    assert {row_id: posts[row_id] for row_id in sent} == dict.fromkeys(sent, 1)
    assert set(posts) == sent
    assert all(ts in posted_ts for _, status, ts in outbox if status == "suppressed")
    orphans = conn.execute(
        "SELECT count(*) FROM bestseller_changes c WHERE NOT EXISTS"
        " (SELECT 1 FROM notification_log n WHERE n.change_id = c.id)"
    ).fetchone()
    assert orphans == (0,)


def assert_changes_alternate(conn: psycopg.Connection) -> None:
    """Per ASIN and category, gains and losses alternate: nothing detected twice or lost."""
    rows = conn.execute(
        "SELECT asin, category_id, kind FROM bestseller_changes ORDER BY asin, category_id, id"
    ).fetchall()
    last: dict[tuple[str, int], str] = {}
    for asin, category, kind in rows:
        assert last.get((asin, category)) != kind, f"{asin} {category} {kind} twice in a row"
        last[(asin, category)] = kind


def assert_state_matches_the_world(conn: psycopg.Connection, keepa: FakeKeepa) -> None:
    for (_, asin), ranks in keepa.world.items():
        row = conn.execute(
            "SELECT badges FROM asin_current_state WHERE asin = %s", (asin,)
        ).fetchone()
        assert row is not None
        assert {int(c) for c in row[0]} == {c for c, rank in ranks.items() if rank == 1}


def full_pass_seconds(
    command: list[str], environment: dict[str, str], churn_world: Callable[[], None]
) -> float:
    """How long a whole pass with alerts takes on this machine, now: finish whatever an
    earlier kill left to resume, change the world, then time one full pass."""
    subprocess.run(command, env=environment, capture_output=True)
    churn_world()
    started = time.monotonic()
    subprocess.run(command, env=environment, capture_output=True)
    return time.monotonic() - started


def test_random_kills_lose_no_change_and_double_no_alert(
    env: dict[str, str], conn: psycopg.Connection, keepa_server: FakeKeepa
) -> None:
    rng = random.Random(20261123)
    asins = [f"B0DRILL{n:03d}" for n in range(16)]
    asin_store.add_tracked(conn, asins=asins, marketplace="com", client=None)
    for asin in asins:
        keepa_server.set_ranks(asin, {category: 3 for category in CATEGORIES})
    keepa_server.latency_seconds = 0.02
    with SlowSlack() as slack:
        environment = child_env(env, keepa_server, slack)
        command = [sys.executable, "-m", "bestseller_cli", "check", "--all"]
        assert subprocess.run(command, env=environment, capture_output=True).returncode == 0
        exit_codes: Counter[int] = Counter()
        pass_seconds = []
        for kill in range(KILLS):
            if kill % KILLS_PER_MEASURE == 0:
                # The seed fixes where in a pass each kill lands, not when: the machine's
                # speed (and its load, which drifts) decides how long a pass takes.
                pass_seconds.append(
                    full_pass_seconds(command, environment, lambda: churn(rng, keepa_server, asins))
                )
            churn(rng, keepa_server, asins)
            if rng.random() < 0.15:
                slack.fail_http("chat.postMessage", 503, times=2)
            if rng.random() < 0.15:
                slack.drop_after_recording("chat.postMessage")
            kill_after = rng.uniform(0.1, 0.95) * pass_seconds[-1]
            child = subprocess.Popen(
                command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                exit_codes[child.wait(timeout=kill_after)] += 1  # finished first: a resumed run
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGKILL)
                exit_codes[child.wait(timeout=30)] += 1
        report = f"{exit_codes}, full passes took {[round(s, 2) for s in pass_seconds]}s"
        assert exit_codes[-signal.SIGKILL] >= KILLS // 2, f"too few runs were killed: {report}"

        slack._scripts.clear()
        for _ in range(2):  # the first may finish a resumed run; the second is a full pass
            clean = subprocess.run(command, env=environment, capture_output=True, text=True)
            assert clean.returncode == 0, clean.stdout + clean.stderr
        assert_every_change_alerted_exactly_once(conn, slack)
    events = conn.execute(
        "SELECT count(*) FILTER (WHERE ops_event = 'raised'),"
        " count(*) FILTER (WHERE ops_event = 'resolved') FROM notification_log"
    ).fetchone()
    assert events is not None and events[0] >= 1, "no operations condition: it proves nothing"
    assert events[0] == events[1], "every condition raised was resolved once"
    assert_changes_alternate(conn)
    assert_state_matches_the_world(conn, keepa_server)
    duplicates = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM history_checks GROUP BY asin, run_id"
        " HAVING count(*) > 1) d"
    ).fetchone()
    assert duplicates == (0,)


def test_a_dropped_database_connection_fails_the_pass_and_the_next_one_finishes(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "2")
    asins = [f"B0DBDROP{n:02d}" for n in range(6)]
    asin_store.add_tracked(conn, asins=asins, marketplace="com", client=None)
    for asin in asins:
        keepa.set_ranks(asin, {CATEGORIES[0]: 2})
    original = check_store.load_batch
    calls = {"n": 0}

    def drop_on_second_batch(pass_conn: psycopg.Connection, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            pid = pass_conn.info.backend_pid
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return original(pass_conn, **kwargs)

    monkeypatch.setattr(check_store, "load_batch", drop_on_second_batch)
    result = CliRunner().invoke(app, ["check", "--all"])
    assert result.exit_code == 1
    # One line says what failed, what it means and what comes next; no trace, no "unexpected"
    assert result.output.strip().splitlines()[-1] == (
        "error: database error: the connection was lost (terminating connection due to"
        " administrator command); the pass stopped; the next `bestseller check` resumes it"
    )
    assert "Traceback" not in result.output and "unexpected" not in result.output
    monkeypatch.setattr(check_store, "load_batch", original)

    finished = run_check(load_settings(), options=FULL_PASS)
    assert finished.checked == 4 and finished.resumed
    checked = conn.execute("SELECT count(*) FROM asin_current_state").fetchone()
    assert checked == (6,)
    # 6 once, plus the batch that died uncommitted and the one already fetched ahead of it
    assert keepa.products_served == 6 + 2 + 2


def test_a_dropped_database_connection_reads_as_a_database_error_in_any_command(
    env: dict[str, str], conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = schema.migrate

    def drop_then_migrate(command_conn: psycopg.Connection) -> list[str]:
        conn.execute("SELECT pg_terminate_backend(%s)", (command_conn.info.backend_pid,))
        return original(command_conn)

    monkeypatch.setattr(schema, "migrate", drop_then_migrate)
    result = CliRunner().invoke(app, ["settings", "show"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: database error: the connection was lost (terminating connection due to"
        " administrator command); the command stopped"
    )


def test_keepa_rejecting_the_key_exits_2_and_records_the_error(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    asin_store.add_tracked(conn, asins=["B0REJECTED"], marketplace="com", client=None)
    keepa.fail_next = [400]
    result = CliRunner().invoke(app, ["check", "--all"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: Keepa rejected the request (HTTP 400 REQUEST_REJECTED): check KEEPA_API_KEY"
    )
    assert "unexpected" not in result.output and "Traceback" not in result.output
    kinds = conn.execute("SELECT kind FROM error_log").fetchall()
    assert ("keepa_rejected",) in kinds


def test_keepa_failing_beyond_retries_leaves_asins_for_the_next_run(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_RETRIES", "1")
    asin_store.add_tracked(conn, asins=["B0KEEPADWN"], marketplace="com", client=None)
    keepa.set_ranks("B0KEEPADWN", {CATEGORIES[0]: 1})
    keepa.fail_next = [500, 500, 500, 500]  # /token and /product attempts
    failed = CliRunner().invoke(app, ["check", "--all", "--json"])
    assert failed.exit_code == 1
    assert "B0KEEPADWN (com)" in failed.output
    keepa.fail_next = []
    assert run_check(load_settings(), options=FULL_PASS).checked == 1
