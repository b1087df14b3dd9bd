"""Operations alerts: each condition posted once to SLACK_OPS_CHANNEL_ID, updated in place
while it lasts, resolved once; also shown by `doctor` and `report` without Slack."""

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.errors import BestsellerError
from bestseller_cli.rules.ops_rules import LastAttempt, Limits, PassFacts, judge
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack, PostedMessage
from tests.conftest import FULL_PASS, SLACK_CHANNEL

OPS = "C0OPS"
ACME = "C0ACME"
A = "B0OPSAAAAA"
GADGETS = 289913
LIMITS = Limits(
    schedule_minutes=60, undelivered_minutes=60, max_resumes=3, database_size_limit_mb=None
)


@dataclass
class World:
    keepa: FakeKeepa
    slack: FakeSlack
    conn: psycopg.Connection
    monkeypatch: pytest.MonkeyPatch

    def check(self) -> CheckSummary | None:
        """One pass as cron runs it; a pass that fails (Keepa rejecting the key) is None."""
        try:
            return run_check(load_settings(), options=FULL_PASS)
        except BestsellerError:
            return None

    def flip(self) -> None:
        """A badge change, so the pass has an alert to deliver."""
        rank = self.keepa.world[("com", A)][GADGETS]
        self.keepa.set_ranks(A, {GADGETS: 2 if rank == 1 else 1})

    def set(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)


@pytest.fixture
def world(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> World:
    monkeypatch.setenv("SLACK_OPS_CHANNEL_ID", OPS)
    monkeypatch.setenv("MAX_RETRIES", "0")
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {GADGETS: 3})
    return World(keepa, slack, conn, monkeypatch)


def ops_rows(conn: psycopg.Connection, kind: str) -> list[tuple[int, str, str]]:
    """(outbox id, raised|resolved, status) of the kind's operations posts."""
    return conn.execute(
        "SELECT n.id, n.ops_event, n.status FROM notification_log n"
        " JOIN ops_conditions c ON c.id = n.ops_condition_id WHERE c.kind = %s ORDER BY n.id",
        (kind,),
    ).fetchall()


def ops_messages(world: World, kind: str) -> list[PostedMessage]:
    ids = {row_id for row_id, _, _ in ops_rows(world.conn, kind)}
    return [m for m in world.slack.messages(OPS) if set(m.outbox_ids) & ids]


def keepa_out_of_tokens(world: World) -> None:
    world.set("KEEPA_MAX_TOKEN_WAIT_SECONDS", "0")
    original = FakeKeepa.answer

    def no_tokens_for_products(path: str, query: dict) -> tuple[int, dict]:
        if "asin" in query:
            return 429, {"tokensLeft": -5, "refillIn": 60_000, "refillRate": 5}
        return original(world.keepa, path, query)

    world.keepa.answer = no_tokens_for_products  # type: ignore[method-assign]


def keepa_has_tokens(world: World) -> None:
    del world.keepa.answer


def keepa_fails(world: World) -> None:
    world.keepa.failing_endpoints["product"] = 500


def keepa_works(world: World) -> None:
    world.keepa.failing_endpoints.clear()


def rejects_key(world: World) -> None:
    world.keepa.failing_endpoints["token"] = 400


def acme_refuses_the_bot(world: World) -> None:
    result = CliRunner().invoke(app, ["clients", "add", "acme", "--channel", ACME])
    assert result.exit_code == 0, result.output
    asin_store.add_tracked(world.conn, asins=[A], marketplace="com", client="acme")
    world.slack.channel_errors[ACME] = "not_in_channel"
    world.flip()


def acme_invites_the_bot(world: World) -> None:
    del world.slack.channel_errors[ACME]
    world.flip()


def slack_struggles(world: World) -> None:
    world.set("OPS_UNDELIVERED_MINUTES", "0")
    world.slack.channel_errors[SLACK_CHANNEL] = "service_unavailable"
    world.flip()


def slack_recovers(world: World) -> None:
    del world.slack.channel_errors[SLACK_CHANNEL]


def deadline_too_short(world: World) -> None:
    world.set("RUN_DEADLINE_MINUTES", "0.5")  # minus the one-minute margin: stop at once


def deadline_restored(world: World) -> None:
    world.set("RUN_DEADLINE_MINUTES", "50")


def passes_keep_stopping(world: World) -> None:
    world.set("OPS_MAX_RESUMES", "0")
    keepa_fails(world)
    world.check()  # the pass that the next ones resume


def five_hours_without_a_completed_pass(world: World) -> None:
    world.conn.execute(
        "UPDATE check_runs SET started_at = started_at - interval '5 hours',"
        " finished_at = finished_at - interval '5 hours'"
    )
    keepa_fails(world)


def database_limit_near(world: World) -> None:
    world.set("DATABASE_SIZE_LIMIT_MB", "1")


def database_limit_raised(world: World) -> None:
    world.set("DATABASE_SIZE_LIMIT_MB", "100000")


Step = Callable[[World], None]
CASES: dict[str, tuple[Step, Step, str]] = {
    "keepa_rejected": (rejects_key, keepa_works, "Keepa rejects the API key (HTTP 400"),
    "keepa_plan": (keepa_out_of_tokens, keepa_has_tokens, "1 ASINs left unchecked"),
    "channel_refused": (acme_refuses_the_bot, acme_invites_the_bot, "client acme's channel"),
    "alerts_undelivered": (slack_struggles, slack_recovers, "1 alerts undelivered"),
    "run_deadline": (deadline_too_short, deadline_restored, "hit its deadline (0.5 min)"),
    "pass_resumed": (passes_keep_stopping, keepa_works, "resumed 3 times (more than 0)"),
    "pass_gap": (five_hours_without_a_completed_pass, keepa_works, "No pass completed between"),
    "database_size": (database_limit_near, database_limit_raised, "of its 1 MB limit"),
}


