"""`bestseller report` over seeded history: counts, badge share, streaks, cost, alerts, errors."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner, Result

from bestseller_cli.cli.app import app
from bestseller_cli.errors import ConfigError
from bestseller_cli.kinds import count
from bestseller_cli.output import console
from bestseller_cli.report.build import parse_since
from bestseller_cli.shapes import report_models
from fakes import SLACK_TEST_TOKEN
from fakes.slack_server import FakeSlack

runner = CliRunner()
A, B, C = "B0AAAAAAAA", "B0BBBBBBBB", "B0CCCCCCCC"  # acme's, globex's, no longer tracked
GARLIC, TOOLS = 3744, 200
NAMES = {GARLIC: "Garlic Presses", TOOLS: "Kitchen Tools"}
NOW = datetime.now(UTC)
BASE = NOW - timedelta(hours=10)  # inside the default 24h period
OLD = NOW - timedelta(days=3)  # outside it
# A's checks, hourly from BASE: 1 holds a badge, 0 does not, None Keepa had no data.
A_CHECKS = [0, 1, 1, 0, 1, 1, 1, None, 1, 0]


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def report_json(*args: str) -> dict:
    result = run("report", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def hours(n: float) -> datetime:
    return BASE + timedelta(hours=n)


def add_history(conn: psycopg.Connection, asin: str, at: datetime, holding: bool | None) -> None:
    conn.execute(
        "INSERT INTO asin_history (asin, marketplace, observed_at, available, title,"
        " badge_category_ids) VALUES (%s, 'com', %s, %s, %s, %s)",
        (asin, at, holding is not None, f"Product {asin[-1]}", [GARLIC] if holding else []),
    )


def add_change(conn: psycopg.Connection, asin: str, kind: str, at: datetime) -> int:
    row = conn.execute(
        "INSERT INTO bestseller_changes (asin, marketplace, category_id, category_name, kind,"
        " rank_before, rank_after, main_rank, title, detected_at, changed_at)"
        " VALUES (%s, 'com', %s, 'Garlic Presses', %s, %s, %s, 412, %s, %s, %s) RETURNING id",
        (asin, GARLIC, kind, 2 if kind == "gained" else 1, 1 if kind == "gained" else 3,
         f"Product {asin[-1]}", at, at),
    ).fetchone()  # fmt: skip
    assert row is not None
    return row[0]


def add_alert(
    conn: psycopg.Connection,
    change: int,
    status: str,
    client: str | None,
    at: datetime,
    *,
    due: datetime | None = None,
) -> None:
    conn.execute(
        "INSERT INTO notification_log (change_id, client_id, channel, status, created_at,"
        " deliver_after) VALUES (%s, (SELECT id FROM clients WHERE name = %s), %s, %s, %s, %s)",
        (change, client, f"C-{client}" if client else None, status, at, due or at),
    )


def add_state(conn: psycopg.Connection, asin: str, badges: dict[int, datetime]) -> None:
    conn.execute(
        "INSERT INTO asin_current_state (asin, marketplace, available, title, main_rank,"
        " category_ranks, badges, first_seen_at, last_checked_at)"
        " VALUES (%s, 'com', true, %s, 412, %s, %s, %s, %s)",
        (
            asin,
            f"Product {asin[-1]}",
            Jsonb({str(c): {"name": NAMES[c], "rank": 1} for c in badges}),
            Jsonb({str(c): since.isoformat() for c, since in badges.items()}),
            OLD,
            hours(9),
        ),
    )


@pytest.fixture
def seeded(env: dict[str, str], conn: psycopg.Connection) -> psycopg.Connection:
    """Two clients' ASINs with ten hours of history, changes, alerts, Keepa calls, errors."""
    run("clients", "add", "acme")
    assert run("asins", "add", A, "--client", "acme").exit_code == 0
    run("clients", "add", "globex")
    assert run("asins", "add", B, C, "--client", "globex").exit_code == 0
    assert run("asins", "remove", C).exit_code == 0
    for index, holding in enumerate(A_CHECKS):
        add_history(conn, A, hours(index), holding)
    for index in range(4):
        add_history(conn, B, hours(index), True)
    add_history(conn, A, OLD, True)
    a_gain = add_change(conn, A, "gained", hours(1))
    a_loss = add_change(conn, A, "lost", hours(3))
    a_gain_again = add_change(conn, A, "gained", hours(4))
    b_gain = add_change(conn, B, "gained", hours(0))
    old_change = add_change(conn, A, "lost", OLD)
    add_alert(conn, a_gain, "sent", "acme", hours(1))
    add_alert(conn, a_loss, "refused", "acme", hours(3))
    add_alert(conn, a_gain_again, "pending", "acme", hours(4))
    add_alert(conn, b_gain, "sent", "globex", hours(0))
    add_alert(conn, a_gain, "suppressed", None, hours(1))
    add_alert(conn, b_gain, "pending", "acme", hours(2), due=NOW + timedelta(hours=8))
    add_alert(conn, old_change, "sent", "acme", OLD)
    add_state(conn, A, {GARLIC: hours(4)})
    add_state(conn, B, {GARLIC: hours(0), TOOLS: hours(2)})
    add_state(conn, C, {GARLIC: OLD})
    for tokens, cost, at in [(10, 0.10, hours(1)), (20, 0.20, hours(2)), (30, 0.30, hours(3))]:
        conn.execute(
            "INSERT INTO api_usage_log (called_at, endpoint, tokens_consumed, asin_count,"
            " duration_ms, estimated_cost_usd) VALUES (%s, 'product', %s, 2, 100, %s)",
            (at, tokens, cost),
        )
    conn.execute(
        "INSERT INTO api_usage_log (called_at, endpoint, tokens_consumed, duration_ms,"
        " estimated_cost_usd) VALUES (%s, 'product', 1000, 100, 10)",
        (OLD,),
    )
    for source, kind, asin, at in [
        ("keepa", "timeout", None, hours(1)),
        ("keepa", "timeout", None, hours(5)),
        ("slack", "channel_not_found", B, hours(2)),
        ("database", "lost_connection", None, OLD),
    ]:
        conn.execute(
            "INSERT INTO error_log (source, kind, message, asin, occurred_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (source, kind, f"{kind} at {at:%H:%M}", asin, at),
        )
    return conn


