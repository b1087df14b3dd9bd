"""The report's typed shape: what `bestseller report --json` prints (schema_version 1).

```
{
  "schema_version": 1,
  "generated_at": "2026-05-02T09:00:00.000000Z",
  "client": "acme" | null,                  # --client, else every ASIN
  "period": {"since": ISO, "until": ISO, "days": 7.0},
  "changes": {
    "gained": 3, "lost": 1,                 # one count per kind of change (kinds.py)
    "events": [{"asin", "marketplace", "category_id", "category_name",   # models.Change
                "kind": "gained"|"lost"|…, "rank_before", "rank_after", "main_rank", "title",
                "detected_at",      # when our check saw it
                "keepa_seen_at",
                "changed_at",       # when it happened, per Keepa's rank series (or list)
                "previous_asin",    # a watched category's new #1: the one it displaced
                "list_moves"}]      # ... the products its list names, null otherwise
  },
  "holders": [{"asin", "marketplace", "title", "main_rank", "last_checked_at",
               "badges": [{"category_id", "category_name", "since"}]}],
  "asins": [{"asin", "marketplace", "title",
             "checks",               # available checks in the period
             "badge_checks",         # ... of which held #1 somewhere
             "unavailable_checks",   # rows where Keepa had no data: counted in neither
             "badge_share",          # badge_checks / checks, 0..1; null without checks
             "longest_streak": null | {"checks", "started_at", "ended_at", "ongoing",
                                       "duration_seconds"},
             "gained", "lost", …,    # changes in the period, one count per kind
             "badges_now": ["Garlic Presses"]}],
  "keepa": {"calls",                        # Keepa API calls (the account's)
            "tokens_used", "estimated_cost_usd", "asins_checked",
            "cost_per_asin_per_day_usd",   # cost / asins_checked / period days; null if none
            "share_of_account",            # 1.0, or with --client its share of all checks
            "fresh_answers",               # checks whose answer had data newer than the last
            "cached_answers",              # ... no newer: Keepa answered from its cache
            "live_checks"},                # checks that asked for live data (update=0)
  "alerts": {"sent", "printed", "suppressed", "sending",
             "pending",              # due, not delivered yet (the next run retries)
             "refused",              # Slack refused them (token, channel); retried
             "expired",              # undelivered past ALERT_EXPIRY_DAYS, reason kept
             "held",                 # waiting for a digest or the end of quiet hours
             "total"},               # alerts queued in the period, by status then
  "errors": [{"source", "kind", "count", "last_at", "last_message"}],
  "conditions": [{"kind", "headline", "effect", "fix", "opened_at",
                  "closed_at",            # null while open
                  "passes"}],             # operations conditions of the period (not with
                                          # --client: they concern the whole account)
  "categories": [{"marketplace", "category_id", "name",   # watched categories (the client's
                  "client",                               # with --client): who held #1
                  "source",                 # "Keepa's best seller list (sub-category rank)"
                  "list_updated_at",        # the last list's lastUpdate; null: none yet
                  "current": null | {"asin", "title",
                                     "role": "own"|"competitor"|"untracked",
                                     "held_from", "held_until"},   # held_until null
                  "stretches": [{…as current}]}]   # those that overlap the period, oldest first
}
```

A holder stretch is one product's time at #1 of a watched category's list: from the update
time of the first list that showed it at #1 to that of the first list that showed another
(null while it holds it). Its role is for the category's client: its own product, a tracked
competitor, or a product nobody tracks (named by the title Keepa's /product gave once).

A streak is a run of consecutive available checks holding at least one #1 badge; it ends at
the first check without one (`ended_at`), or is `ongoing` at the period's last check, in which
case `ended_at` is that check's time. The longest streak has the most checks, then the longest
duration. With --client, Keepa tokens and cost are the account's totals times the client's
share of checks (Keepa bills per batch call, not per ASIN), and so are the fresh, cached and
live checks. Times are ISO 8601 in UTC (`Z`).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from bestseller_cli.kinds import CountsByKind, no_changes
from bestseller_cli.models import Change

SCHEMA_VERSION = 1


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Times are shown in UTC whatever the database session's time zone; naive ones are UTC.
UtcTime = Annotated[datetime, AfterValidator(_utc)]


class Period(BaseModel):
    since: UtcTime
    until: UtcTime
    days: float


class Changes(CountsByKind):
    counts: dict[str, int] = Field(default_factory=no_changes)
    events: list[Change] = Field(default_factory=list)


class BadgeHeld(BaseModel):
    category_id: int
    category_name: str | None
    since: UtcTime | None


class Holder(BaseModel):
    asin: str
    marketplace: str
    title: str | None
    main_rank: int | None
    last_checked_at: UtcTime | None
    badges: list[BadgeHeld]


class Streak(BaseModel):
    checks: int
    started_at: UtcTime
    ended_at: UtcTime
    ongoing: bool
    duration_seconds: int


class AsinSummary(CountsByKind):
    asin: str
    marketplace: str
    title: str | None = None
    checks: int = 0
    badge_checks: int = 0
    unavailable_checks: int = 0
    badge_share: float | None = None
    longest_streak: Streak | None = None
    counts: dict[str, int] = Field(default_factory=no_changes)
    badges_now: list[str] = Field(default_factory=list)


class KeepaUsage(BaseModel):
    calls: int = 0
    tokens_used: int = 0
    estimated_cost_usd: float = 0.0
    asins_checked: int = 0
    cost_per_asin_per_day_usd: float | None = None
    share_of_account: float = 1.0
    fresh_answers: int = 0
    cached_answers: int = 0
    live_checks: int = 0


class AlertCounts(BaseModel):
    sent: int = 0
    printed: int = 0
    refused: int = 0
    expired: int = 0
    pending: int = 0
    held: int = 0
    sending: int = 0
    suppressed: int = 0
    total: int = 0


class ErrorKind(BaseModel):
    source: str
    kind: str
    count: int
    last_at: UtcTime
    last_message: str


class OpsConditionEntry(BaseModel):
    kind: str
    headline: str
    effect: str
    fix: str
    opened_at: UtcTime
    closed_at: UtcTime | None
    passes: int


# Where a watched category's holders come from (the report says so wherever it shows them).
CATEGORY_SOURCE = "Keepa's best seller list (sub-category rank)"


class CategoryStretch(BaseModel):
    """One product's stretch at #1 of a watched category; `held_until` None: holds it now."""

    asin: str
    title: str | None
    role: str  # own | competitor | untracked (rules/category_watch.py's Role)
    held_from: UtcTime
    held_until: UtcTime | None


