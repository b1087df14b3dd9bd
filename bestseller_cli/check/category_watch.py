"""The pass's second kind of work: the watched categories that are due, after the product
checks, within what the run has left and the categories' share of the plan
(rules/category_watch.py decides). Each list is fetched, the few untracked products its
changes name are named (1 token each, within the same share), then the list is decided
(`diff_list`) and written with its changes and their alerts in one transaction; delivery's
sweep sends them like every other alert.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from bestseller_cli.check.context import Pass
from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import BestSellerList, Change, ErrorEvent
from bestseller_cli.rules.batch_diff import BatchOutcome
from bestseller_cli.rules.category_watch import (
    CategoryPlan,
    ListDiff,
    Listed,
    WatchedCategory,
    diff_list,
    mentioned,
    next_check,
    plan_categories,
    share_left,
    to_name,
)
from bestseller_cli.rules.routing import deliveries_for
from bestseller_cli.store import category_store, check_store

# The share is counted over a day of lists: a 50-token list fits even when one run's share
# of the hour is smaller.
SHARE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class CategoryReport:
    """What the categories step did, for the summary."""

    checked: int = 0
    stretched: int = 0
    named: int = 0  # untracked products named by /product
    alerts_queued: int = 0
    changes: tuple[Change, ...] = ()  # what the lists changed: per-kind counts, a line each
    warnings: tuple[str, ...] = ()


@dataclass
class Spending:
    """What the step may still spend this run (None: no limit known), and has spent."""

    left: int | None
    spent: int = 0
    warnings: list[str] = field(default_factory=list)

    def affords(self, tokens: int) -> bool:
        return self.left is None or self.spent + tokens <= self.left


def plan_due(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tokens_free: int | None,
    plan_per_hour: float | None,
    now: datetime,
) -> tuple[CategoryPlan, int | None]:
    """The due categories this run can afford (rules/category_watch.py), and what the
    category share has left (None: the plan is not known)."""
    retry_after = timedelta(minutes=settings.schedule_minutes)
    # Due by half a run from now: a 4 h interval is kept by the run nearest to it.
    due = category_store.due_categories(conn, now=now + retry_after / 2)
    if not due:
        return CategoryPlan(), None
    spent_today = category_store.list_tokens_since(conn, now - SHARE_WINDOW)
    share = share_left(
        share=settings.category_plan_share,
        plan_per_hour=plan_per_hour,
        spent_last_day=spent_today,
    )
    plan = plan_categories(
        due, tokens_free=tokens_free, share_left=share, now=now, retry_after=retry_after
    )
    return plan, share


def lists_to_hold(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    spare: int | None,
    plan_per_hour: float | None,
    now: datetime,
) -> CategoryPlan:
    """The due categories' lists a run holds tokens back for, out of what it can spare once
    the ASINs at the ceiling and its pace are paid for (rules/run_plan.py), within the
    share: `tokens_planned` is what they may spend, `kept_back` what the product checks
    leave unspent (rules/category_watch.py)."""
    plan, _ = plan_due(conn, settings, tokens_free=spare, plan_per_hour=plan_per_hour, now=now)
    return plan


def watch_categories(
    keepa: KeepaClient, run: Pass, *, tokens_free: int | None, plan_per_hour: float | None
) -> CategoryReport:
    """Fetch and decide the due categories this run can afford; stretch the rest."""
    conn = run.conn
    plan, share = plan_due(
        conn, run.settings, tokens_free=tokens_free, plan_per_hour=plan_per_hour,
        now=run.hooks.clock(),
    )  # fmt: skip
    if not plan.fetch and not plan.stretched:
        return CategoryReport()
    category_store.stretch(conn, plan.stretched)
    limit = min((x for x in (tokens_free, share) if x is not None), default=None)
    spending = Spending(left=limit)
    checked = named = queued = 0
    changes: list[Change] = []
    for watched in plan.fetch:
        try:
            listing = keepa.best_seller_list(watched.category_id, marketplace=watched.marketplace)
        except KeepaAuthError:
            raise
        except KeepaError as exc:
            message = f"best seller list of category {watched.category_id}: {exc}"
            run.log.record_error(
                ErrorEvent(source="keepa", kind="bestsellers_failed", message=message,
                           marketplace=watched.marketplace)
            )  # fmt: skip
            spending.warnings.append(f"watched categories stopped: {message}")
            break
        spending.spent += listing.tokens_consumed or 0
        count, alerts, found = decide_and_write(
            keepa, run, watched, listing, spending, now=run.hooks.clock()
        )
        checked, named, queued = checked + 1, named + count, queued + alerts
        changes += found
    return CategoryReport(
        checked=checked,
        stretched=len(plan.stretched),
        named=named,
        alerts_queued=queued,
        changes=tuple(changes),
        warnings=(*stretch_warning(plan), *spending.warnings),
    )


def decide_and_write(
    keepa: KeepaClient,
    run: Pass,
    watched: WatchedCategory,
    listing: BestSellerList,
    spending: Spending,
    *,
    now: datetime,
) -> tuple[int, int, tuple[Change, ...]]:
    """Name what the list's changes would show by ASIN alone, decide, write. Returns the
    products named, the alerts queued and the changes."""
    conn = run.conn
    asins = mentioned(watched, listing)
    known = category_store.known_products(
        conn, watched.marketplace, asins, client_id=watched.client_id
    )
    titles = name_products(keepa, to_name(asins, known), watched.marketplace, spending)
    known |= {asin: Listed(asin, title, known[asin].role) for asin, title in titles.items()}
    diff = diff_list(watched, listing, known=known, observed_at=now)
    if diff.first_empty:
        spending.warnings.append(
            f"Keepa has no best seller list for category {watched.category_id}"
            f" ({watched.marketplace}): nothing to watch there (an empty answer costs nothing)"
        )
    queued = write_list(run, diff, titles, next_check_at=next_check(watched, now=now))
    return len(titles), queued, diff.changes


def name_products(
    keepa: KeepaClient, asins: Sequence[str], marketplace: str, spending: Spending
) -> dict[str, str | None]:
    """Titles of untracked products from /product, 1 token each, within what is left."""
    asked = [asin for index, asin in enumerate(asins) if spending.affords(index + 1)]
    if not asked:
        return {}
    titles: dict[str, str | None] = {}
    try:
        for _, snapshots in keepa.batches(asked, marketplace=marketplace):
            titles |= {snapshot.asin: snapshot.title for snapshot in snapshots}
    except KeepaAuthError:
        raise
    except KeepaError as exc:
        spending.warnings.append(f"listed products not named: {exc}")
    spending.spent += len(titles)
    return titles


def write_list(
    run: Pass, diff: ListDiff, titles: dict[str, str | None], *, next_check_at: datetime
) -> int:
    """The watch's new state, its holder's stretch, the names, the changes and their alerts
    (with the calls that bought them), in one transaction. Returns the alerts queued."""
    watched = diff.watched
    deliveries = [
        delivery
        for change in diff.changes
        for delivery in deliveries_for(
            change,
            trackers=[watched.client_id],
            rules_by_client=run.given.rules.by_client,
            defaults=run.given.rules.defaults,
        )
    ]
    outcome = BatchOutcome(
        marketplace=watched.marketplace,
        observed=[],
        changes=list(diff.changes),
        deliveries=deliveries,
    )
    conn: psycopg.Connection = run.conn
    with conn.transaction():
        category_store.save_list(conn, diff, next_check_at=next_check_at)
        category_store.keep_names(conn, watched.marketplace, titles)
        queued = check_store.write_batch(
            conn,
            outcome,
            run_id=run.run_id or 0,
            calls=run.log.take_calls(),
            token_cost_usd=run.settings.keepa_token_cost_usd,
        )
    return len(queued)


def stretch_warning(plan: CategoryPlan) -> list[str]:
    if not plan.stretched:
        return []
    return [
        f"{len(plan.stretched)} watched categories wait for the next run: {plan.short_of}"
        " left too few tokens (CATEGORY_PLAN_SHARE; product checks come first)"
    ]
