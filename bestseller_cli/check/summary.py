"""What one pass did: the one summary that `check` prints as a table, `check --json` prints
whole, the `check_summary` log line and `check_runs.summary` keep with counts for lists.

Each field is declared once, with how the table shows it: a new counter is one line here
(`row("label")`) and appears in the table, the JSON and the logs alike. The table leaves out a
row still at its default (no ASIN left out, no alert refused...) unless it is one of the few
every pass reports (`always`), so that a quiet pass reads at a glance.
"""

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Literal

from pydantic import BaseModel

from bestseller_cli.kinds import KINDS, no_changes
from bestseller_cli.models import Change


def row(label: str, *, default: Any = 0, show: str | None = None, always: bool = False) -> Any:
    """A field with its own row in the table, shown when it differs from its default or
    `always`. `show` formats the row from the summary's record (`"{checked} of
    {asins_to_check}"`); by default the value, a list's length."""
    return field(default=default, metadata={"label": label, "show": show, "always": always})


def listed(
    label: str | None = None,
    *,
    where: str = "",
    in_log: Literal["count", "list", "omit"] = "count",
) -> Any:
    """A list: a row showing its length (with a `label`), else told as `where` says. The
    log line and `check_runs` keep its length (`count`), the list itself (`list`) or
    nothing (`omit`: its items have lines of their own)."""
    return field(default_factory=list, metadata={"label": label, "where": where, "in_log": in_log})


def by_kind(label: str) -> Any:
    """Changes per kind (kinds.count): a JSON key and a row for each kind, the row labelled
    `label` with the kind's `{bucket}`."""
    return field(default_factory=no_changes, metadata={"label": label, "by_kind": True})


def told(where: str, *, default: Any) -> Any:
    """A field in the JSON that the table tells another way: `where` says how."""
    return field(default=default, metadata={"where": where})


def internal(*, default: Any) -> Any:
    """Told by other rows or lines (a label's setting, a warning): neither printed nor in
    JSON."""
    return field(default=default, metadata={"internal": True})


