"""`bestseller doctor`: a green table when all is well, a red row and exit 1 when not."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.maintenance.doctor import MB, storage_finding
from bestseller_cli.store import asin_store, category_store
from bestseller_cli.store.history_store import SizeSample
from fakes import KEEPA_TEST_KEY
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack

runner = CliRunner()


def table_text(output: str) -> str:
    """The table's words in reading order (a wrapped cell continues on the next lines)."""
    return " ".join(re.sub(r"[│┃┏┓┗┛━┡┩└┘─┳┻╇┼┬┴]", " ", output).split())


def test_all_green_when_every_part_works(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    asin_store.add_tracked(conn, asins=["B0AAAAAAAA"], marketplace="com", client=None)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "fail" not in result.output
    for part in ("database", "run lock", "Keepa key", "Keepa budget", "Slack token", "C0ALERTS"):
        assert part in result.output


def test_a_rejected_keepa_key_is_a_red_row_without_the_key(
    keepa: FakeKeepa, slack: FakeSlack
) -> None:
    keepa.fail_next = [400]
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "fail" in result.output and "KEEPA_API_KEY" in result.output
    assert KEEPA_TEST_KEY not in result.output


def test_a_bot_outside_its_channel_is_red(keepa: FakeKeepa, slack: FakeSlack) -> None:
    slack.not_member_of.add("C0ALERTS")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "/invite" in result.output


def test_a_plan_too_small_for_the_watch_list_is_red(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    original = keepa.answer

    def tiny_plan(path: str, query: dict) -> tuple[int, dict]:
        status, body = original(path, query)
        return status, {**body, "refillRate": 0}

    keepa.answer = tiny_plan  # type: ignore[method-assign]
    asin_store.add_tracked(conn, asins=["B0AAAAAAAA"], marketplace="com", client=None)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    told = " ".join(result.output.split())
    assert "1 ASINs watched" in told and "it can watch 0 ASINs" in told


def test_missing_keepa_key_is_red_and_named(slack: FakeSlack, monkeypatch) -> None:
    monkeypatch.delenv("KEEPA_API_KEY")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "KEEPA_API_KEY" in result.output


def test_doctor_shows_size_growth_and_days_left_until_the_limit(
    keepa: FakeKeepa, slack: FakeSlack, conn, monkeypatch
) -> None:
    size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    mb = 1024 * 1024
    # Two passes a week apart, the database grew 70 MB between them: 10 MB a day.
    conn.execute(
        "INSERT INTO check_runs (started_at, finished_at, status, summary) VALUES"
        " (now() - interval '6 days', now() - interval '6 days', 'completed',"
        "  jsonb_build_object('database_bytes', %(then)s::bigint)),"
        " (now() - interval '1 day', now() - interval '1 day', 'completed',"
        "  jsonb_build_object('database_bytes', %(now)s::bigint))",
        {"then": size - 50 * mb, "now": size},
    )
    monkeypatch.setenv("DATABASE_SIZE_LIMIT_MB", str(round(size / mb) + 100))
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    shown = table_text(result.output)
    assert "grows 10.00 MB per day" in shown
    assert "10 days left" in shown and "warn database size" in shown


def test_growth_is_not_extrapolated_from_less_than_a_day_of_passes() -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    minutes_apart = [
        SizeSample(at=start, bytes=10 * MB),
        SizeSample(at=start + timedelta(minutes=5), bytes=11 * MB),
    ]
    finding = storage_finding(size=11 * MB, samples=minutes_apart, limit_mb=500)
    assert "not enough history yet" in finding.detail and "per day" not in finding.detail
    assert finding.status == "ok" and "days left" not in finding.detail
    a_day_apart = [minutes_apart[0], SizeSample(at=start + timedelta(days=1), bytes=11 * MB)]
    finding = storage_finding(size=11 * MB, samples=a_day_apart, limit_mb=500)
    assert "grows 1.00 MB per day (last 1.0 days)" in finding.detail


def test_a_database_over_its_size_limit_is_red(keepa: FakeKeepa, slack: FakeSlack, monkeypatch):
    monkeypatch.setenv("DATABASE_SIZE_LIMIT_MB", "1")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "fail database size" in table_text(result.output)
    assert "over the 1 MB limit" in table_text(result.output)


def test_history_in_the_old_format_is_yellow_with_the_command_that_converts_it(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    conn.execute("INSERT INTO asin_history (asin, marketplace, observed_at, available)"
                 " VALUES ('B0AAAAAAAA', 'com', now(), true)")  # fmt: skip
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "warn history" in table_text(result.output)
    assert "bestseller db upgrade" in table_text(result.output)


def test_charts_without_the_files_scope_are_red(
    keepa: FakeKeepa, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CHARTS", "true")
    assert "files:write granted" in table_text(runner.invoke(app, ["doctor"]).output)
    slack.scopes.remove("files:write")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "the token lacks files:write" in table_text(result.output)
    monkeypatch.delenv("SLACK_CHARTS")
    assert "Slack charts" not in runner.invoke(app, ["doctor"]).output


def test_the_forecast_tells_asins_per_interval_the_tokens_they_need_and_the_longest_wait(
    keepa: FakeKeepa, slack: FakeSlack, conn, monkeypatch
) -> None:
    asins = ["B0HOLDER01", "B0MIDDLE01", "B0FARAWAY1"]
    asin_store.add_tracked(conn, asins=asins, marketplace="com", client=None)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for asin, rank in zip(asins, (1, 12, 900), strict=True):
        keepa.set_ranks(asin, {1055398: 40_000, 289913: rank})
        keepa.options[asin] = {"last_update": now - timedelta(minutes=10)}
    run_check(load_settings(), clock=lambda: now)
    told = table_text(runner.invoke(app, ["doctor"]).output)
    # Within Keepa's refresh (an hour), a check is priced live, 2 tokens: the holder every
    # run (8/h) and #12 hourly (2/h); #900 twice a day.
    assert (
        "3 ASINs watched: 1 every run, 1 within 1 h, 1 within 12 h; they need 10 tokens/h,"
        " the plan gives 1,200; a change waits at most 12 h 15 min to be seen" in told
    )
    assert "sooner than Keepa's cache refreshes count as live" in told
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "4")
    squeezed = table_text(runner.invoke(app, ["doctor"]).output)
    assert "warn Keepa budget" in squeezed and "intervals stretch about 2.5x" in squeezed


def test_a_closed_schema_is_green_and_says_whether_the_server_has_supabase_roles(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    """The PostgreSQL 15 server gains Supabase's roles when tests/store/test_schema.py has
    made a Supabase-shaped database on it; the embedded one never has them."""
    supabase = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'anon'").fetchone()[0]
    result = runner.invoke(app, ["doctor"])
    text = table_text(result.output)
    assert result.exit_code == 0, result.output
    who = (
        "anon, authenticated (Supabase's Data API) and every other role"
        if supabase
        else "no Supabase Data API roles on this server; every other role"
    )
    assert f"ok schema access schema bestseller closed: {who} can neither read" in text
    assert "ok database role the job runs as" in text


def test_a_table_granted_to_public_is_red_with_its_fix(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    conn.execute("GRANT SELECT, UPDATE ON bestseller.tracked_asins TO PUBLIC")
    conn.execute("ALTER TABLE bestseller.clients DISABLE ROW LEVEL SECURITY")
    text = table_text(runner.invoke(app, ["doctor"]).output)
    assert (
        "fail bestseller.tracked_asins granted to PUBLIC (SELECT, UPDATE):"
        " REVOKE ALL ON TABLE bestseller.tracked_asins FROM PUBLIC;"
    ) in text
    assert (
        "fail bestseller.clients row level security is off:"
        " ALTER TABLE bestseller.clients ENABLE ROW LEVEL SECURITY;"
    ) in text


def test_the_forecast_shows_what_watched_categories_need_and_says_when_they_stretch(
    keepa: FakeKeepa, slack: FakeSlack, conn, monkeypatch
) -> None:
    asin_store.add_tracked(conn, asins=["B0AAAAAAAA"], marketplace="com", client=None)
    category_store.watch(conn, "com", [3167641], client_id=None, every_hours=4, top_n=None)
    category_store.watch(conn, "com", [289913], client_id=None, every_hours=2, top_n=None)
    told = table_text(runner.invoke(app, ["doctor"]).output)
    # 6 + 12 lists a day at 50 tokens: 900 a day, 38 an hour; 10 % of 1,200 is 120.
    assert (
        "ok Keepa budget: categories 2 categories watched, every 2 h to 4 h: their lists need"
        " 38 tokens/h; their share is 120 (CATEGORY_PLAN_SHARE=0.1 of 1,200)" in told
    )
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "150")
    squeezed = table_text(runner.invoke(app, ["doctor"]).output)
    assert "ok Keepa budget " in squeezed  # the product checks fit...
    assert (  # ...the categories stretch: 38 tokens/h in a share of 15
        "warn Keepa budget: categories 2 categories watched, every 2 h to 4 h: their lists"
        " need 38 tokens/h; their share is 15 (CATEGORY_PLAN_SHARE=0.1 of 150); they stretch"
        " about 2.5x, to every 5 h to 10 h: a new #1 is seen later, the product checks keep"
        " their ceiling" in squeezed
    )


def test_no_category_line_when_none_is_watched(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    asin_store.add_tracked(conn, asins=["B0AAAAAAAA"], marketplace="com", client=None)
    assert "categories" not in table_text(runner.invoke(app, ["doctor"]).output)
