"""The benchmark: `python -m benchmarks.run --sizes 1000,10000,100000` (see README.md).

Per size: a fresh database seeded with N tracked ASINs, a baseline pass, 1% rank churn,
then the measured pass; each pass runs in its own process (benchmarks.worker) against the
fake Keepa and fake Slack served from this one. Then our parser against keepa's.
Results go to benchmarks/results/latest.json and the table in benchmarks/README.md.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import cpu, database, history, parsers, plans, report
from benchmarks.fake_keepa import BenchKeepa, sample_response
from fakes import SLACK_TEST_TOKEN
from fakes.keepa_server import serve

ROOT = Path(__file__).resolve().parent.parent
KEEPA_KEY = "bench" + "0" * 59
SLACK_CHANNEL = "C0BENCH"
CLEARED = ("KEEPA_", "SLACK_", "BESTSELLER_", "DATABASE_URL", "BATCH_SIZE", "MAX_RETRIES")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    pg = database.Postgres.start()
    fake = BenchKeepa(history_points=args.history)
    keepa_server = serve(fake)
    slack = start_fake_slack()
    try:
        results: dict[str, Any] = {
            "machine": report.machine(postgres=pg.version()),
            "config": {
                "keepa_latency_ms": args.keepa_latency_ms,
                "baseline_latency_ms": args.baseline_latency_ms,
                "requests_ahead": args.requests_ahead,
                "history_points": args.history,
                "churn": args.churn,
                "badge_holders": args.holders,
                "batch_size": args.batch_size,
                "slack": "fake Slack Web API (fakes/slack_server.py)" if slack else "printed",
                "pg_stat_statements": pg.statements,
                "seed": args.seed,
                "repeats": args.repeats,
                "repeat_up_to": args.repeat_up_to,
            },
            "sizes": [],
        }
        for size in args.sizes:
            results["sizes"].append(run_size(size, args, pg=pg, fake=fake, slack=slack))
        if args.aged_size:
            results["aged"] = run_size(
                args.aged_size, args, pg=pg, fake=fake, slack=slack, aged=True
            )
        results["overlap"] = [
            run_size(args.overlap_size, args, pg=pg, fake=fake, slack=slack, ahead=ahead)
            for ahead in args.overlap_ahead
        ]
        log("parsers: our parse_product against keepa's parse_csv")
        sample = fake.populate(args.parse_responses * 100, holders=args.holders, seed=args.seed)
        responses = [
            sample_response(fake, sample[start : start + 100])
            for start in range(0, len(sample), 100)
        ]
        results["parsers"] = parsers.compare(responses, repeats=args.parse_repeats)
    finally:
        keepa_server.shutdown()
        if slack:
            slack.stop()
        pg.stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = report.tables(results)
    print(table)
    if args.readme:
        report.update_readme(args.readme, table)
    log(f"wrote {args.output}" + (f" and the table in {args.readme}" if args.readme else ""))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1000, 10_000, 100_000],
        help="tracked ASINs per run, comma separated (default 1000,10000,100000)",
    )
    parser.add_argument("--churn", type=float, default=0.01, help="share of ASINs flipping #1")
    parser.add_argument("--holders", type=float, default=0.05, help="share holding #1 at first")
    parser.add_argument(
        "--keepa-latency-ms", type=float, default=1500.0, help="per request, measured pass"
    )
    parser.add_argument(
        "--baseline-latency-ms", type=float, default=50.0, help="per request, baseline pass"
    )
    parser.add_argument(
        "--requests-ahead", type=int, default=8, help="KEEPA_REQUESTS_AHEAD of the passes"
    )
    parser.add_argument(
        "--aged-size", type=int, default=1000, help="ASINs of the year-of-history row (0: none)"
    )
    parser.add_argument("--overlap-size", type=int, default=10_000)
    parser.add_argument(
        "--overlap-ahead",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[0, 1, 4],
        help="KEEPA_REQUESTS_AHEAD values the overlap rows compare ('' for none)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="churn + measured passes per size up to --repeat-up-to; the median one counts",
    )
    parser.add_argument("--repeat-up-to", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=200, help="points per rank series (30 days)")
    parser.add_argument("--batch-size", type=int, default=100, help="BATCH_SIZE for the pass")
    parser.add_argument("--parse-responses", type=int, default=10)
    parser.add_argument("--parse-repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json"
    )
    parser.add_argument(
        "--readme",
        default=str(ROOT / "benchmarks" / "README.md"),
        help="README whose results table is replaced (--readme '' to leave it)",
    )
    args = parser.parse_args(argv)
    args.readme = Path(args.readme) if args.readme else None
    return args


def run_size(
    size: int,
    args: argparse.Namespace,
    *,
    pg: database.Postgres,
    fake: BenchKeepa,
    slack: Any,
    aged: bool = False,
    ahead: int | None = None,
) -> dict[str, Any]:
    """Seed, baseline pass (fast Keepa), churn, measured pass (Keepa at its latency).
    `aged`: a year of hourly history first; `ahead`: KEEPA_REQUESTS_AHEAD of this run."""
    name = f"bench_{size}"
    # The overlap rows compare KEEPA_REQUESTS_AHEAD values with one pass each.
    repeats = args.repeats if size <= args.repeat_up_to and ahead is None else 1
    ahead = args.requests_ahead if ahead is None else ahead
    log(f"{size:,} ASINs: fresh database {name}, seeding")
    url = pg.fresh_database(name)
    asins = fake.populate(size, holders=args.holders, seed=args.seed)
    database.seed(url, asins)
    del asins
    prefilled = None
    if aged:
        log(f"{size:,} ASINs: a year of hourly history")
        prefilled = history.prefill_year(url, fake, churn=args.churn, seed=args.seed)
        log(f"  {prefilled}")
    log(f"{size:,} ASINs: baseline pass")
    fake.latency_seconds = args.baseline_latency_ms / 1000
    baseline = run_pass(url, args, pg=pg, fake=fake, slack=slack, ahead=ahead)
    passes = []
    for repeat in range(repeats):
        database.analyze(url)  # as autovacuum would have before the next hourly pass
        churn = fake.churn(args.churn, seed=args.seed + size + repeat)
        log(
            f"{size:,} ASINs: churn pass {repeat + 1} of {repeats} ({churn.gained} gain #1,"
            f" {churn.lost} lose it), ahead {ahead}"
        )
        fake.latency_seconds = args.keepa_latency_ms / 1000
        measured = run_pass(url, args, pg=pg, fake=fake, slack=slack, ahead=ahead)
        measured["plans"] = plans.delivery_plans(url, measured["summary"]["run_id"])
        passes.append(measured)
    pg.drop_database(name)
    # The median pass by time excluding Keepa stands for the size (all its numbers from that
    # one pass); the others are kept in the results file.
    ranked = sorted(passes, key=lambda result: result["derived"]["seconds_excluding_keepa"])
    median = ranked[(len(ranked) - 1) // 2]
    return {
        "asins": size,
        "requests_ahead": ahead,
        "prefilled": prefilled,
        "churn": {"gained": churn.gained, "lost": churn.lost},
        "baseline": baseline,
        "measured": median,
        "repeats": [
            {
                "seconds_excluding_keepa": result["derived"]["seconds_excluding_keepa"],
                "wall_seconds": result["wall_seconds"],
                "cpu_with_postgres_ms_per_asin": result["derived"]["cpu_with_postgres_ms_per_asin"],
                "others_share_of_machine": result["cpu_outside"]["others_share_of_machine"],
            }
            for result in passes
        ],
    }


def run_pass(
    url: str,
    args: argparse.Namespace,
    *,
    pg: database.Postgres,
    fake: BenchKeepa,
    slack: Any,
    ahead: int,
) -> dict[str, Any]:
    fake.reset_counters()
    commits_before = database.reset_statement_stats(url)
    counters_before = database.server_counters(url)
    with tempfile.TemporaryDirectory(prefix="bestseller-bench-") as folder:
        out = Path(folder) / "pass.json"
        env = pass_environment(url, args, fake=fake, slack=slack, home=Path(folder))
        env["KEEPA_REQUESTS_AHEAD"] = str(ahead)
        children_before = _children_cpu()
        cpu_before = cpu.sample(pg.postmaster_pid)
        started = time.perf_counter()
        # cwd is the temporary folder: no .env of the working tree is read.
        subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", str(out)], cwd=folder, env=env, check=True
        )
        process_seconds = time.perf_counter() - started
        cpu_after = cpu.sample(pg.postmaster_pid)
        result = json.loads(out.read_text())
    result["process_seconds"] = round(process_seconds, 3)
    result["cpu_outside"] = cpu.spent(
        cpu_before, cpu_after, pass_process=_children_cpu() - children_before
    )
    result["server_counters"] = database.counters_spent(
        counters_before, database.server_counters(url)
    )
    requests = len(fake.requests)
    result["keepa"] = {
        "requests": requests,
        "product_requests": sum(1 for query in fake.requests if "asin" in query),
        "products_served": fake.products_served,
        "seconds_inside_fake": round(fake.handler_seconds, 3),
        "injected_latency_seconds": round(requests * fake.latency_seconds, 3),
    }
    result["server"] = database.statement_stats(url, commits_before=commits_before)
    run_id = result["summary"]["run_id"]
    result["rows_written"] = database.rows_written(url, run_id)
    result["alerts"] = alert_latency(database.alert_latencies(url, run_id))
    result["derived"] = derive(result)
    log(
        "  {wall:.1f}s wall, {ms:.3f} ms/ASIN without Keepa, {rt} round trips/batch,"
        " {rta} per alert, peak RSS {rss} MiB, alert median {lat} s;"
        " CPU ms/ASIN: pass {cpu}, postgres {pg}; CPU s: fakes {fakes}, others {others}".format(
            wall=result["wall_seconds"],
            ms=result["derived"]["ms_per_asin_excluding_keepa"],
            cpu=result["derived"]["cpu_ms_per_asin"],
            pg=result["derived"]["postgres_cpu_ms_per_asin"],
            fakes=result["cpu_outside"]["fakes"],
            others=result["cpu_outside"]["others"],
            rt=result["derived"]["round_trips_per_batch"],
            rta=result["derived"]["round_trips_per_alert"],
            rss=result["peak_rss_mib"],
            lat=result["alerts"]["detection_to_delivery_seconds_median"],
        )
    )
    return result


def _children_cpu() -> float:
    """User + system CPU of this process's finished children (the pass process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pass_environment(
    url: str, args: argparse.Namespace, *, fake: BenchKeepa, slack: Any, home: Path
) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(CLEARED)}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "BESTSELLER_HOME": str(home),
            "KEEPA_API_URL": fake.url,
            "KEEPA_API_KEY": KEEPA_KEY,
            "BATCH_SIZE": str(args.batch_size),
            "RUN_DEADLINE_MINUTES": "600",
            "LOG_LEVEL": "WARNING",
        }
    )
    if slack:
        env.update(
            {
                "SLACK_API_URL": slack.base_url,
                "SLACK_BOT_TOKEN": SLACK_TEST_TOKEN,
                "SLACK_CHANNEL_ID": SLACK_CHANNEL,
            }
        )
    return env


