"""The diff of one batch: what Keepa answered against what was stored, as one value.

`diff_batch` is pure. Given the stored state of a batch's ASINs (who tracks each, what was
known) and Keepa's named snapshots, it returns a `BatchOutcome`: the new state of each
product, the badge changes, the alerts to queue for them, and the counts the pass reports.
The pass writes that value in one store call (store/check_store.py) and hands its queued
alerts to delivery.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bestseller_cli.models import INVALID, VARIATION_PARENT, Change, ProductSnapshot, StoredState
from bestseller_cli.rules.badges import Observation, RankStep, TopSizes, observe
from bestseller_cli.rules.likelihood import Chance, estimate
from bestseller_cli.rules.product_kinds import snapshot_note
from bestseller_cli.rules.routing import Delivery, Rule, deliveries_for, fold_between_checks
from bestseller_cli.rules.routing import top_sizes as rules_top_sizes
from bestseller_cli.rules.schedule import Cadence, NextCheck, next_check


@dataclass(frozen=True)
class NameRow:
    """A name to store in category_names; source 'tree' (categoryTree) or 'lookup' (None:
    Keepa has no name for it)."""

    category_id: int
    name: str | None
    source: str


@dataclass(frozen=True)
class KnownAsin:
    """What was stored of one ASIN before this check, and who tracks it: with Keepa's
    `lastUpdate` in the answer before (`keepa_updated_at`) and the crossing rate carried
    from check to check (`crossing_rate`, rules/likelihood.py; None: not estimated yet)."""

    previous: StoredState | None
    trackers: list[int | None]
    missing_passes: int = 0  # passes in a row whose Keepa answer left it out
    keepa_updated_at: datetime | None = None
    crossing_rate: float | None = None

    def cached(self, snapshot: ProductSnapshot) -> bool:
        """Keepa answered from its cache: its data is no newer than in the answer before,
        so the token bought nothing new."""
        before, now = self.keepa_updated_at, snapshot.last_update
        return before is not None and now is not None and now <= before


@dataclass(frozen=True)
class ObservedProduct:
    snapshot: ProductSnapshot
    state: StoredState | None
    observed_at: datetime
    steps: list[RankStep] = field(default_factory=list)  # category ranks to keep
    next_check: NextCheck | None = None  # None: due at the next run
    chance: Chance | None = None  # of a #1 crossing within the hour (rules/likelihood.py)


@dataclass(frozen=True)
class RuleBook:
    """Every active client rule, by client, and the global defaults."""

    by_client: dict[int, list[Rule]] = field(default_factory=dict)
    defaults: Rule = field(default_factory=Rule)

    def all(self) -> list[Rule]:
        return [self.defaults, *(rule for rules in self.by_client.values() for rule in rules)]


@dataclass(frozen=True)
class BatchCounts:
    """What a batch adds to the pass's summary."""

    checked: int = 0
    unavailable: int = 0
    baselines: int = 0
    stale: int = 0
    # Answers with data newer than the answer before (a first check's included), or no newer
    # (Keepa answered from its cache); checks that asked for live data (update=0).
    fresh_answers: int = 0
    cached_answers: int = 0
    live_checks: int = 0
    missing_from_keepa: tuple[str, ...] = ()
    now_unknown: tuple[str, ...] = ()
    variation_parents: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    alerts_queued: int = 0
    latency_ms: float | None = None  # from Keepa's answer to the alerts queued


@dataclass(frozen=True)
class BatchOutcome:
    """A batch decided: what to write (one store call) and what the pass counts."""

    marketplace: str
    observed: list[ObservedProduct]
    changes: list[Change] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)  # the alerts to queue
    names: list[NameRow] = field(default_factory=list)  # category names to store
    missing: list[ProductSnapshot] = field(default_factory=list)  # left out by Keepa: the
    missing_unknown_after: int = 1  # stored state stands until left out this many passes
    counts: BatchCounts = field(default_factory=BatchCounts)

    @property
    def categories(self) -> list[tuple[str, int]]:
        """The (marketplace, category) pairs whose badge moved: their stories may be told."""
        return sorted({(change.marketplace, change.category_id) for change in self.changes})


def badge_categories(products: Sequence[ProductSnapshot], known: dict[str, KnownAsin]) -> set[int]:
    """Categories with a #1 now or before: their names are looked up first."""
    now = {
        category
        for snapshot in products
        for category, entry in snapshot.category_ranks.items()
        if entry.rank == 1
    }
    before = {
        category for entry in known.values() if entry.previous for category in entry.previous.badges
    }
    return now | before


@dataclass(frozen=True)
class DiffSettings:
    """The fixed inputs of every batch's diff in a pass."""

    rules: RuleBook
    cadence: Cadence
    stale_hours: float
    missing_unknown_after: int


