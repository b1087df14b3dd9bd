"""`bestseller report`: badge changes, holders, badge share and streaks, Keepa cost, alerts,
errors and who held #1 in the watched categories over a period, as one typed `Report`
(shape: report_models.py). No printing."""

import re
from datetime import UTC, date, datetime, time, timedelta

import psycopg

from bestseller_cli.errors import ConfigError
from bestseller_cli.kinds import count
from bestseller_cli.models import Change
from bestseller_cli.shapes.report_models import (
    AlertCounts,
    AsinSummary,
    Changes,
    Holder,
    KeepaUsage,
    OpsConditionEntry,
    Period,
    Report,
    Streak,
)
from bestseller_cli.store import client_store, ops_store, report_queries
from bestseller_cli.store.report_queries import HistoryStats, UsageTotals

_RELATIVE = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime) -> datetime:
    """`24h`, `7d`, `2w`, `90m`, a date `2026-05-01` (midnight UTC) or an ISO date-time."""
    value = text.strip().lower()
    if match := _RELATIVE.match(value):
        try:
            since = now - timedelta(**{_UNITS[match[2]]: int(match[1])})
        except OverflowError:
            raise ConfigError(f"--since {text} reaches back before the year 1") from None
    else:
        try:
            if len(value) == 10:
                since = datetime.combine(date.fromisoformat(value), time(), UTC)
            else:
                since = datetime.fromisoformat(text.strip())
                since = since if since.tzinfo else since.replace(tzinfo=UTC)
        except ValueError:
            raise ConfigError(
                f"--since takes 24h, 7d, 2w or a date like 2026-05-01, not {text!r}"
            ) from None
    if since >= now:
        raise ConfigError(f"--since {text} is not in the past")
    return since


def build_report(
    conn: psycopg.Connection,
    *,
    since: datetime,
    until: datetime,
    client: str | None,
    token_cost_usd: float,
) -> Report:
    """Query every section of the report for the period, for one client or for everyone."""
    with conn.transaction():  # one snapshot for every section
        report_queries.read_one_snapshot(conn)
        return report_sections(
            conn, since=since, until=until, client=client, token_cost_usd=token_cost_usd
        )


def report_sections(
    conn: psycopg.Connection,
    *,
    since: datetime,
    until: datetime,
    client: str | None,
    token_cost_usd: float,
) -> Report:
    """Every section of the report, inside the caller's snapshot (`read_one_snapshot`)."""
    if client is not None:
        client_store.client_id(conn, client)
    window = {"since": since, "until": until, "client": client}
    events = report_queries.changes(conn, **window)
    holders = report_queries.holders(conn, client=client)
    stats = report_queries.history_stats(conn, **window)
    totals = report_queries.usage(conn, since=since, until=until, token_cost_usd=token_cost_usd)
    alerts = report_queries.alert_counts(conn, **window)
    errors = report_queries.errors(conn, **window)
    conditions = [] if client else ops_store.conditions(conn, since=since, until=until)
    categories = report_queries.categories(conn, **window)
    days = (until - since).total_seconds() / 86400
    return Report(
        generated_at=until,
        client=client,
        period=Period(since=since, until=until, days=round(days, 4)),
        changes=Changes(counts=count(e.kind for e in events), events=events),
        holders=holders,
        asins=asin_summaries(stats, events=events, holders=holders),
        keepa=keepa_usage(totals, stats, client=client, days=days),
        alerts=AlertCounts(**alerts, total=sum(alerts.values())),
        errors=errors,
        conditions=[
            OpsConditionEntry.model_validate(condition, from_attributes=True)
            for condition in conditions
        ],
        categories=categories,
    )


def longest_streak(stats: HistoryStats) -> Streak | None:
    if not stats.streak_checks or stats.streak_started_at is None:
        return None
    ongoing = stats.streak_ended_at is None
    ended = stats.streak_last_at if ongoing else stats.streak_ended_at
    assert ended is not None
    return Streak(
        checks=stats.streak_checks,
        started_at=stats.streak_started_at,
        ended_at=ended,
        ongoing=ongoing,
        duration_seconds=int((ended - stats.streak_started_at).total_seconds()),
    )


def asin_summaries(
    stats: list[HistoryStats], *, events: list[Change], holders: list[Holder]
) -> list[AsinSummary]:
    """One row per ASIN seen in the period: checked, changed, or holding a badge now."""
    rows: dict[tuple[str, str], AsinSummary] = {}
    for row in stats:
        rows[row.asin, row.marketplace] = AsinSummary(
            asin=row.asin,
            marketplace=row.marketplace,
            title=row.title,
            checks=row.checks,
            badge_checks=row.badge_checks,
            unavailable_checks=row.unavailable_checks,
            badge_share=round(row.badge_checks / row.checks, 4) if row.checks else None,
            longest_streak=longest_streak(row),
        )
    for event in events:
        summary = rows.setdefault(
            (event.asin, event.marketplace),
            AsinSummary(asin=event.asin, marketplace=event.marketplace, title=event.title),
        )
        summary.counts[event.kind] += 1
    for holder in holders:
        summary = rows.setdefault(
            (holder.asin, holder.marketplace),
            AsinSummary(asin=holder.asin, marketplace=holder.marketplace, title=holder.title),
        )
        summary.badges_now = [b.category_name or str(b.category_id) for b in holder.badges]
    return [rows[key] for key in sorted(rows)]


def keepa_usage(
    totals: UsageTotals, stats: list[HistoryStats], *, client: str | None, days: float
) -> KeepaUsage:
    """Tokens and cost; a client's part is the account's times its share of the checks (the
    checks of its ASINs, with or without Keepa data, as their HistoryStats count them)."""
    scope_asins = len(stats)  # the ASINs with a check in the period
    scope_checks = sum(row.checks + row.unavailable_checks for row in stats)
    if client is None:
        share = 1.0
    else:
        share = scope_checks / totals.all_checks if totals.all_checks else 0.0
    cost = totals.cost_usd * share
    per_asin_day = cost / scope_asins / days if scope_asins and days > 0 else None
    return KeepaUsage(
        calls=totals.calls,
        tokens_used=round(totals.tokens * share),
        estimated_cost_usd=round(cost, 6),
        asins_checked=scope_asins,
        cost_per_asin_per_day_usd=round(per_asin_day, 6) if per_asin_day is not None else None,
        share_of_account=round(share, 4),
        fresh_answers=round(totals.fresh_answers * share),
        cached_answers=round(totals.cached_answers * share),
        live_checks=round(totals.live_checks * share),
    )