def by_asin(report: dict) -> dict[str, dict]:
    return {row["asin"]: row for row in report["asins"]}


def test_report_counts_the_changes_in_the_period_only(seeded: psycopg.Connection) -> None:
    report = report_json()
    assert (report["changes"]["gained"], report["changes"]["lost"]) == (3, 1)
    events = report["changes"]["events"]
    assert [(e["asin"], e["kind"]) for e in events] == [
        (B, "gained"),
        (A, "gained"),
        (A, "lost"),
        (A, "gained"),
    ]
    assert events[1]["category_name"] == "Garlic Presses"
    assert (events[1]["rank_before"], events[1]["rank_after"]) == (2, 1)


def test_a_longer_period_includes_older_changes(seeded: psycopg.Connection) -> None:
    report = report_json("--since", "7d")
    assert (report["changes"]["gained"], report["changes"]["lost"]) == (3, 2)
    assert report["period"]["days"] == 7.0


def test_badge_share_is_holding_checks_over_available_checks(seeded: psycopg.Connection) -> None:
    rows = by_asin(report_json())
    assert (rows[A]["checks"], rows[A]["badge_checks"], rows[A]["unavailable_checks"]) == (9, 6, 1)
    assert rows[A]["badge_share"] == pytest.approx(6 / 9, abs=1e-4)
    assert rows[B]["badge_share"] == 1.0


def test_longest_streak_runs_through_a_check_without_data_until_the_badge_is_lost(
    seeded: psycopg.Connection,
) -> None:
    streak = by_asin(report_json())[A]["longest_streak"]
    assert streak["checks"] == 4  # hours 4, 5, 6 and 8; hour 7 had no data
    assert streak["ongoing"] is False
    assert datetime.fromisoformat(streak["started_at"]) == hours(4)
    assert datetime.fromisoformat(streak["ended_at"]) == hours(9)
    assert streak["duration_seconds"] == 5 * 3600


def test_a_streak_still_held_at_the_last_check_is_ongoing(seeded: psycopg.Connection) -> None:
    streak = by_asin(report_json())[B]["longest_streak"]
    assert (streak["checks"], streak["ongoing"], streak["duration_seconds"]) == (4, True, 3 * 3600)


def test_an_asin_that_never_held_a_badge_has_no_streak(seeded: psycopg.Connection) -> None:
    seeded.execute("UPDATE asin_history SET badge_category_ids = '{}' WHERE asin = %s", (A,))
    row = by_asin(report_json())[A]
    assert (row["longest_streak"], row["badge_share"]) == (None, 0.0)


def test_per_asin_rows_count_gains_losses_and_badges_now(seeded: psycopg.Connection) -> None:
    rows = by_asin(report_json())
    assert (rows[A]["gained"], rows[A]["lost"], rows[A]["badges_now"]) == (2, 1, ["Garlic Presses"])
    assert rows[B]["badges_now"] == ["Kitchen Tools", "Garlic Presses"]
    assert rows[A]["title"] == "Product A"