class CategoryHolders(BaseModel):
    """A watched category: who holds #1 now and the stretches at #1 in the period."""

    marketplace: str
    category_id: int
    name: str | None
    client: str | None
    source: str = CATEGORY_SOURCE
    list_updated_at: UtcTime | None
    current: CategoryStretch | None
    stretches: list[CategoryStretch]


class Report(BaseModel):
    schema_version: int = SCHEMA_VERSION
    generated_at: UtcTime
    client: str | None
    period: Period
    changes: Changes
    holders: list[Holder]
    asins: list[AsinSummary]
    keepa: KeepaUsage
    alerts: AlertCounts
    errors: list[ErrorKind]
    conditions: list[OpsConditionEntry] = Field(default_factory=list)
    categories: list[CategoryHolders] = Field(default_factory=list)


@dataclass(frozen=True)
class DigestLine:
    """A digest line naming a product: `lead` (an emoji, a bullet), the product's title (its
    ASIN without one) linked to its page, then `text`. Plain text: the channel escapes it."""

    lead: str
    asin: str
    marketplace: str
    title: str | None
    text: str


@dataclass(frozen=True)
class DigestSection:
    title: str
    lines: tuple[DigestLine, ...]


@dataclass(frozen=True)
class Digest:
    """The report as a short digest for a channel (`report --to-slack`), before any channel
    shapes it: a title, summary lines, sections of product lines, and the change counts."""

    title: str
    summary: tuple[str, ...]
    sections: tuple[DigestSection, ...]
    counts: str
