"""The machine a run was made on, and the results as Markdown tables for README.md."""

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start -->", "<!-- results:end -->"
# "flat": the largest size costs at most 20% more than the cheapest smaller size (fixed
# costs such as connecting and migrating make the smallest size dearer per ASIN, not cheaper).
FLAT = 1.2
MARGINAL_FLAT = 1.3  # issue 14: marginal time per ASIN, largest size vs cheapest smaller one
AGED = 1.2  # a year of history may cost at most this much more than a fresh database


def machine(*, postgres: str | None) -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python, PostgreSQL (None: the run used none) and the commit."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **({"postgres": postgres} if postgres else {}),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_code": _git("status", "--porcelain", "--", "bestseller_cli").splitlines(),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _flat(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    floor = min(values[:-1])
    growth = values[-1] / floor if floor else float("inf")
    return f"{_verdict(growth <= FLAT)} (x{growth:.2f})"


def _marginal(
    passes: list[dict[str, Any]], sizes: list[int], seconds: Callable[[dict[str, Any]], float]
) -> list[float]:
    """Extra time per extra ASIN from the previous size (ms): fixed costs cancel out."""
    values = []
    for index in range(1, len(passes)):
        extra = seconds(passes[index]) - seconds(passes[index - 1])
        values.append(extra / (sizes[index] - sizes[index - 1]) * 1000)
    return values


def _time(result: dict[str, Any]) -> float:
    return float(result["derived"]["seconds_excluding_keepa"])


def _cpu_with_postgres(result: dict[str, Any]) -> float:
    return float(result["cpu_seconds"] + result["cpu_outside"]["postgres"])


def _flat_within(values: list[float], limit: float) -> str:
    if len(values) < 2:
        return ""
    floor = min(values[:-1])
    growth = values[-1] / floor if floor > 0 else float("inf")
    return f"{_verdict(growth <= limit)} (x{growth:.2f})"


def tables(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    measured = [size["measured"] for size in sizes]
    baseline = [size["baseline"] for size in sizes]

    def row(label: str, target: str, cells: list[str], verdict: str = "") -> str:
        return f"| {label} | {target} | " + " | ".join(cells) + f" | {verdict} |"

    def each(passes: list[dict[str, Any]], path: str, fmt: str = "{}") -> list[str]:
        cells = []
        for result in passes:
            value: Any = result
            for key in path.split("."):
                value = value[key]
            cells.append(fmt.format(value))
        return cells

    def values(passes: list[dict[str, Any]], path: str) -> list[float]:
        return [float(cell) for cell in each(passes, path)]

    per_asin = values(measured, "derived.ms_per_asin_excluding_keepa")
    per_asin_base = values(baseline, "derived.ms_per_asin_excluding_keepa")
    cpu = values(measured, "derived.cpu_ms_per_asin")
    rss = values(measured, "peak_rss_mib")
    round_trips = values(measured, "derived.round_trips_per_batch")
    round_trips_base = values(baseline, "derived.round_trips_per_batch")
    tokens = values(measured, "derived.tokens_per_asin_fake") + values(
        measured, "derived.tokens_per_asin_usage_log"
    )
    counts = [size["asins"] for size in sizes]
    marginal = _marginal(measured, counts, _time)
    postgres = values(measured, "derived.postgres_cpu_ms_per_asin")
    both = values(measured, "derived.cpu_with_postgres_ms_per_asin")
    marginal_cpu = _marginal(measured, counts, _cpu_with_postgres)
    per_alert = values(measured, "derived.round_trips_per_alert")
    medians = [
        result["alerts"]["detection_to_delivery_seconds_median"] or 0.0 for result in measured
    ]
    header = "| | target | " + " | ".join(f"{size['asins']:,} ASINs" for size in sizes)
    lines = [
        header + " | verdict |",
        "|---|---|" + "---:|" * len(sizes) + "---|",
        row("Wall time, measured pass (s)", "linear", each(measured, "wall_seconds", "{:.2f}")),
        row(
            "… of which waiting for Keepa's answers (s)",
            "",
            [f"{r['phase_seconds'].get('keepa_wait', 0.0):.2f}" for r in measured],
        ),
        row(
            "… Keepa requests / time inside the fake Keepa, summed over requests (s)",
            "",
            [
                f"{r['keepa']['product_requests']} / {r['keepa']['seconds_inside_fake']:.1f}"
                for r in measured
            ],
        ),
        row(
            "Time per ASIN excluding Keepa, measured pass (ms)",
            "flat",
            [f"{value:.3f}" for value in per_asin],
            _flat(per_asin),
        ),
        row(
            "… marginal: extra time per extra ASIN from the previous size (ms)",
            "flat (x1.3)",
            ["—"] + [f"{value:.3f}" for value in marginal],
            _flat_within(marginal, MARGINAL_FLAT),
        ),
        row(
            "Time per ASIN excluding Keepa, baseline pass (ms)",
            "flat",
            [f"{value:.3f}" for value in per_asin_base],
            _flat(per_asin_base),
        ),
        row(
            "… batches / delivery / rest (ms per ASIN)",
            "",
            [
                " / ".join(f"{v:.3f}" for v in result["derived"]["breakdown_ms_per_asin"].values())
                for result in measured
            ],
        ),
        row("CPU per ASIN, pass process (ms)", "flat", [f"{v:.3f}" for v in cpu], _flat(cpu)),
        row(
            "… CPU: batches / delivery / rest incl. Keepa client threads (ms per ASIN)",
            "",
            [
                " / ".join(
                    f"{v:.3f}" for v in result["derived"]["cpu_breakdown_ms_per_asin"].values()
                )
                for result in measured
            ],
        ),
        row(
            "CPU per ASIN, PostgreSQL: every server process (ms)",
            "flat",
            [f"{v:.3f}" for v in postgres],
            _flat(postgres),
        ),
        row(
            "CPU per ASIN, pass + PostgreSQL (ms)", "flat", [f"{v:.3f}" for v in both], _flat(both)
        ),
        row(
            "… marginal: extra CPU per extra ASIN from the previous size (ms)",
            "flat (x1.3)",
            ["—"] + [f"{value:.3f}" for value in marginal_cpu],
            _flat_within(marginal_cpu, MARGINAL_FLAT),
        ),
        row(
            "… PostgreSQL: WAL per ASIN (bytes) / full-page images / checkpoints",
            "",
            [
                "{:.0f} / {:,} / {}".format(
                    r["server_counters"].get("wal_bytes", 0) / max(r["summary"]["checked"], 1),
                    r["server_counters"].get("wal_full_page_images", 0),
                    r["server_counters"].get("checkpoints", 0),
                )
                for r in measured
            ],
        ),
        row(
            "Machine CPU during the pass: ours (pass + PostgreSQL) / fakes / other users (s);"
            " other users' share of the 2 cores",
            "",
            [
                "{:.1f} / {:.1f} / {:.1f}; {:.0%}".format(
                    r["cpu_outside"]["pass_process"] + r["cpu_outside"]["postgres"],
                    r["cpu_outside"]["fakes"],
                    r["cpu_outside"]["others"],
                    r["cpu_outside"]["others_share_of_machine"],
                )
                for r in measured
            ],
        ),
        row(
            "… the pass's main thread: CPU / runnable but waiting for a core (s)",
            "",
            [
                "{:.1f} / {:.1f}".format(
                    r.get("main_thread_cpu_seconds", 0.0),
                    r.get("main_thread_run_queue_seconds", 0.0),
                )
                for r in measured
            ],
        ),
        row(
            "DB round trips per 100-ASIN batch, measured / baseline",
            "≤ 3",
            [f"{a:.2f} / {b:.2f}" for a, b in zip(round_trips, round_trips_base, strict=True)],
            _verdict(max(round_trips + round_trips_base) <= 3),
        ),
        row(
            "DB round trips per alert (claims + stories, marks, updates, end-of-pass sweep)",
            "≤ 2",
            [f"{value:.2f}" for value in per_alert],
            _verdict(max(per_alert) <= 2),
        ),
        row(
            "DB round trips per pass outside batches (setup + delivery + records)",
            "",
            [
                str(sum(result["round_trips"].values()) - result["round_trips"].get("batch", 0))
                for result in measured
            ],
        ),
        row(
            "Peak RSS of the pass process (MiB)",
            "flat",
            [f"{value:.0f}" for value in rss],
            _flat(rss),
        ),
        row(
            "… RSS growth during the pass (MiB)",
            "",
            each(measured, "derived.rss_growth_during_pass_mib", "{:.1f}"),
        ),
        row(
            "Keepa tokens per ASIN per pass (fake's products served / api_usage_log)",
            "1.00",
            [
                f"{a:.2f} / {b:.2f}"
                for a, b in zip(
                    values(measured, "derived.tokens_per_asin_fake"),
                    values(measured, "derived.tokens_per_asin_usage_log"),
                    strict=True,
                )
            ],
            _verdict(all(abs(value - 1) < 0.005 for value in tokens)),
        ),
        row(
            "Written: checks (asin_checks) / bestseller_changes / notification_log",
            "",
            [
                "{checks:,} / {bestseller_changes:,} / {notification_log:,}".format(
                    **written_rows(result["rows_written"])
                )
                for result in measured
            ],
        ),
        row(
            "Badge changes (gained + lost) / alerts delivered / messages updated in place",
            "",
            [
                "{} + {} / {} / {}".format(
                    result["summary"]["gained"],
                    result["summary"]["lost"],
                    result["summary"]["alerts_sent"] + result["summary"]["alerts_printed"],
                    result["summary"].get("alerts_updated", 0),
                )
                for result in measured
            ],
        ),
        row(
            "Detection latency, max (Keepa answer → batch written, ms)",
            "",
            each(measured, "summary.detection_latency_ms_max", "{:.1f}"),
        ),
        row(
            "Load average (1 min) at the end of the measured pass",
            "",
            each(measured, "load_average_1min_at_end", "{:.2f}"),
        ),
        row(
            "Detection → alert delivered, median / max (s)",
            "≤ 2 (median)",
            [
                f"{result['alerts']['detection_to_delivery_seconds_median']}"
                f" / {result['alerts']['detection_to_delivery_seconds_max']}"
                for result in measured
            ],
            _verdict(max(medians) <= 2),
        ),
    ]
    repeated = [size for size in sizes if len(size.get("repeats", [])) > 1]
    if repeated:
        lines += [
            "",
            "Sizes up to {:,} ASINs: the median of {} churn passes (by time excluding Keepa),"
            " each after its own 1% churn; time excluding Keepa of each pass (s): {}.".format(
                results["config"].get("repeat_up_to", 0),
                len(repeated[0]["repeats"]),
                "; ".join(
                    f"{size['asins']:,}: "
                    + " / ".join(f"{r['seconds_excluding_keepa']:.2f}" for r in size["repeats"])
                    for size in repeated
                ),
            ),
        ]
    parts = [_machine_line(results), "", *lines, ""]
    if results.get("aged"):
        parts += [_aged_table(results), ""]
    if results.get("overlap"):
        parts += [_overlap_table(results), ""]
    return "\n".join([*parts, _parser_table(results)])


def _aged_table(results: dict[str, Any]) -> str:
    """The same size on a fresh database and after a year of hourly passes."""
    aged = results["aged"]
    fresh = next((s for s in results["sizes"] if s["asins"] == aged["asins"]), None)
    filled = aged["prefilled"]
    lines = [
        f"A year of hourly history first ({aged['asins']:,} ASINs, {filled['check_runs']:,}"
        f" passes: {filled['asin_checks']:,} asin_checks rows,"
        f" {filled['rank_points']:,} rank points, {filled['asin_details']:,} detail points,"
        f" {filled['bestseller_changes']:,} changes, {filled['notification_log']:,} sent"
        f" alerts, {filled['api_usage_log']:,} Keepa calls;"
        f" {filled['database_bytes'] / 2**20:,.0f} MiB), measured pass against a fresh"
        " database:",
        "",
        "| | fresh | a year of history | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    if fresh is None:
        return "\n".join(lines[:1]) + " (no fresh run of that size to compare)"
    for label, path, fmt in (
        ("Wall time (s)", "wall_seconds", "{:.2f}"),
        ("Time excluding Keepa (s)", "derived.seconds_excluding_keepa", "{:.3f}"),
        ("CPU per ASIN, pass + PostgreSQL (ms)", "derived.cpu_with_postgres_ms_per_asin", "{:.3f}"),
        (
            "Control, no database involved: CPU decoding Keepa's answers per ASIN (ms)",
            "derived.keepa_decode_cpu_ms_per_asin",
            "{:.3f}",
        ),
        ("DB round trips, whole pass", "derived.round_trips_total", "{}"),
        ("Pages touched by the pass's statements", "derived.pages_touched", "{:,}"),
        ("DB round trips per alert", "derived.round_trips_per_alert", "{:.2f}"),
        ("Detection → delivered, median (s)", "alerts.detection_to_delivery_seconds_median", "{}"),
    ):
        a, b = fresh["measured"], aged["measured"]
        for key in path.split("."):
            a, b = a[key], b[key]
        if a is None or b is None:
            lines.append(f"| {label} | {a} | {b} | — | |")
            continue
        ratio = float(b) / float(a) if float(a) else float("inf")
        judged = "Detection" not in label and "Control" not in label
        verdict = f"≤ {AGED} ({_verdict(ratio <= AGED)})" if judged else ""
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | x{ratio:.2f} | {verdict} |")
    for name, plan in aged["measured"].get("plans", {}).items():
        before = fresh["measured"].get("plans", {}).get(name)
        if before:
            ratio = plan["buffers"] / before["buffers"] if before["buffers"] else float("inf")
            lines.append(
                f"| EXPLAIN (ANALYZE, BUFFERS): {name}, pages ({plan['alerts']} alerts) |"
                f" {before['buffers']} ({before['ms']:.1f} ms) |"
                f" {plan['buffers']} ({plan['ms']:.1f} ms) | x{ratio:.2f} | |"
            )
    return "\n".join(lines)


def _overlap_table(results: dict[str, Any]) -> str:
    """Pass wall time by KEEPA_REQUESTS_AHEAD, at one size and Keepa latency."""
    runs = results["overlap"]
    latency = results["config"]["keepa_latency_ms"]
    source = results["config"].get("overlap_from")
    lines = [
        f"Keepa overlap: the measured pass at {runs[0]['asins']:,} ASINs, {latency:g} ms per"
        " request, by requests in flight while a batch is processed (KEEPA_REQUESTS_AHEAD)"
        + (f" ({source})" if source else "")
        + ":",
        "",
        "| KEEPA_REQUESTS_AHEAD | wall time (s) | waiting for Keepa (s) | tokens per ASIN |",
        "|---:|---:|---:|---:|",
    ]
    for run in runs:
        measured = run["measured"]
        lines.append(
            f"| {run['requests_ahead']} | {measured['wall_seconds']:.1f}"
            f" | {measured['phase_seconds'].get('keepa_wait', 0.0):.1f}"
            f" | {measured['derived']['tokens_per_asin_fake']:.2f} |"
        )
    return "\n".join(lines)


def _machine_line(results: dict[str, Any]) -> str:
    m, c = results["machine"], results["config"]
    code = f"commit {m['commit']}"
    if m["uncommitted_code"]:
        code += f" + uncommitted changes in {len(m['uncommitted_code'])} bestseller_cli file(s)"
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']};"
        f" Python {m['python']}; PostgreSQL {m['postgres']} (embedded); {code}."
        f" Fake Keepa latency {c['keepa_latency_ms']:g} ms per request in the measured pass"
        f" ({c.get('baseline_latency_ms', c['keepa_latency_ms']):g} ms in the baseline),"
        f" KEEPA_REQUESTS_AHEAD={c.get('requests_ahead', 0)}, {c['history_points']}"
        f"-point rank histories; churn {c['churn']:.0%} of ASINs; alerts: {c['slack']}."
    )


def _parser_table(results: dict[str, Any]) -> str:
    p = results["parsers"]
    per = p["products_per_response"]
    ms = p["ms_per_response"]
    rows = [
        ("ours: `parse_product` → ProductSnapshot", ms["ours"], 1.0),
        (
            f"keepa {p['keepa_version']}: `parse_csv` (what `Keepa.query()` does per product)",
            ms["keepa_parse_csv"],
            p["ratio_keepa_parse_csv_to_ours"],
        ),
        (
            "keepa: `parse_csv` + `Product.model_validate` (`query(typed=True)`)",
            ms["keepa_typed"],
            p["ratio_keepa_typed_to_ours"],
        ),
        ("shared by both: gunzip + `json.loads` of the response", p["decode_ms_per_response"], 0),
    ]
    lines = [
        f"Parsing the same {p['responses']} responses of {per} products"
        f" ({p['response_bytes_json'] // 1024} KiB JSON, {p['response_bytes_gzip'] // 1024} KiB"
        f" gzip each), best of {p['repeats']} rounds:",
        "",
        "| parser | ms per 100-product response | µs per product | x ours |",
        "|---|---:|---:|---:|",
    ]
    for label, value, ratio in rows:
        times = f"{ratio:.2f}" if ratio else "—"
        lines.append(f"| {label} | {value:.2f} | {value * 1000 / per:.0f} | {times} |")
    lines.append("")
    lines.append(
        f"Including the shared decode, keepa's path costs x{p['ratio_with_decode']:.2f} ours."
    )
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} … {END} markers for the results table")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def written_rows(rows: dict[str, int]) -> dict[str, int]:
    """Results from before compact history counted checks as asin_history rows."""
    return {**rows, "checks": rows.get("checks", rows.get("asin_history", 0))}


def main() -> None:
    """`python -m benchmarks.report [results.json]`: redraw README.md's table from a run."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks/results/latest.json"
    table = tables(json.loads(source.read_text()))
    update_readme(ROOT / "benchmarks" / "README.md", table)
    print(table)


if __name__ == "__main__":
    main()
