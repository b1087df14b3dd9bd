"""A report as text (report/formats.py): the same Report drawn as Markdown, CSV rows, a Slack
digest and terminal tables, without a database."""

from datetime import UTC, datetime, timedelta, timezone

from bestseller_cli.kinds import count
from bestseller_cli.models import Change
from bestseller_cli.report.formats import (
    CSV_FIELDS,
    MAX_ROWS,
    csv_records,
    duration,
    markdown_report,
    rank_move,
    report_digest,
    summary_lines,
    when,
)
from bestseller_cli.shapes.report_models import (
    AlertCounts,
    AsinSummary,
    Changes,
    KeepaUsage,
    Period,
    Report,
    Streak,
)
from bestseller_cli.slack.messages import REPORT_LINES, report_message

SINCE = datetime(2026, 11, 16, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)


def event(n: int, kind: str = "gained", **extra: object) -> Change:
    values: dict[str, object] = {
        "asin": f"B0EVENT{n:03d}",
        "marketplace": "com",
        "title": f"Product {n}",
        "kind": kind,
        "category_id": 289913,
        "category_name": "Kitchen Utensils & Gadgets",
        "rank_before": 2,
        "rank_after": 1,
        "main_rank": 412,
        "detected_at": SINCE + timedelta(minutes=n),
    }
    return Change.model_validate({**values, **extra})


def report(events: list[Change] | None = None, asins: list[AsinSummary] | None = None) -> Report:
    events = events or []
    return Report(
        generated_at=UNTIL,
        client="acme",
        period=Period(since=SINCE, until=UNTIL, days=7.0),
        changes=Changes(counts=count(e.kind for e in events), events=events),
        holders=[],
        asins=asins or [],
        keepa=KeepaUsage(calls=3, tokens_used=1_200, estimated_cost_usd=0.03),
        alerts=AlertCounts(sent=4, pending=1, sending=2, held=3),
        errors=[],
    )


def test_durations_are_compact_with_the_two_largest_units() -> None:
    assert [duration(s) for s in (45 * 60, 5 * 3600 + 20 * 60, 2 * 86400 + 3 * 3600)] == [
        "45m",
        "5h 20m",
        "2d 3h",
    ]


def test_times_are_shown_in_utc_whatever_their_zone() -> None:
    berlin = timezone(timedelta(hours=1))
    assert when(datetime(2026, 11, 23, 10, 0, tzinfo=berlin)) == "2026-11-23 09:00"
    assert when(None) == "-"


def test_a_rank_move_says_new_and_unranked_rather_than_nothing() -> None:
    assert rank_move(event(1, rank_before=None)) == "new → #1"
    assert rank_move(event(1, "lost", rank_before=1, rank_after=None)) == "#1 → unranked"
    assert rank_move(event(1, rank_before=12_345)) == "#12,345 → #1"


def test_alerts_being_sent_count_as_pending_in_the_summary() -> None:
    (alerts,) = [line for line in summary_lines(report()) if line.startswith("Alerts:")]
    assert alerts == (
        "Alerts: 4 sent, 0 printed, 0 refused, 3 pending, 0 expired, 3 held, 0 suppressed"
    )


def test_markdown_escapes_pipes_in_titles_and_says_none_for_empty_sections() -> None:
    text = markdown_report(report([event(1, title="Tongs | 2-Pack")]))
    assert text.startswith("# Best Seller report, client acme: 2026-11-16 00:00 → 2026-11-23")
    assert "Tongs \\| 2-Pack" in text
    assert "## #1 Best Sellers now\n\nNone." in text
    assert "## Operations conditions" not in text


def test_long_change_lists_show_the_latest_rows_and_say_so() -> None:
    text = markdown_report(report([event(n) for n in range(MAX_ROWS + 10)]))
    assert f"## Badge changes (latest {MAX_ROWS} of {MAX_ROWS + 10})" in text
    assert "B0EVENT009" not in text and "B0EVENT010" in text and "B0EVENT059" in text


def test_csv_rows_have_exactly_the_csv_header_fields() -> None:
    streak = Streak(
        checks=5,
        started_at=SINCE,
        ended_at=SINCE + timedelta(hours=4),
        ongoing=True,
        duration_seconds=4 * 3600,
    )
    asins = [
        AsinSummary(asin="B0STREAK01", marketplace="com", checks=5, longest_streak=streak),
        AsinSummary(asin="B0NOBADGE1", marketplace="de"),
    ]
    with_streak, without = csv_records(report(asins=asins))
    assert list(with_streak) == CSV_FIELDS and list(without) == CSV_FIELDS
    assert with_streak["longest_streak_seconds"] == 4 * 3600
    assert with_streak["longest_streak_started_at"] == SINCE  # the CSV writer formats times
    assert without["longest_streak_checks"] is None


def test_the_slack_digest_lists_changes_newest_first_with_their_emoji() -> None:
    message = report_message(report_digest(report([event(1), event(2, "lost")])))
    (changes,) = [b for b in message.blocks if "Badge changes" in b.get("text", {}).get("text", "")]
    first, second = changes["text"]["text"].splitlines()[1:]
    assert first.startswith("📉 <https://www.amazon.com/dp/B0EVENT002|Product 2> lost #1")
    assert second.startswith("🏆 <https://www.amazon.com/dp/B0EVENT001|Product 1> gained #1")
    assert message.text.endswith(": 1 gained, 1 lost")


def test_the_slack_digest_escapes_titles_and_counts_the_lines_it_leaves_out() -> None:
    events = [event(n, title="<b>Tongs</b> & more") for n in range(REPORT_LINES + 5)]
    (changes,) = [
        b
        for b in report_message(report_digest(report(events))).blocks
        if "Badge changes" in str(b.get("text"))
    ]
    text = changes["text"]["text"]
    assert "&lt;b&gt;Tongs&lt;/b&gt; &amp; more" in text and "<b>" not in text
    assert text.endswith("\n…and 5 more")
    assert len(text.splitlines()) == 1 + REPORT_LINES + 1
