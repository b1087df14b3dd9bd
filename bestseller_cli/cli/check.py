"""`bestseller check` and `bestseller doctor`: the pass and the setup check, as printed."""

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from bestseller_cli.check import healthcheck
from bestseller_cli.check.context import PassOptions
from bestseller_cli.check.run import run_check
from bestseller_cli.check.shutdown import stop_on_sigterm
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.cli.common import client_name, console, err_console, print_json, settings
from bestseller_cli.errors import ConfigError
from bestseller_cli.escape import terminal_text
from bestseller_cli.kinds import ChangeKind, counts_text, kind_of
from bestseller_cli.maintenance.doctor import run_doctor
from bestseller_cli.models import Change, Printed, parse_asin
from bestseller_cli.output import emit, stdout_is_json, writes_json

log = logging.getLogger(__name__)


def check(
    asin: Annotated[
        list[str] | None, typer.Option("--asin", help="Only these ASINs (repeatable).")
    ] = None,
    client: Annotated[
        str | None, typer.Option(callback=client_name, help="Only this client's ASINs.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Fetch and diff, print what would alert; write and send nothing.")
    ] = False,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Check every ASIN now, due or not (a full pass: one token each), not only"
            " those the schedule says are due.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run one monitoring pass: check the ASINs that are due, most urgent first, within the
    run's share of the Keepa plan; detect badge changes, send alerts.

    On a terminal it prints a table; piped (or LOG_FORMAT=json) every line is a JSON event.
    """
    config = settings()
    with healthcheck.monitored(None if dry_run else config.healthcheck_url) as pinged:
        config.require_keepa_key()
        try:
            only = tuple(parse_asin(text) for text in asin) if asin else None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        show = AlertPrinter(err=as_json)
        with stop_on_sigterm() as stop, check_progress(enabled=not as_json) as on_progress:
            summary = run_check(
                config,
                options=PassOptions(
                    asins=only, client=client, dry_run=dry_run, everything=everything
                ),
                show=show,
                on_progress=on_progress,
                stop=stop,
            )
        pinged.silent = summary.lock_held_elsewhere
        if as_json:
            report_warnings(summary)
            report_failures(summary)
            print_json(summary.record())
        elif stdout_is_json():
            log_summary(summary)
        else:
            print_summary(summary)
        raise typer.Exit(summary.exit_code)


def doctor() -> None:
    """Check settings, database, run lock, Keepa key and budget, Slack, webhooks (a signed ping)."""
    findings = run_doctor(settings())
    failed = any(finding.status == "fail" for finding in findings)
    if stdout_is_json():
        levels = {"ok": "info", "warn": "warning", "fail": "error"}
        for finding in findings:
            emit(
                "doctor_finding",
                finding.detail,
                level=levels[finding.status],
                part=finding.part,
                status=finding.status,
            )
        raise typer.Exit(1 if failed else 0)
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    table = Table(title="bestseller doctor")
    for column in ("", "part", "detail"):
        table.add_column(column)
    for finding in findings:
        colour = colours[finding.status]
        table.add_row(
            f"[{colour}]{finding.status}[/{colour}]",
            terminal_text(finding.part),
            terminal_text(finding.detail),
        )
    console.print(table)
    if failed:
        raise typer.Exit(1)


@contextmanager
def check_progress(*, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal; nothing when piped or in cron."""
    if not (enabled and console.is_terminal):
        yield lambda done, total: None
        return
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Checking ASINs", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


class AlertPrinter:
    """Alerts without a Slack token are printed here instead of being dropped: as log
    records where the output goes to a log (piped, or LOG_FORMAT=json), unless `as_text`."""

    def __init__(self, *, err: bool, as_text: bool = False) -> None:
        self.err = err
        self.as_text = as_text

    def __call__(self, message: Printed) -> None:
        text, details = message.text, list(message.details)
        if not self.as_text and writes_json(sys.stderr if self.err else sys.stdout):
            emit("alert_printed", text, err=self.err, details=details)
            return
        target = err_console if self.err else console
        target.print(f"ALERT {terminal_text(text)}", highlight=False)
        for line in details:
            target.print(f"      {terminal_text(line)}", highlight=False)


UNCHECKED_SHOWN = 20
# Per-ASIN notes that every run repeats (600 invalid ASINs are 600 lines an hour): the first
# few, then one line with the count and the command that lists them all.
NOTES_SHOWN = 3


def report_warnings(summary: CheckSummary) -> None:
    kinds = (
        (summary.variation_parents, "are variation parents"),
        (summary.invalid, "are invalid on Keepa"),
    )
    lines = list(summary.warnings)
    for notes, what in kinds:
        lines += notes[:NOTES_SHOWN]
        if len(notes) > NOTES_SHOWN:
            lines.append(
                f"{len(notes) - NOTES_SHOWN} more tracked ASINs {what} ({len(notes)} in all;"
                " each run says so until they are fixed or removed): `bestseller doctor`"
                " lists every one"
            )
    for line in lines:
        log.warning(line, extra={"event": "check_warning"})


def report_failures(summary: CheckSummary) -> None:
    """Open conditions, an early stop, alerts refused, undelivered or expired, and unchecked
    ASINs: error lines on stderr, either form."""
    for condition in summary.conditions:
        log.error(f"condition open: {condition}", extra={"event": "condition_open"})
    if summary.stopped_because:
        log.error(
            f"stopped early: {summary.stopped_because}",
            extra={"event": "check_stopped", "fields": {"reason": summary.stopped_because}},
        )
    for reason in summary.alerts_refused_because:
        log.error(f"Slack refused alerts: {reason}", extra={"event": "alerts_refused"})
    if summary.alerts_undelivered:
        log.error(
            f"{summary.alerts_undelivered} alert(s) not delivered: kept and sent by the next run"
            " or `bestseller alerts retry` (`bestseller alerts list --undelivered` shows them)",
            extra={"event": "alerts_undelivered"},
        )
    if summary.alerts_expired:
        log.error(
            f"{summary.alerts_expired} alert(s) expired undelivered (ALERT_EXPIRY_DAYS);"
            " `bestseller alerts list` shows them with the last error",
            extra={"event": "alerts_expired"},
        )
    if summary.unchecked:
        shown = summary.unchecked[:UNCHECKED_SHOWN]
        more = len(summary.unchecked) - len(shown)
        log.error(
            f"not checked this run: {', '.join(shown)}{f' and {more} more' if more else ''}"
            " (the next run picks them up)",
            extra={
                "event": "asins_unchecked",
                "fields": {"count": len(summary.unchecked), "asins": shown},
            },
        )


def change_line(change: Change) -> str:
    """`in Garlic Presses: B0C1234567 (com) Title`, after the change's verb; a watched
    category's top-N digest names the products that moved."""
    where = f"in {change.category_name or change.category_id}:"
    if change.kind == ChangeKind.LIST_TOP_N:
        moved = ", ".join(move.asin for move in change.list_moves or [])
        return f"{where} {moved} ({change.marketplace})"
    return f"{where} {change.asin} ({change.marketplace}) {change.title or ''}".rstrip()


def log_summary(summary: CheckSummary) -> None:
    """The pass as JSON lines: one per badge change, then the summary (the same record as
    --json, with counts in place of the long lists)."""
    report_warnings(summary)
    report_failures(summary)
    if summary.lock_held_elsewhere:
        emit("check_skipped", skipped_line(summary), holder=summary.lock_holder)
        return
    for change in summary.changes:
        verb = kind_of(change.kind).verb
        emit("badge_change", f"{verb} {change_line(change)}", **change.model_dump())
    message = (
        f"{'dry run: ' if summary.dry_run else ''}checked {summary.checked} of"
        f" {summary.asins_to_check} ASINs: {counts_text(summary.counts)},"
        f" {summary.alerts_sent + summary.alerts_recovered} alerts sent,"
        f" {summary.alerts_undelivered} undelivered, {summary.tokens_used} tokens used,"
        f" {summary.duration_seconds} s"
    )
    level = "info" if summary.exit_code == 0 else "error"
    emit("check_summary", message, level=level, **summary.log_record())


def skipped_line(summary: CheckSummary) -> str:
    holder = f" by {summary.lock_holder}" if summary.lock_holder else ""
    return (
        f"another check is running (the run lock is held{holder}); nothing to do, and the"
        " cron monitor is not told of success"
    )


def print_summary(summary: CheckSummary) -> None:
    report_warnings(summary)
    if summary.lock_held_elsewhere:
        console.print(terminal_text(skipped_line(summary)), highlight=False)
        return
    for change in summary.changes:
        kind = kind_of(change.kind)
        console.print(
            f"[{kind.colour}]{kind.verb}[/{kind.colour}] {terminal_text(change_line(change))}",
            highlight=False,
        )
    table = Table(title="Dry run (nothing written or sent)" if summary.dry_run else "Check")
    table.add_column("")
    table.add_column("", justify="right")
    for label, value in summary.rows():
        table.add_row(terminal_text(label), terminal_text(value))
    table.show_header = False
    console.print(table)
    report_failures(summary)
