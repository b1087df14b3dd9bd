"""A `Report` as Markdown, CSV rows or a digest for a channel (on a terminal:
cli/report_view.py). Builds; never prints."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bestseller_cli.escape import markdown_text
from bestseller_cli.kinds import KINDS, counts_text, kind_of
from bestseller_cli.models import Change
from bestseller_cli.shapes.report_models import (
    AsinSummary,
    Digest,
    DigestLine,
    DigestSection,
    Holder,
    OpsConditionEntry,
    Report,
    Streak,
)

MAX_ROWS = 50  # per human or Markdown table; --json and --csv are complete

CSV_FIELDS = [
    "asin",
    "marketplace",
    "title",
    "checks",
    "badge_checks",
    "unavailable_checks",
    "badge_share",
    "longest_streak_checks",
    "longest_streak_seconds",
    "longest_streak_started_at",
    *(kind.value for kind in KINDS),  # changes per kind
    "badges_now",
]


def duration(seconds: int) -> str:
    """`2d 3h`, `5h 20m`, `45m`."""
    minutes = seconds // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def when(moment: datetime | None) -> str:
    """Every time in the report in UTC, whatever the database session's time zone."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "-"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def streak_text(streak: Streak | None) -> str:
    if streak is None:
        return "-"
    text = f"{streak.checks} checks, {duration(streak.duration_seconds)}"
    return text + " (ongoing)" if streak.ongoing else text


def change_label(event: Change) -> str:
    return event.category_name or f"category {event.category_id}"


def rank(value: int | None) -> str:
    return f"#{value:,}" if value is not None else "-"


def rank_move(event: Change) -> str:
    before = "new" if event.rank_before is None else f"#{event.rank_before:,}"
    after = "unranked" if event.rank_after is None else f"#{event.rank_after:,}"
    return f"{before} → {after}"


def badges_text(holder: Holder) -> str:
    return ", ".join(
        f"{b.category_name or b.category_id} (since {when(b.since)})" for b in holder.badges
    )


def heading(report: Report) -> str:
    scope = f"client {report.client}" if report.client else "all ASINs"
    period = report.period
    return f"Best Seller report, {scope}: {when(period.since)} → {when(period.until)} UTC"


def summary_lines(report: Report) -> list[str]:
    keepa, alerts = report.keepa, report.alerts
    per_day = (
        f", ${keepa.cost_per_asin_per_day_usd:.4f} per ASIN per day"
        if keepa.cost_per_asin_per_day_usd is not None
        else ""
    )
    errors = ", ".join(f"{e.source}/{e.kind}: {e.count}" for e in report.errors) or "none"
    still_open = sum(condition.closed_at is None for condition in report.conditions)
    operations = (
        []
        if report.client
        else [f"Operations conditions: {len(report.conditions)} ({still_open} open now)"]
    )
    return [
        f"Badges: {counts_text(report.changes.counts)}; {len(report.holders)} ASIN(s) hold #1 now",
        f"Keepa: {keepa.tokens_used:,} tokens in {keepa.calls:,} calls,"
        f" ≈ ${keepa.estimated_cost_usd:.2f}{per_day}",
        f"Keepa's cache: {keepa.fresh_answers:,} checks bought a fresh observation,"
        f" {keepa.cached_answers:,} a cached answer; {keepa.live_checks:,} asked for live data",
        f"Alerts: {alerts.sent} sent, {alerts.printed} printed, {alerts.refused} refused,"
        f" {alerts.pending + alerts.sending} pending, {alerts.expired} expired, {alerts.held} held,"
        f" {alerts.suppressed} suppressed",
        f"Errors: {errors}",
        *operations,
    ]


def latest_rows(items: Sequence[Any]) -> tuple[Sequence[Any], str]:
    more = len(items) - MAX_ROWS
    return (items[-MAX_ROWS:], f" (latest {MAX_ROWS} of {len(items)})") if more > 0 else (items, "")


def change_rows(events: Sequence[Change]) -> list[list[str]]:
    return [
        [
            when(e.changed_at),
            e.asin,
            (e.title or "-")[:50],
            change_label(e),
            kind_of(e.kind).bucket,
            rank_move(e),
        ]
        for e in events
    ]


def asin_rows(asins: Sequence[AsinSummary]) -> list[list[str]]:
    return [
        [
            a.asin,
            a.marketplace,
            (a.title or "-")[:50],
            str(a.checks),
            share(a.badge_share),
            streak_text(a.longest_streak),
            *(str(n) for n in a.counts.values()),
            ", ".join(a.badges_now) or "-",
        ]
        for a in asins
    ]


