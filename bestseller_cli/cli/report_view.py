"""`bestseller report` on a terminal: the heading, the summary and one table per section, each
laid out by cli/tables.py for the terminal's width (Markdown, CSV and Slack: report/formats.py).
"""

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from bestseller_cli.cli.tables import Cell, Column, Kind, build_table
from bestseller_cli.escape import terminal_text
from bestseller_cli.kinds import PRODUCT_KINDS, kind_of
from bestseller_cli.report.formats import (
    CATEGORIES_TITLE,
    MAX_ROWS,
    change_label,
    current_line,
    heading,
    latest_rows,
    rank,
    rank_move,
    share,
    streak_text,
    summary_lines,
)
from bestseller_cli.rules.story import ROLES
from bestseller_cli.shapes.report_models import (
    AsinSummary,
    CategoryHolders,
    Holder,
    OpsConditionEntry,
    Report,
)

CHANGE_COLUMNS = [
    Column("When", Kind.DATE),
    Column("ASIN", Kind.ID),
    Column("Title", Kind.TEXT, priority=3, max_lines=2),
    Column("Category", Kind.TEXT),
    Column("Change", Kind.ID),
    Column("Rank", Kind.NUMBER, priority=2),
]
HOLDER_COLUMNS = [
    Column("ASIN", Kind.ID),
    Column("Market", Kind.ID, priority=4),
    Column("Title", Kind.TEXT, priority=3, max_lines=2),
    Column("#1 Best Seller in", Kind.TEXT),
    Column("Since", Kind.DATE, priority=2),
    Column("Main rank", Kind.NUMBER, priority=2),
]
ASIN_COLUMNS = [
    Column("ASIN", Kind.ID),
    Column("Market", Kind.ID, priority=5),
    Column("Title", Kind.TEXT, priority=3, max_lines=2),
    Column("Checks", Kind.NUMBER, priority=2),
    Column("Badge share", Kind.NUMBER),
    Column("Longest streak", Kind.ID, priority=3),
    *(Column(kind.bucket.capitalize(), Kind.NUMBER, priority=4) for kind in PRODUCT_KINDS.values()),
    Column("#1 now", Kind.TEXT, priority=2),
]
CATEGORY_COLUMNS = [
    Column("Category", Kind.TEXT),
    Column("ASIN", Kind.ID),
    Column("Title", Kind.TEXT, priority=2, max_lines=2),
    Column("Whose", Kind.ID, priority=3),
    Column("From", Kind.DATE),
    Column("Until", Kind.DATE),
]
CONDITION_COLUMNS = [
    Column("Condition", Kind.TEXT),
    Column("Opened", Kind.DATE),
    Column("Closed", Kind.DATE),
    Column("Passes", Kind.NUMBER, priority=2),
]


def change_cells(report: Report) -> tuple[str, list[list[Cell]]]:
    events, note = latest_rows(report.changes.events)
    rows: list[list[Cell]] = []
    for e in events:
        definition = kind_of(e.kind)
        change = Text(definition.bucket, style=definition.colour)
        rows.append([e.changed_at, e.asin, e.title, change_label(e), change, rank_move(e)])
    return "Badge changes" + note, rows


def holder_cells(holders: Sequence[Holder]) -> list[list[Cell]]:
    return [
        [
            h.asin,
            h.marketplace,
            h.title,
            ", ".join(b.category_name or str(b.category_id) for b in h.badges),
            min((b.since for b in h.badges if b.since), default=None),
            rank(h.main_rank),
        ]
        for h in holders
    ]


def asin_cells(asins: Sequence[AsinSummary]) -> list[list[Cell]]:
    return [
        [
            a.asin,
            a.marketplace,
            a.title,
            f"{a.checks:,}",
            share(a.badge_share),
            streak_text(a.longest_streak),
            *(f"{a.counts[kind]:,}" for kind in PRODUCT_KINDS),
            ", ".join(a.badges_now) or None,
        ]
        for a in asins
    ]


def category_cells(categories: Sequence[CategoryHolders]) -> list[list[Cell]]:
    """One row per holder stretch in the period (`Until`: "holds it" for the holder now)."""
    return [
        [
            c.name or str(c.category_id),
            s.asin,
            s.title,
            ROLES.get(s.role, s.role),
            s.held_from,
            s.held_until or "holds it",
        ]
        for c in categories
        for s in c.stretches
    ]


def condition_cells(conditions: Sequence[OpsConditionEntry]) -> list[list[Cell]]:
    return [
        [
            f"{c.headline}: {c.effect}. Fix: {c.fix}.",
            c.opened_at,
            c.closed_at or "open",
            f"{c.passes:,}",
        ]
        for c in conditions
    ]


def rich_report(report: Report, *, width: int | None) -> RenderableType:
    """Everything for a terminal `width` columns wide (None: --wide), times relative to when
    the report was made."""
    now = report.generated_at
    parts: list[RenderableType] = [Text.from_markup(terminal_text(heading(report)), style="bold")]
    parts += [Text.from_markup(terminal_text(line)) for line in summary_lines(report)]
    tables: list[tuple[str, list[Column], list[list[Cell]]]] = []
    if report.changes.events:
        title, rows = change_cells(report)
        tables.append((title, CHANGE_COLUMNS, rows))
    if report.holders:
        tables.append(("#1 Best Sellers now", HOLDER_COLUMNS, holder_cells(report.holders)))
    if report.asins:
        tables.append(("Per ASIN", ASIN_COLUMNS, asin_cells(report.asins[:MAX_ROWS])))
    if report.conditions:
        conditions = condition_cells(report.conditions)
        tables.append(("Operations conditions", CONDITION_COLUMNS, conditions))
    parts += [build_table(*table, width=width, now=now) for table in tables]
    if not (report.changes.events or report.holders or report.asins):
        parts.append(Text("No checks, changes or badge holders in this period."))
    return Group(*parts, *category_parts(report, width=width))


def category_parts(report: Report, *, width: int | None) -> list[RenderableType]:
    """Who held #1 in the watched categories: the stretches in the period, then who holds #1
    in each now, per Keepa's list as of its update time."""
    if not report.categories:
        return []
    rows = category_cells(report.categories)
    now = report.generated_at
    parts: list[RenderableType] = (
        [build_table(CATEGORIES_TITLE, CATEGORY_COLUMNS, rows, width=width, now=now)]
        if rows
        else [Text(CATEGORIES_TITLE, style="bold")]
    )
    return parts + [Text(terminal_text(current_line(c))) for c in report.categories]