def diff_batch(
    marketplace: str,
    products: Sequence[ProductSnapshot],
    known: dict[str, KnownAsin],
    *,
    names: list[NameRow],
    observed_at: datetime,
    given: DiffSettings,
) -> BatchOutcome:
    """Diff named snapshots against the stored state of their ASINs. A product no longer
    tracked (removed while the pass ran) is skipped."""
    top = rules_top_sizes(given.rules.all())
    stale_before = observed_at - timedelta(hours=given.stale_hours)
    observed: list[ObservedProduct] = []
    missing: list[ProductSnapshot] = []
    changes: list[Change] = []
    deliveries: list[Delivery] = []
    notes: Counter[str] = Counter()
    labels: dict[str, list[str]] = {"missing": [], "unknown": [], "parents": [], "invalid": []}
    for snapshot in products:
        entry = known.get(snapshot.asin)
        if entry is None:
            continue
        if snapshot.missing:
            missing.append(snapshot)
            label = f"{snapshot.asin} ({snapshot.marketplace})"
            labels["missing"].append(label)
            if entry.missing_passes + 1 == given.missing_unknown_after:
                labels["unknown"].append(label)
            continue
        product, result = observe_one(
            entry, snapshot, observed_at=observed_at, given=given, top=top
        )
        observed.append(product)
        changes.extend(result.changes)
        deliveries += deliveries_of(result.changes, entry, snapshot, rules=given.rules)
        notes["unavailable"] += not snapshot.available
        notes["baselines"] += result.is_baseline
        notes["stale"] += bool(snapshot.last_update and snapshot.last_update < stale_before)
        notes["observed"] += 1
        notes["cached"] += entry.cached(snapshot)
        note_kind(snapshot, labels)
    return BatchOutcome(
        marketplace=marketplace,
        observed=observed,
        missing=missing,
        missing_unknown_after=given.missing_unknown_after,
        changes=changes,
        deliveries=deliveries,
        names=names,
        counts=batch_counts(len(products), notes, labels, changes),
    )


def batch_counts(
    checked: int, notes: Counter[str], labels: dict[str, list[str]], changes: list[Change]
) -> BatchCounts:
    return BatchCounts(
        checked=checked,
        unavailable=notes["unavailable"],
        baselines=notes["baselines"],
        stale=notes["stale"],
        fresh_answers=notes["observed"] - notes["cached"],
        cached_answers=notes["cached"],
        missing_from_keepa=tuple(labels["missing"]),
        now_unknown=tuple(labels["unknown"]),
        variation_parents=tuple(labels["parents"]),
        invalid=tuple(labels["invalid"]),
        changes=tuple(changes),
    )


def observe_one(
    entry: KnownAsin,
    snapshot: ProductSnapshot,
    *,
    observed_at: datetime,
    given: DiffSettings,
    top: TopSizes,
) -> tuple[ObservedProduct, Observation]:
    """One product's new state and when to check it next, with what `observe` found."""
    previous = entry.previous
    result = observe(previous, snapshot, observed_at=observed_at, top=top)
    known_main = previous and previous.category_ranks.get(snapshot.main_category_id or -1)
    chance = estimate(
        snapshot,
        lately_before=entry.crossing_rate,
        checked_before=previous.checked_at if previous else None,
        best_before=best_rank_of(previous),
        now=observed_at,
    )
    product = ObservedProduct(
        snapshot=snapshot,
        state=result.state,
        observed_at=observed_at,
        steps=result.steps,
        next_check=next_check(
            previous,
            result.state,
            snapshot,
            main_before=known_main.rank if known_main else None,
            cadence=given.cadence,
            observed_at=observed_at,
            chance=chance,
        ),
        chance=chance,
    )
    return product, result


def best_rank_of(state: StoredState | None) -> int | None:
    """The best rank in any category at the check that led to `state`."""
    if state is None:
        return None
    return min((entry.rank for entry in state.category_ranks.values() if entry.rank), default=None)


def deliveries_of(
    changes: Sequence[Change], entry: KnownAsin, snapshot: ProductSnapshot, *, rules: RuleBook
) -> list[Delivery]:
    """The alerts one product's changes queue: one per channel, folded between checks."""
    return fold_between_checks(
        [
            delivery
            for change in changes
            for delivery in deliveries_for(
                change,
                trackers=entry.trackers,
                rules_by_client=rules.by_client,
                defaults=rules.defaults,
                main_category_id=snapshot.main_category_id,
            )
        ]
    )


def note_kind(snapshot: ProductSnapshot, labels: dict[str, list[str]]) -> None:
    """Products Keepa has no ranks for, by kind: a parent's children are what to track."""
    note = snapshot_note(snapshot)
    if note and snapshot.product_type == VARIATION_PARENT:
        labels["parents"].append(note)
    elif note and snapshot.product_type == INVALID:
        labels["invalid"].append(note)
