"""What a pass's steps returned, kept as they return it, and the one place the summary is
assembled from: the lock's result, the `WorkPlan`, each batch's counts, why fetching stopped,
the `DeliveryReport`, the names and holders looked up. No step writes the summary."""

from collections import Counter
from dataclasses import dataclass, field

from bestseller_cli.alerts.reconcile import DeliveryReport
from bestseller_cli.check.category_watch import CategoryReport
from bestseller_cli.check.fetch import Stopped, StopReason
from bestseller_cli.check.lock import LockResult
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.check.work import WorkPlan
from bestseller_cli.kinds import no_changes
from bestseller_cli.rules.batch_diff import BatchCounts


@dataclass(frozen=True)
class Lookups:
    """What the pass looked up besides the products: category names, #1 holders."""

    categories_named: int = 0
    holders_looked_up: int | None = None  # None: KEEPA_BESTSELLERS_LOOKUP is off
    warnings: tuple[str, ...] = ()


@dataclass
class PassTally:
    """The values one pass's steps returned, in order; `summary()` is built from them."""

    dry_run: bool
    stale_hours: float
    missing_unknown_after: int = 1
    lock: LockResult = field(default_factory=lambda: LockResult(held=True))
    run_id: int | None = None
    resumed: bool = False
    warnings: list[str] = field(default_factory=list)  # before the work (zones)
    plan: WorkPlan | None = None
    batches: list[BatchCounts] = field(default_factory=list)
    stopped: Stopped = field(default_factory=Stopped)
    unchecked: list[str] = field(default_factory=list)
    lookups: Lookups = field(default_factory=Lookups)
    categories: CategoryReport = field(default_factory=CategoryReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    tokens_used: int = 0
    interrupted: bool = False
    duration_seconds: float = 0.0
    conditions: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return sum(batch.checked for batch in self.batches)

    @property
    def stop_reason(self) -> StopReason:
        return self.stopped.reason

    def summary(self) -> CheckSummary:
        """The pass's summary, assembled from what its steps returned."""
        summary = CheckSummary(dry_run=self.dry_run, stale_hours=self.stale_hours)
        summary.run_id, summary.resumed = self.run_id, self.resumed
        summary.lock_held_elsewhere = not self.lock.held
        summary.lock_holder, summary.stale_lock_ended = self.lock.holder, self.lock.stale_ended
        plan_fields(summary, self.plan)
        batch_fields(summary, self.batches)
        delivery_fields(summary, self.delivery)
        summary.checked = self.checked
        summary.holders_looked_up = self.lookups.holders_looked_up
        summary.categories_named = self.lookups.categories_named
        category_fields(summary, self.categories)
        summary.tokens_used = self.tokens_used
        summary.duration_seconds = self.duration_seconds
        summary.stopped_because = self.stopped.because
        summary.interrupted = self.interrupted
        summary.unchecked = list(self.unchecked)
        summary.warnings = [
            *self.lock.warnings,
            *self.warnings,
            *(self.plan.warnings if self.plan else []),
            *self.lookups.warnings,
            *self.categories.warnings,
            *missing_warnings(summary, unknown_after=self.missing_unknown_after),
        ]
        summary.conditions = list(self.conditions)
        return summary


def plan_fields(summary: CheckSummary, plan: WorkPlan | None) -> None:
    if plan is None:
        return
    summary.asins_to_check, summary.tokens_needed = plan.asins_to_check, plan.tokens_needed
    summary.tokens_available = plan.tokens_available
    summary.asins_due, summary.asins_deferred = plan.asins_due, plan.asins_deferred
    summary.past_ceiling, summary.run_budget = plan.past_ceiling, plan.run_budget
    summary.waiting_for_keepa = plan.waiting_for_keepa
    summary.plan_too_small = plan.plan_too_small


def batch_fields(summary: CheckSummary, batches: list[BatchCounts]) -> None:
    counts: Counter[str] = Counter()
    for batch in batches:
        counts.update(
            unavailable=batch.unavailable,
            baselines=batch.baselines,
            stale=batch.stale,
            fresh_answers=batch.fresh_answers,
            cached_answers=batch.cached_answers,
            live_checks=batch.live_checks,
            alerts_queued=batch.alerts_queued,
        )
        summary.missing_from_keepa += batch.missing_from_keepa
        summary.now_unknown += batch.now_unknown
        summary.variation_parents += batch.variation_parents
        summary.invalid += batch.invalid
        summary.changes += batch.changes
    for name, value in counts.items():
        setattr(summary, name, value)
    summary.counts = no_changes()
    for change in summary.changes:
        summary.counts[change.kind] += 1
    latencies = [batch.latency_ms for batch in batches if batch.latency_ms is not None]
    summary.detection_latency_ms_max = round(max(latencies), 1) if latencies else None


def category_fields(summary: CheckSummary, report: CategoryReport) -> None:
    """The watched categories' lists: their changes count per kind beside the products'."""
    summary.watched_categories_checked = report.checked
    summary.watched_categories_stretched = report.stretched
    summary.listed_products_named = report.named
    summary.alerts_queued += report.alerts_queued
    summary.changes += report.changes
    for change in report.changes:
        summary.counts[change.kind] += 1


def delivery_fields(summary: CheckSummary, report: DeliveryReport) -> None:
    summary.alerts_sent = report.sent
    summary.alerts_printed = report.printed
    summary.alerts_refused = report.refused
    summary.alerts_expired = report.expired
    summary.alerts_refused_because = list(report.refusals)
    summary.alerts_recovered = report.recovered
    summary.alerts_folded_into_flapping = report.suppressed
    summary.alerts_undelivered = report.pending
    summary.alerts_updated = report.updated
    summary.charts_posted = report.charts


def missing_warnings(summary: CheckSummary, *, unknown_after: int) -> list[str]:
    warnings = []
    if summary.missing_from_keepa:
        warnings.append(
            f"Keepa's answer left out {len(summary.missing_from_keepa)} requested ASIN(s):"
            f" {', '.join(summary.missing_from_keepa[:20])}; each keeps its last known state"
            f" until left out {unknown_after} passes in a row (KEEPA_MISSING_PASSES_UNKNOWN),"
            " then it is unknown"
        )
    if summary.now_unknown:
        warnings.append(
            f"now unknown after {unknown_after} passes left out of Keepa's answers:"
            f" {', '.join(summary.now_unknown[:20])}"
        )
    return warnings
