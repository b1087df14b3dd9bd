"""One pass in a process of its own, so its peak RSS is the pass's alone:
`python -m benchmarks.worker OUT.json` (benchmarks.run starts it; settings come from the
environment it sets). Writes the CheckSummary, round trips, phase times, CPU time and RSS.
"""

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import psutil

from benchmarks.counting import PassMeter, install, memory_mib
from bestseller_cli.check.context import PassOptions
from bestseller_cli.check.run import run_check
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.config import load_settings

MIB = 1024 * 1024


def summary_record(summary: CheckSummary) -> dict[str, object]:
    """The pass's log record (lists as counts), with its warnings in full."""
    return summary.log_record() | {"warnings": summary.warnings}


def peak_rss_mib() -> float:
    """VmHWM: this process image's high-water RSS. ru_maxrss is not used for the verdict:
    on Linux it carries over the parent's high-water mark through fork + exec, so a worker
    started by a large parent would report the parent's peak."""
    return memory_mib("VmHWM")


class GcLog:
    """Objects the cyclic garbage collector freed, per generation: memory that only a
    collection gives back, a source of RSS peaks reference counting alone would not have."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.collected = [0, 0, 0]
        self.largest_full = 0
        gc.callbacks.append(self.record)

    def record(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            generation = info["generation"]
            self.runs[generation] += 1
            self.collected[generation] += info["collected"]
            if generation == 2:
                self.largest_full = max(self.largest_full, info["collected"])

    def as_dict(self) -> dict[str, object]:
        return {
            "runs_by_generation": self.runs,
            "collected_by_generation": self.collected,
            "largest_full_collection": self.largest_full,
        }


def scheduler_seconds() -> tuple[float, float]:
    """This thread's time on a CPU and waiting in the run queue for one (runnable, but the
    cores busy with other processes), from /proc/thread-self/schedstat (nanoseconds)."""
    try:
        running, waiting, _ = Path("/proc/thread-self/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(running) / 1e9, int(waiting) / 1e9


def main() -> None:
    out = Path(sys.argv[1])
    meter = PassMeter()
    install(meter)
    settings = load_settings()
    rss_before = psutil.Process().memory_info().rss
    before = resource.getrusage(resource.RUSAGE_SELF)
    collections = GcLog()
    started, main_cpu = time.perf_counter(), time.thread_time()
    _, queued_before = scheduler_seconds()
    summary = run_check(settings, options=PassOptions(everything=True), show=lambda message: None)
    wall = time.perf_counter() - started
    main_cpu = time.thread_time() - main_cpu
    _, queued = scheduler_seconds()
    after = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "summary": summary_record(summary),
        "wall_seconds": round(wall, 4),
        "cpu_seconds": round(
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 4
        ),
        # The pass's own thread; cpu_seconds adds the threads decoding Keepa's answers ahead.
        "main_thread_cpu_seconds": round(main_cpu, 4),
        # Runnable but not running: the cores were busy (other processes, our own threads).
        "main_thread_run_queue_seconds": round(queued - queued_before, 4),
        "rss_before_pass_mib": round(rss_before / MIB, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        # Linux reports ru_maxrss in KiB; see peak_rss_mib for why it is only kept for reference.
        "ru_maxrss_mib": round(after.ru_maxrss / 1024, 1),
        "gc": collections.as_dict(),
        **meter.as_dict(),
    }
    out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
