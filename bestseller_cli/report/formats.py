"""A `Report` as Markdown, CSV rows or a digest for a channel (on a terminal:
cli/report_view.py). Builds; never prints."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bestseller_cli.escape import markdown_text
from bestseller_cli.kinds import PRODUCT_KINDS, counts_text, kind_of
from bestseller_cli.models import Change
from bestseller_cli.rules.story import ROLES
from bestseller_cli.shapes.report_models import (
    AsinSummary,
    CategoryHolders,
    CategoryStretch,
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
    *(kind.value for kind in PRODUCT_KINDS),  # changes per kind
    "badges_now",
]


# `report --categories-csv`: one row per holder stretch of a watched category in the period.
CATEGORY_CSV_FIELDS = [
    "marketplace",
    "category_id",
    "category_name",
    "client",
    "asin",
    "title",
    "role",
    "held_from",
    "held_until",  # empty: holds #1 now
    "list_updated_at",
    "source",
]
CATEGORIES_TITLE = "Who held #1 in your categories"


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
            *(str(a.counts[kind]) for kind in PRODUCT_KINDS),
            ", ".join(a.badges_now) or "-",
        ]
        for a in asins
    ]


CHANGE_COLUMNS = ["When", "ASIN", "Title", "Category", "Change", "Rank"]
HOLDER_COLUMNS = ["ASIN", "Market", "Title", "#1 Best Seller in", "Main rank"]
ASIN_COLUMNS = ["ASIN", "Market", "Title", "Checks", "Badge share", "Longest streak"]
CONDITION_COLUMNS = ["Condition", "Opened", "Closed", "Passes"]
ASIN_COLUMNS += [kind.bucket.capitalize() for kind in PRODUCT_KINDS.values()] + ["#1 now"]


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


def category_label(category: CategoryHolders) -> str:
    name = category.name or f"category {category.category_id}"
    return f"{name} (amazon.{category.marketplace})"


def holder_words(stretch: CategoryStretch) -> str:
    """`B0… Title (untracked)`: the ASIN, its title when known, whose it is."""
    title = f" {stretch.title}" if stretch.title else ""
    return f"{stretch.asin}{title} ({ROLES.get(stretch.role, stretch.role)})"


def current_line(category: CategoryHolders) -> str:
    """Who holds #1 now, and where that comes from (Keepa's list, as of its update time)."""
    label, current = category_label(category), category.current
    source = f"per {category.source}, updated {when(category.list_updated_at)} UTC"
    if current is None:
        return f"{label}: no list with a #1 yet ({source})"
    return f"{label}: #1 now {holder_words(current)} since {when(current.held_from)}, {source}"


CATEGORY_COLUMNS = ["Category", "ASIN", "Title", "Whose", "From", "Until"]


def category_rows(categories: Sequence[CategoryHolders]) -> list[list[str]]:
    """One row per holder stretch in the period."""
    return [
        [
            category.name or str(category.category_id),
            stretch.asin,
            (stretch.title or "-")[:50],
            ROLES.get(stretch.role, stretch.role),
            when(stretch.held_from),
            when(stretch.held_until) if stretch.held_until else "holds it",
        ]
        for category in categories
        for stretch in category.stretches
    ]


def category_csv_records(report: Report) -> list[dict[str, Any]]:
    """One row per holder stretch (fields: CATEGORY_CSV_FIELDS)."""
    return [
        {
            "marketplace": category.marketplace,
            "category_id": category.category_id,
            "category_name": category.name,
            "client": category.client,
            "asin": stretch.asin,
            "title": stretch.title,
            "role": stretch.role,
            "held_from": stretch.held_from,
            "held_until": stretch.held_until,
            "list_updated_at": category.list_updated_at,
            "source": category.source,
        }
        for category in report.categories
        for stretch in category.stretches
    ]


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
    if report.categories:
        lines += [f"## {CATEGORIES_TITLE}", ""]
        lines += [f"- {markdown_text(current_line(c))}" for c in report.categories] + [""]
        rows = category_rows(report.categories)
        lines += _md_table(CATEGORY_COLUMNS, rows) if rows else ["No stretch at #1.", ""]
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
            **{kind.value: a.counts[kind] for kind in PRODUCT_KINDS},
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
    categories = [
        DigestLine("•", c.current.asin, c.marketplace, c.current.title, category_digest(c))
        for c in report.categories
        if c.current is not None
    ]
    sections = [
        DigestSection(title, tuple(lines))
        for title, lines in (
            ("Badge changes", changes),
            ("#1 Best Sellers now", holders),
            ("Badge share", shares),
            (CATEGORIES_TITLE, categories),
        )
        if lines
    ]
    return Digest(
        title=heading(report),
        summary=tuple(summary_lines(report)),
        sections=tuple(sections),
        counts=counts_text(report.changes.counts),
    )


def category_digest(category: CategoryHolders) -> str:
    """After the holder's linked title: whose it is, where and since when, and the source."""
    current = category.current
    assert current is not None
    return (
        f" ({ROLES.get(current.role, current.role)}) holds #1 in {category_label(category)}"
        f" since {when(current.held_from)}, per {category.source}"
        f" updated {when(category.list_updated_at)}"
    )