@pytest.mark.parametrize("kind", CASES)
def test_a_condition_is_posted_once_updated_in_place_and_resolved_once(
    world: World, kind: str
) -> None:
    breaks, mends, says = CASES[kind]
    world.check()  # a healthy baseline
    assert ops_rows(world.conn, kind) == []

    breaks(world)
    for _ in range(3):
        world.check()
    [raised] = ops_messages(world, kind)
    assert [(event, status) for _, event, status in ops_rows(world.conn, kind)] == [
        ("raised", "sent")
    ]
    assert says in raised.text and "3 passes" in raised.text, raised.text
    assert raised.edits == 2  # pass 2 and pass 3 updated it

    mends(world)
    for _ in range(3):  # a condition judged at the end of a pass clears one pass later
        world.check()
    first, resolved = ops_messages(world, kind)
    assert first.ts == raised.ts and first.text.startswith("✅ ")  # the first says so too
    assert resolved.text.startswith("✅ Resolved: ")
    assert [event for _, event, _ in ops_rows(world.conn, kind)] == ["raised", "resolved"]
    closed = world.conn.execute(
        "SELECT count(*) FROM ops_conditions WHERE kind = %s AND closed_at IS NOT NULL", (kind,)
    ).fetchone()
    assert closed == (1,)


def test_a_five_hour_gap_is_reported_by_the_next_run(world: World) -> None:
    five_hours_ago = datetime.now(UTC) - timedelta(hours=5)
    world.conn.execute(
        "INSERT INTO check_runs (started_at, finished_at, status) VALUES (%s, %s, 'completed')",
        (five_hours_ago - timedelta(minutes=3), five_hours_ago),
    )
    summary = world.check()
    assert summary is not None
    [message] = world.slack.messages(OPS)
    start = five_hours_ago.strftime("%Y-%m-%d %H:%M UTC")
    assert f"No pass completed between {start} and " in message.text
    assert summary.conditions and summary.conditions[0].startswith("No pass completed")


def test_an_ops_post_whose_answer_was_lost_is_not_posted_again(world: World) -> None:
    world.set("DATABASE_SIZE_LIMIT_MB", "1")
    world.slack.drop_after_recording("chat.postMessage")
    world.slack.fail_with("conversations.history", "internal_error", times=1)
    world.check()  # posted, unanswered, history unreadable: the row stays `sending`
    assert [status for _, _, status in ops_rows(world.conn, "database_size")] == ["sending"]
    world.check()
    assert len(ops_messages(world, "database_size")) == 1
    assert [status for _, _, status in ops_rows(world.conn, "database_size")] == ["sent"]


def test_without_an_ops_channel_conditions_are_recorded_and_shown_by_doctor_and_report(
    world: World,
) -> None:
    world.monkeypatch.delenv("SLACK_OPS_CHANNEL_ID")
    database_limit_near(world)
    world.check()
    assert world.slack.messages(OPS) == []
    doctor = CliRunner().invoke(app, ["doctor"])
    assert "SLACK_OPS_CHANNEL_ID unset" in doctor.output
    assert "database is at" in " ".join(doctor.output.split())
    database_limit_raised(world)
    world.check()
    report = CliRunner().invoke(app, ["report", "--json"])
    [condition] = json.loads(report.output)["conditions"]
    assert condition["kind"] == "database_size" and condition["closed_at"] is not None
    assert condition["passes"] == 1


def test_rules_leave_a_kind_alone_when_the_pass_could_not_judge_it() -> None:
    now = datetime.now(UTC)
    verdict = judge(PassFacts(now=now, finished=False, keepa_answered=False), LIMITS)
    assert verdict.holding == []
    assert not {"keepa_rejected", "keepa_plan", "run_deadline", "database_size"} & verdict.judged
    gap = PassFacts(
        now=now,
        finished=True,
        keepa_answered=True,
        previous_completed_at=now - timedelta(minutes=119),
    )
    assert judge(gap, LIMITS).holding == []
    late = PassFacts(
        now=now,
        finished=True,
        keepa_answered=True,
        previous_completed_at=now - timedelta(hours=2, minutes=1),
    )
    assert [c.kind for c in judge(late, LIMITS).holding] == ["pass_gap"]


def test_only_a_channel_whose_latest_attempt_was_refused_is_a_condition() -> None:
    attempts = [
        LastAttempt("C0GONE", False, "Slack chat.postMessage failed: channel_not_found", "acme"),
        LastAttempt("C0SLOW", False, "Slack chat.postMessage failed: HTTP 503", None),
        LastAttempt("C0FINE", True, None, "beta"),
    ]
    facts = PassFacts(now=datetime.now(UTC), finished=True, keepa_answered=True)
    [refused] = judge(replace(facts, last_attempts=attempts), LIMITS).holding
    assert refused.subject == "C0GONE"
    assert "client acme's channel C0GONE (channel_not_found)" in refused.headline
    assert refused.fix == "check the channel id C0GONE (`bestseller clients rule`)"
