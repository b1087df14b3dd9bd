"""One batch of a pass: name its categories, diff it against the stored state and write it, with
the alerts it queues, in one round trip."""

import time
from datetime import timedelta

from bestseller_cli.check.category_names import name_batch, with_names
from bestseller_cli.check.context import PassContext
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import INVALID, VARIATION_PARENT, Change, ProductSnapshot
from bestseller_cli.rules.badges import observe
from bestseller_cli.rules.product_kinds import snapshot_note
from bestseller_cli.rules.routing import deliveries_for, fold_between_checks, top_sizes
from bestseller_cli.rules.schedule import next_check
from bestseller_cli.store import check_store


def note_product_kind(summary: CheckSummary, snapshot: ProductSnapshot) -> None:
    """Products Keepa has no ranks for, by kind: a parent's children are what to track."""
    note = snapshot_note(snapshot)
    if note and snapshot.product_type == VARIATION_PARENT:
        summary.variation_parents.append(note)
    elif note and snapshot.product_type == INVALID:
        summary.invalid.append(note)


def process_batch(
    context: PassContext,
    marketplace: str,
    requested: list[str],
    products: list[ProductSnapshot],
    *,
    keepa: KeepaClient,
) -> tuple[list[int], list[tuple[str, int]]]:
    """Name, diff and write a batch: one read, /category lookups if needed, one write.
    Returns the outbox ids it queued and the (marketplace, category) pairs whose badge
    moved."""
    received_at = time.monotonic()
    observed_at = context.hooks.clock()
    summary = context.summary
    categories = sorted({c for snapshot in products for c in snapshot.category_ranks})
    known = check_store.load_batch(
        context.conn, marketplace=marketplace, asins=requested, category_ids=categories
    )
    badge_categories = {
        category
        for snapshot in products
        for category, entry in snapshot.category_ranks.items()
        if entry.rank == 1
    } | {
        category
        for entry in known.asins.values()
        if entry.previous
        for category in entry.previous.badges
    }
    named = name_batch(
        keepa,
        marketplace=marketplace,
        snapshots=products,
        cached=known.names,
        first=badge_categories,
        budget=context.names,
        now=observed_at,
        on_error=context.errors.append,
    )
    rules_by_client, defaults = context.rules
    top = top_sizes([defaults, *(rule for rules in rules_by_client.values() for rule in rules)])
    stale_before = observed_at - timedelta(hours=context.settings.keepa_stale_hours)
    observed: list[check_store.ObservedProduct] = []
    missing: list[ProductSnapshot] = []
    changes: list[Change] = []
    deliveries = []
    unknown_after = context.settings.keepa_missing_passes_unknown
    for snapshot in products:
        entry = known.asins.get(snapshot.asin)
        if entry is None:  # removed from tracking while the pass ran
            continue
        if snapshot.missing:
            missing.append(snapshot)
            label = f"{snapshot.asin} ({snapshot.marketplace})"
            summary.missing_from_keepa.append(label)
            if entry.missing_passes + 1 == unknown_after:
                summary.now_unknown.append(label)
            continue
        snapshot = with_names(snapshot, named.names)
        result = observe(entry.previous, snapshot, observed_at=observed_at, top=top)
        known_main = entry.previous and entry.previous.category_ranks.get(
            snapshot.main_category_id or -1
        )
        summary.unavailable += not snapshot.available
        summary.baselines += result.is_baseline
        summary.stale += bool(snapshot.last_update and snapshot.last_update < stale_before)
        note_product_kind(summary, snapshot)
        observed.append(
            check_store.ObservedProduct(
                snapshot=snapshot,
                state=result.state,
                observed_at=observed_at,
                steps=result.steps,
                next_check=next_check(
                    entry.previous,
                    result.state,
                    snapshot,
                    main_before=known_main.rank if known_main else None,
                    cadence=context.cadence,
                ),
            )
        )
        changes.extend(result.changes)
        deliveries += fold_between_checks(
            [
                delivery
                for change in result.changes
                for delivery in deliveries_for(
                    change,
                    trackers=entry.trackers,
                    rules_by_client=rules_by_client,
                    defaults=defaults,
                    main_category_id=snapshot.main_category_id,
                )
            ]
        )
    for change in changes:
        summary.counts[change.kind] += 1
    summary.changes += changes
    calls = context.take_calls()
    summary.tokens_used += sum(call.tokens_consumed or 0 for call in calls)
    if context.options.dry_run or context.run_id is None:
        context.conn.rollback()
        return [], []
    _, queued = check_store.write_batch(
        context.conn,
        run_id=context.run_id,
        marketplace=marketplace,
        products=observed,
        names=named.rows,
        changes=changes,
        deliveries=deliveries,
        calls=calls,
        token_cost_usd=context.settings.keepa_token_cost_usd,
        missing=missing,
        missing_unknown_after=unknown_after,
    )
    summary.alerts_queued += len(queued)
    latency = (time.monotonic() - received_at) * 1000
    slowest = max(summary.detection_latency_ms_max or 0.0, latency)
    summary.detection_latency_ms_max = round(slowest, 1)
    categories = {(change.marketplace, change.category_id) for change in changes}
    return queued, sorted(categories)