def alert_latency(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Detection (bestseller_changes.detected_at) to delivery: Slack's receive time, or the
    time the alert was printed when there is no Slack."""
    delays = []
    for alert in alerts:
        delivered = float(alert["slack_ts"]) if alert["slack_ts"] else alert["sent_at"]
        if delivered is not None:
            delays.append(delivered - alert["detected"])
    statuses: dict[str, int] = {}
    for alert in alerts:
        statuses[alert["status"]] = statuses.get(alert["status"], 0) + 1
    return {
        "count": len(alerts),
        "by_status": statuses,
        "detection_to_delivery_seconds_max": round(max(delays), 3) if delays else None,
        "detection_to_delivery_seconds_median": (
            round(statistics.median(delays), 3) if delays else None
        ),
        "detection_to_delivery_seconds_min": round(min(delays), 3) if delays else None,
    }


def derive(result: dict[str, Any]) -> dict[str, Any]:
    checked = max(result["summary"]["checked"], 1)
    batches = max(result["batches"], 1)
    phases = result["phase_seconds"]
    # Keepa's answers arrive while the pass works (KEEPA_REQUESTS_AHEAD): what the pass
    # waited for them is Keepa's share, the rest is ours (the client's parsing included,
    # when it is not overlapped).
    ours = result["wall_seconds"] - phases.get("keepa_wait", 0.0)
    batch, delivery = phases.get("batch", 0.0), phases.get("delivery", 0.0)
    other = ours - batch - delivery
    cpu = result["phase_cpu_seconds"]
    cpu_parts = [cpu.get(name, 0.0) for name in ("batch", "delivery")]
    cpu_parts.append(result["cpu_seconds"] - sum(cpu_parts))
    alerts = max(result["rows_written"]["notification_log"], 1)
    return {
        "seconds_excluding_keepa": round(ours, 3),
        "cpu_breakdown_ms_per_asin": dict(
            zip(
                ("batches", "delivery", "other"),
                (round(value / checked * 1000, 4) for value in cpu_parts),
                strict=True,
            )
        ),
        # ms per ASIN: process_batch (diff + 2 queries) / alert delivery (per batch and at
        # the end) / the rest (Keepa client in this thread, setup, work list, records, finish).
        "breakdown_ms_per_asin": {
            name: round(value / checked * 1000, 4)
            for name, value in (("batches", batch), ("delivery", delivery), ("other", other))
        },
        "ms_per_asin_excluding_keepa": round(ours / checked * 1000, 4),
        "cpu_ms_per_asin": round(result["cpu_seconds"] / checked * 1000, 4),
        # The same work whatever the database holds: how fast the machine ran this pass.
        "keepa_decode_cpu_ms_per_asin": round(cpu.get("keepa_fetch", 0.0) / checked * 1000, 4),
        "main_thread_cpu_ms_per_asin": round(result["main_thread_cpu_seconds"] / checked * 1000, 4),
        "postgres_cpu_ms_per_asin": round(result["cpu_outside"]["postgres"] / checked * 1000, 4),
        # Ours on both sides of the connection: the pass process and the database server.
        "cpu_with_postgres_ms_per_asin": round(
            (result["cpu_seconds"] + result["cpu_outside"]["postgres"]) / checked * 1000, 4
        ),
        "round_trips_per_batch": round(result["round_trips"].get("batch", 0) / batches, 2),
        "round_trips_per_alert": round(result["round_trips"].get("delivery", 0) / alerts, 2),
        "round_trips_total": sum(result["round_trips"].values()),
        # The pass's own statements (pg_stat_statements): autovacuum's pages are not in it.
        "pages_touched": sum(item.get("pages", 0) for item in result["server"]["statements"]),
        "tokens_per_asin_fake": round(result["keepa"]["products_served"] / checked, 4),
        "tokens_per_asin_usage_log": round(
            result["rows_written"]["api_usage_tokens_consumed"] / checked, 4
        ),
        "rss_growth_during_pass_mib": round(
            result["peak_rss_mib"] - result["rss_before_pass_mib"], 1
        ),
    }


def start_fake_slack() -> Any:
    """fakes/slack_server.py's FakeSlack if it can be imported; else alerts are printed."""
    try:
        from fakes.slack_server import FakeSlack
    except Exception as exc:  # being written by another engineer
        log(f"fake Slack unavailable ({exc}): alerts will be printed, not posted")
        return None
    return FakeSlack().start()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