CHANGE_COLUMNS = ["When", "ASIN", "Title", "Category", "Change", "Rank"]
HOLDER_COLUMNS = ["ASIN", "Market", "Title", "#1 Best Seller in", "Main rank"]
ASIN_COLUMNS = ["ASIN", "Market", "Title", "Checks", "Badge share", "Longest streak"]
CONDITION_COLUMNS = ["Condition", "Opened", "Closed", "Passes"]
ASIN_COLUMNS += [kind.bucket.capitalize() for kind in KINDS.values()] + ["#1 now"]


def holder_rows(holders: Sequence[Holder]) -> list[list[str]]:
    return [
        [h.asin, h.marketplace, (h.title or "-")[:50], badges_text(h), rank(h.main_rank)]
        for h in holders
    ]


def condition_rows(conditions: Sequence[OpsConditionEntry]) -> list[list[str]]:
    return [
        [
            f"{c.headline}: {c.effect}. Fix: {c.fix}.",
            when(c.opened_at),
            when(c.closed_at) if c.closed_at else "open",
            str(c.passes),
        ]
        for c in conditions
    ]


def _md_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(markdown_text(str(cell)) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def markdown_report(report: Report) -> str:
    lines = [f"# {markdown_text(heading(report))}", ""]
    lines += [f"- {markdown_text(line)}" for line in summary_lines(report)] + [""]
    events, note = latest_rows(report.changes.events)
    lines += [f"## Badge changes{note}", ""]
    lines += _md_table(CHANGE_COLUMNS, change_rows(events)) if events else ["None.", ""]
    lines += ["## #1 Best Sellers now", ""]
    holders = report.holders
    lines += _md_table(HOLDER_COLUMNS, holder_rows(holders)) if holders else ["None.", ""]
    lines += ["## Per ASIN", ""]
    asins = report.asins[:MAX_ROWS]
    lines += _md_table(ASIN_COLUMNS, asin_rows(asins)) if asins else ["None.", ""]
    if report.conditions:
        lines += ["## Operations conditions", ""]
        lines += _md_table(CONDITION_COLUMNS, condition_rows(report.conditions))
    return "\n".join(lines)


def csv_records(report: Report) -> list[dict[str, Any]]:
    """One row per ASIN (fields: CSV_FIELDS)."""
    return [
        {
            "asin": a.asin,
            "marketplace": a.marketplace,
            "title": a.title,
            "checks": a.checks,
            "badge_checks": a.badge_checks,
            "unavailable_checks": a.unavailable_checks,
            "badge_share": a.badge_share,
            "longest_streak_checks": a.longest_streak.checks if a.longest_streak else None,
            "longest_streak_seconds": (
                a.longest_streak.duration_seconds if a.longest_streak else None
            ),
            "longest_streak_started_at": (
                a.longest_streak.started_at if a.longest_streak else None
            ),
            **a.counts,
            "badges_now": a.badges_now,
        }
        for a in report.asins
    ]


def report_digest(report: Report) -> Digest:
    """The report as a digest for a channel: summary, changes (newest first), holders,
    badge share. Plain text; the channel shapes and escapes it (`slack/messages.py`)."""
    events = reversed(report.changes.events)  # newest first
    changes = [
        DigestLine(
            kind_of(e.kind).emoji,
            e.asin,
            e.marketplace,
            e.title,
            f" {kind_of(e.kind).verb} in {change_label(e)} · {when(e.changed_at)}",
        )
        for e in events
    ]
    holders = [
        DigestLine("•", h.asin, h.marketplace, h.title, f": {badges_text(h)}")
        for h in report.holders
    ]
    ranked = sorted((a for a in report.asins if a.checks), key=lambda a: -(a.badge_share or 0))
    shares = [
        DigestLine(
            "•",
            a.asin,
            a.marketplace,
            a.title,
            f": {share(a.badge_share)} of {a.checks} checks,"
            f" longest {streak_text(a.longest_streak)}",
        )
        for a in ranked
    ]
    sections = [
        DigestSection(title, tuple(lines))
        for title, lines in (
            ("Badge changes", changes),
            ("#1 Best Sellers now", holders),
            ("Badge share", shares),
        )
        if lines
    ]
    return Digest(
        title=heading(report),
        summary=tuple(summary_lines(report)),
        sections=tuple(sections),
        counts=counts_text(report.changes.counts),
    )