@dataclass
class CheckSummary:
    """Counts and findings of one pass, assembled once at its end from what its steps
    returned (check/tally.py); its fields, in this order, are the keys of `check --json`
    (schema 1) and the rows of the table."""

    run_id: int | None = row("run id", default=None)
    resumed: bool = row("resumed an unfinished pass", default=False)
    lock_held_elsewhere: bool = told("a line instead of the table", default=False)
    # The live pass holding the run lock (so this one did nothing), or the session of a
    # vanished pass that this one ended to take the lock.
    lock_holder: str | None = told("the line instead of the table", default=None)
    stale_lock_ended: str | None = told("a warning line", default=None)
    dry_run: bool = told("the table's title", default=False)
    asins_to_check: int = told("the 'ASINs checked' row", default=0)
    # A scheduled run (not --all): the ASINs due, those its budget left for the next runs
    # (most urgent first: nothing is lost, only seen later), and those past the ceiling.
    asins_due: int = row("ASINs due")
    asins_deferred: int = row("ASINs due, left for the next runs (budget)")
    past_ceiling: int = row("ASINs past CHECK_CEILING_HOURS (plan too small)")
    waiting_for_keepa: int = row("ASINs due, waiting for Keepa's data to refresh")
    run_budget: int | None = row("Keepa tokens this run may spend", default=None)
    checked: int = row("ASINs checked", show="{checked} of {asins_to_check}", always=True)
    unavailable: int = row("unavailable on Keepa")
    # Left out of Keepa's answers: their last known state stands; `now_unknown` were left
    # out KEEPA_MISSING_PASSES_UNKNOWN passes in a row and became unknown.
    missing_from_keepa: list[str] = listed("left out of Keepa's answer")
    now_unknown: list[str] = listed("unknown after being left out")
    stale: int = row("Keepa data older than {stale_hours:g} h")  # KEEPA_STALE_HOURS
    # Answers with data newer than the answer before (first checks included), answers Keepa
    # served from its cache (no newer: the token bought nothing new), and the checks that
    # asked for live data (update=0, up to 2 tokens each).
    fresh_answers: int = row("answers with fresh data")
    cached_answers: int = row("answers from Keepa's cache (nothing new)")
    live_checks: int = row("ASINs asked for live data (update=0)")
    variation_parents: list[str] = listed("variation parents (track their children)")
    invalid: list[str] = listed("invalid on Keepa")
    baselines: int = row("first seen (baseline)")
    counts: dict[str, int] = by_kind("changes: {bucket}")  # "gained": 1, "lost": 0, ...
    changes: list[Change] = listed(where="a line each, above the table", in_log="omit")
    alerts_queued: int = row("alerts queued")
    alerts_sent: int = row("alerts sent", always=True)
    alerts_recovered: int = row("alerts found posted by an earlier run")
    alerts_printed: int = row("alerts printed (no Slack token)")
    alerts_folded_into_flapping: int = row("alerts folded into a flapping message")
    alerts_refused: int = row("alerts refused by Slack (kept for a retry)")
    # Why Slack refused alerts this run (token, channel, ...), once per reason.
    alerts_refused_because: list[str] = listed(where="an error line each", in_log="list")
    alerts_undelivered: int = row("alerts undelivered")
    alerts_expired: int = row("alerts expired undelivered")
    alerts_updated: int = row("messages updated with who took or lost #1")
    charts_posted: int = row("charts posted under alerts (SLACK_CHARTS)")
    # None: KEEPA_BESTSELLERS_LOOKUP is off
    holders_looked_up: int | None = row(
        "categories looked up on Keepa's best seller lists", default=None
    )
    categories_named: int = row("categories named by Keepa's /category")  # this pass
    # Watched categories (`categories watch`): lists fetched, those left for a later run
    # (stretched: the run's tokens or their share of the plan ran short; a warning says
    # which), untracked products named for their alerts.
    watched_categories_checked: int = row("watched categories checked")
    watched_categories_stretched: int = row("watched categories stretched to a later run")
    listed_products_named: int = row("listed products named by Keepa's /product")
    tokens_needed: int = row("Keepa tokens needed")
    tokens_available: int | None = row("Keepa tokens available at start", default=None)
    tokens_used: int = row("Keepa tokens used", always=True)
    detection_latency_ms_max: float | None = row("detection to queue (ms, max)", default=None)
    duration_seconds: float = row("duration (s)", default=0.0, always=True)
    stopped_because: str | None = told("an error line", default=None)
    interrupted: bool = row("stopped by SIGTERM", default=False)
    unchecked: list[str] = listed("ASINs not checked (the next run picks them up)")
    warnings: list[str] = listed(where="a warning line each", in_log="omit")
    conditions: list[str] = listed(where="an error line each (operations)", in_log="list")
    stale_hours: float = internal(default=24.0)  # KEEPA_STALE_HOURS, for the label above
    plan_too_small: str | None = internal(default=None)  # what the plan can watch, said once

    @property
    def exit_code(self) -> int:
        failed = (
            self.unchecked
            or self.past_ceiling
            or self.alerts_undelivered
            or self.alerts_expired
            or self.interrupted
        )
        return 1 if failed else 0

    def record(self) -> dict[str, Any]:
        """`check --json`: every field but the pass's bookkeeping (changes per kind as one
        key each), then the exit code."""
        record: dict[str, Any] = {}
        for spec in reported_fields():
            value = plain(getattr(self, spec.name))
            if spec.metadata.get("by_kind"):
                record.update(value)
            else:
                record[spec.name] = value
        return record | {"exit_code": self.exit_code}

    def log_record(self) -> dict[str, Any]:
        """The record for a log line or `check_runs`: lists as their length, or left out
        where their items have lines of their own."""
        record = self.record()
        for spec in reported_fields():
            in_log = spec.metadata.get("in_log")
            if in_log == "count":
                record[spec.name] = len(record[spec.name])
            elif in_log == "omit":
                del record[spec.name]
        return record

    def rows(self) -> list[tuple[str, str]]:
        """The table: (label, value) for each field with a row that has something to say,
        in field order; changes are counted per kind always."""
        record = self.record()
        shown = []
        for spec in reported_fields():
            label = spec.metadata.get("label")
            if label is None:
                continue
            if spec.metadata.get("by_kind"):
                counts = getattr(self, spec.name)
                shown += [
                    (label.format(bucket=kind.bucket), str(counts[value]))
                    for value, kind in KINDS.items()
                ]
                continue
            if not spec.metadata.get("always") and getattr(self, spec.name) == default_of(spec):
                continue
            show = spec.metadata.get("show")
            value = show.format(**record) if show else cell(record[spec.name])
            shown.append((label.format(**vars(self)), value))
        return shown


def reported_fields() -> list[Field]:
    return [spec for spec in fields(CheckSummary) if not spec.metadata.get("internal")]


def default_of(spec: Field) -> Any:
    return spec.default_factory() if spec.default is MISSING else spec.default


def plain(value: Any) -> Any:
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return str(len(value))
    return str(value)