def test_current_holders_are_tracked_asins_holding_a_badge_now(seeded: psycopg.Connection) -> None:
    holders = report_json()["holders"]
    assert [h["asin"] for h in holders] == [A, B]
    assert [b["category_id"] for b in holders[1]["badges"]] == [TOOLS, GARLIC]
    assert datetime.fromisoformat(holders[0]["badges"][0]["since"]) == hours(4)


def test_keepa_tokens_cost_and_cost_per_asin_per_day(seeded: psycopg.Connection) -> None:
    keepa = report_json()["keepa"]
    assert (keepa["calls"], keepa["tokens_used"], keepa["asins_checked"]) == (3, 60, 2)
    assert keepa["estimated_cost_usd"] == pytest.approx(0.60)
    assert keepa["cost_per_asin_per_day_usd"] == pytest.approx(0.30)  # $0.60 / 2 ASINs / 1 day


def test_a_call_without_a_stored_cost_is_priced_by_the_token_cost_setting(
    seeded: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_TOKEN_COST_USD", "0.01")
    seeded.execute("UPDATE api_usage_log SET estimated_cost_usd = NULL WHERE tokens_consumed = 30")
    assert report_json()["keepa"]["estimated_cost_usd"] == pytest.approx(0.10 + 0.20 + 0.30)
    seeded.execute("UPDATE api_usage_log SET tokens_consumed = 50 WHERE tokens_consumed = 30")
    assert report_json()["keepa"]["estimated_cost_usd"] == pytest.approx(0.10 + 0.20 + 0.50)


def test_alerts_are_counted_by_status(seeded: psycopg.Connection) -> None:
    assert report_json()["alerts"] == {
        "sent": 2,
        "printed": 0,
        "refused": 1,
        "expired": 0,
        "pending": 1,
        "held": 1,
        "sending": 0,
        "suppressed": 1,
        "total": 6,
    }


def test_errors_are_grouped_by_kind_with_the_latest_message(seeded: psycopg.Connection) -> None:
    errors = report_json()["errors"]
    assert [(e["source"], e["kind"], e["count"]) for e in errors] == [
        ("keepa", "timeout", 2),
        ("slack", "channel_not_found", 1),
    ]
    assert errors[0]["last_message"] == f"timeout at {hours(5):%H:%M}"


def test_client_report_covers_only_that_clients_asins(seeded: psycopg.Connection) -> None:
    report = report_json("--client", "acme")
    assert report["client"] == "acme"
    assert (report["changes"]["gained"], report["changes"]["lost"]) == (2, 1)
    assert [h["asin"] for h in report["holders"]] == [A]
    assert list(by_asin(report)) == [A]
    # its four (one held for a digest), and the unaddressed one about A
    assert (report["alerts"]["total"], report["alerts"]["held"]) == (5, 1)
    assert [(e["source"], e["kind"]) for e in report["errors"]] == [("keepa", "timeout")]


def test_client_report_charges_its_share_of_keepa_checks(seeded: psycopg.Connection) -> None:
    keepa = report_json("--client", "acme")["keepa"]
    share = 10 / 14  # A's 10 checks (one without data still costs) of 14
    assert keepa["share_of_account"] == pytest.approx(share, abs=1e-4)
    assert keepa["tokens_used"] == round(60 * share)
    assert keepa["estimated_cost_usd"] == pytest.approx(0.60 * share, abs=1e-6)
    assert keepa["cost_per_asin_per_day_usd"] == pytest.approx(0.60 * share, abs=1e-6)


def test_report_for_an_unknown_client_is_an_error(env: dict[str, str]) -> None:
    result = run("report", "--client", "nobody")
    assert result.exit_code == 2
    assert "no client named 'nobody'" in result.stderr


def test_json_report_has_the_documented_shape(seeded: psycopg.Connection) -> None:
    report = report_json()
    documented = report_models.__doc__ or ""
    assert report["schema_version"] == report_models.SCHEMA_VERSION
    assert set(report) == {
        "schema_version",
        "generated_at",
        "client",
        "period",
        "changes",
        "holders",
        "asins",
        "keepa",
        "alerts",
        "errors",
        "conditions",
        "categories",  # its keys: tests/report/test_categories.py
    }
    sections = [report, report["period"], report["keepa"], report["alerts"]]
    sections += [report["changes"]["events"][0], report["holders"][0], report["asins"][0]]
    sections += [report["holders"][0]["badges"][0], report["errors"][0]]
    sections += [report["asins"][0]["longest_streak"]]
    per_kind = set(count(()))  # documented once for every kind, from kinds.py
    assert "one count per kind of change (kinds.py)" in documented
    for section in sections:
        for key in set(section) - per_kind:
            assert f'"{key}"' in documented, f"{key} is not documented in report_models"
    for moment in (report["generated_at"], report["period"]["since"]):
        assert datetime.fromisoformat(moment).tzinfo is not None


def test_csv_report_is_one_row_per_asin(seeded: psycopg.Connection) -> None:
    result = run("report", "--csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["asin"] for row in rows] == [A, B]
    assert (rows[0]["longest_streak_checks"], rows[0]["longest_streak_seconds"]) == ("4", "18000")
    assert rows[0]["badges_now"] == "Garlic Presses"


def test_markdown_report_has_a_table_per_section(seeded: psycopg.Connection) -> None:
    result = run("report", "--markdown")
    assert result.exit_code == 0, result.stderr
    for heading in ("## Badge changes", "## #1 Best Sellers now", "## Per ASIN"):
        assert heading in result.stdout
    assert re.search(
        rf"\| {A} \| com \| Product A \| 9 \| 67% \| 4 checks, 5h 0m \|", result.stdout
    )


def test_human_report_shows_the_summary_and_tables(
    seeded: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "_width", 220)
    result = run("report")
    assert result.exit_code == 0, result.stderr
    assert "Badges: 3 gained, 1 lost; 2 ASIN(s) hold #1 now" in result.stdout
    assert "Keepa: 60 tokens in 3 calls, ≈ $0.60, $0.3000 per ASIN per day" in result.stdout
    assert (
        "Alerts: 2 sent, 0 printed, 1 refused, 1 pending, 0 expired, 1 held, 1 suppressed"
        in result.stdout
    )
    assert "keepa/timeout: 2" in result.stdout
    assert "4 checks, 5h 0m" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes


def test_an_empty_period_reports_zeros(env: dict[str, str]) -> None:
    report = report_json()
    assert report["changes"] == {**count(()), "events": []}
    assert (report["asins"], report["holders"], report["errors"]) == ([], [], [])
    assert report["keepa"]["cost_per_asin_per_day_usd"] is None
    assert "No checks, changes or badge holders" in run("report").stdout


def test_only_one_output_format_at_a_time(env: dict[str, str]) -> None:
    result = run("report", "--json", "--csv")
    assert result.exit_code == 2
    assert "choose one of --json, --csv, --categories-csv, --markdown and --html" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2026-01-15", datetime(2026, 1, 15, tzinfo=UTC)),
        ("2026-01-15T06:30:00+02:00", datetime(2026, 1, 15, 4, 30, tzinfo=UTC)),
    ],
)
def test_since_accepts_durations_and_dates(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7", "-3d", "2999-01-01"])
def test_since_rejects_what_it_cannot_read_or_the_future(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_since(text, now=NOW)


def test_to_slack_without_a_token_is_a_clear_error(env: dict[str, str]) -> None:
    result = run("report", "--to-slack")
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_to_slack_posts_a_digest_to_the_clients_channel(
    seeded: psycopg.Connection, slack_server: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TEST_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_server.base_url)
    assert run("clients", "rule", "acme", "--channel", "C0ACME1234").exit_code == 0
    result = run("report", "--client", "acme", "--json", "--to-slack")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["client"] == "acme"  # stdout stays pure JSON
    assert "posted the report to C0ACME1234" in result.stderr
    [message] = slack_server.messages("C0ACME1234")
    text = json.dumps(message.blocks)
    assert "Badge changes" in text
    assert "Product A" in text
    assert "Product B" not in text


def test_to_slack_without_any_channel_names_the_ways_to_set_one(
    seeded: psycopg.Connection, slack_server: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TEST_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_server.base_url)
    result = run("report", "--to-slack")
    assert result.exit_code == 2
    assert "SLACK_CHANNEL_ID" in result.stderr
    assert slack_server.messages() == []


def test_slack_refusing_the_report_is_one_line_naming_slack_and_its_reason(
    env: dict[str, str], slack_server: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TEST_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_server.base_url)
    slack_server.fail_with("chat.postMessage", "channel_not_found")
    result = run("report", "--to-slack", "--channel", "C0GONE0001")
    assert result.exit_code == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: Slack chat.postMessage failed: channel_not_found")
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    assert SLACK_TEST_TOKEN not in result.stdout + result.stderr


def test_human_times_are_utc_whatever_the_database_time_zone(
    seeded: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGTZ", "America/New_York")
    result = run("report", "--markdown")
    assert result.exit_code == 0, result.stderr
    assert f"| {hours(1):%Y-%m-%d %H:%M} | {A} |" in result.stdout


def test_json_times_are_utc_whatever_the_database_time_zone(
    seeded: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGTZ", "America/New_York")
    report = report_json()
    times = [report["generated_at"], report["changes"]["events"][0]["detected_at"]]
    times += [report["holders"][0]["last_checked_at"], report["errors"][0]["last_at"]]
    times += [report["holders"][0]["badges"][0]["since"]]
    assert all(moment.endswith("Z") for moment in times), times
