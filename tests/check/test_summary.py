"""The pass's summary is one model: the table, `check --json` and the log line all come
from its field declarations, so a new counter cannot be left out of one of them."""

from dataclasses import MISSING, fields
from typing import Any

import pytest

from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.cli.check import print_summary
from bestseller_cli.kinds import KINDS

# Fields the table tells another way (its title, a line of their own, another row).
TOLD_APART = {
    "lock_held_elsewhere",
    "lock_holder",
    "stale_lock_ended",
    "dry_run",
    "asins_to_check",
    "changes",
    "alerts_refused_because",
    "stopped_because",
    "warnings",
    "conditions",
}


def summary_with_a_distinct_value_everywhere() -> CheckSummary:
    summary = CheckSummary()
    for number, spec in enumerate(fields(CheckSummary), start=101):
        default = spec.default_factory() if spec.default is MISSING else spec.default
        if spec.name == "changes" or spec.metadata.get("internal"):
            continue
        if isinstance(default, bool):
            value: Any = True
        elif isinstance(default, list):
            value = [f"{spec.name} {index}" for index in range(number)]
        elif isinstance(default, dict):  # changes per kind
            value = {kind: number * 10 + index for index, kind in enumerate(default)}
        elif spec.name == "stopped_because":
            value = "the run deadline (RUN_DEADLINE_MINUTES) is near"
        else:
            value = number
        setattr(summary, spec.name, value)
    summary.lock_held_elsewhere = False  # else a line replaces the table
    return summary


def test_every_summary_field_is_in_the_json_and_a_row_of_the_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = summary_with_a_distinct_value_everywhere()
    record = summary.record()
    print_summary(summary)
    table = capsys.readouterr().out.splitlines()

    reported = [spec for spec in fields(CheckSummary) if not spec.metadata.get("internal")]
    per_kind = [str(kind) for kind in KINDS]
    assert list(record) == [
        key
        for spec in reported
        for key in (per_kind if spec.metadata.get("by_kind") else [spec.name])
    ] + ["exit_code"]
    for spec in reported:
        value = getattr(summary, spec.name)
        if spec.metadata.get("by_kind"):
            for kind, definition in KINDS.items():
                assert record[kind] == value[kind]
                label = spec.metadata["label"].format(bucket=definition.bucket)
                [line] = [line for line in table if f" {label} " in line]
                assert f" {value[kind]} " in line, f"{kind}: {line}"
            continue
        assert record[spec.name] == value, spec.name
        if spec.name in TOLD_APART:
            assert spec.metadata["where"], f"{spec.name}: where does the table tell it?"
            continue
        label = spec.metadata["label"].format(stale_hours=summary.stale_hours)
        shown = len(value) if isinstance(value, list) else "yes" if value is True else value
        [line] = [line for line in table if f" {label} " in line]
        assert f" {shown} " in line, f"{spec.name}: {line}"


def test_the_table_tells_the_operator_every_count_the_json_has() -> None:
    unlabelled = {
        spec.name
        for spec in fields(CheckSummary)
        if not spec.metadata.get("label") and not spec.metadata.get("internal")
    }
    assert unlabelled == TOLD_APART


def test_the_log_line_counts_long_lists_and_leaves_out_those_told_line_by_line() -> None:
    summary = summary_with_a_distinct_value_everywhere()
    record = summary.log_record()
    assert "changes" not in record and "warnings" not in record
    assert record["unchecked"] == len(summary.unchecked)
    assert record["missing_from_keepa"] == len(summary.missing_from_keepa)
    assert record["conditions"] == summary.conditions
    assert record["alerts_refused_because"] == summary.alerts_refused_because
    assert set(summary.record()) - set(record) == {"changes", "warnings"}


def test_a_quiet_pass_shows_only_the_rows_every_pass_reports() -> None:
    summary = CheckSummary(asins_to_check=40, checked=40, tokens_used=40, duration_seconds=3.2)

    per_kind = [(f"changes: {kind.bucket}", "0") for kind in KINDS.values()]
    assert summary.rows() == [
        ("ASINs checked", "40 of 40"),
        *per_kind,
        ("alerts sent", "0"),
        ("Keepa tokens used", "40"),
        ("duration (s)", "3.2"),
    ]


def test_a_row_at_its_default_appears_once_it_has_something_to_say() -> None:
    summary = CheckSummary(asins_to_check=40, checked=38, unchecked=["B000000001", "B000000002"])
    labels = dict(summary.rows())

    assert labels["ASINs not checked (the next run picks them up)"] == "2"
    assert "alerts refused by Slack (kept for a retry)" not in labels
