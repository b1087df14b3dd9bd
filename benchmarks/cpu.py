"""CPU time around a pass, outside the pass process: PostgreSQL's (every server process, the
pass's backend included), the benchmark process's own (the fake Keepa and fake Slack), and
the whole machine's (2 shared cores: what the other users of the machine took is the rest).

PostgreSQL's total is exact without knowing which backend served the pass: the postmaster's
own time, plus its reaped children's (a backend that exited, e.g. the pass's connection), plus
the live children's. Long-lived background processes (checkpointer, WAL writer, background
writer, ...) are also kept by name, so the rest is "backends" (autovacuum workers included).
"""

import resource
import time
from dataclasses import dataclass
from typing import Any

import psutil

BACKGROUND = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "logical replication launcher",
    "io worker",
)


@dataclass(frozen=True)
class CpuSample:
    postgres_total: float
    postgres_background: dict[str, float]  # by process, "checkpointer 123"
    harness: float  # this process: the fakes' threads
    machine_busy: float  # every core, user + system + irq, seconds
    machine_iowait: float
    at: float  # time.monotonic()


SETTLE_SECONDS = 0.5


def sample(postmaster_pid: int) -> CpuSample:
    """Taken once the backends of connections just closed have exited (SETTLE_SECONDS): a
    backend reaped between reading the postmaster and listing its children would be counted
    in neither sample, and its whole time would land in the next difference."""
    time.sleep(SETTLE_SECONDS)
    postmaster = psutil.Process(postmaster_pid)
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    background: dict[str, float] = {}
    for child in postmaster.children():
        try:
            child_times = child.cpu_times()
        except psutil.Error:  # reaped meanwhile: its time is in children_* next sample
            continue
        spent = child_times.user + child_times.system
        total += spent
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:  # a backend exiting (zombie) has no command line left
            continue
        name = next((kind for kind in BACKGROUND if kind in title), None)
        if name:
            background[f"{name} {child.pid}"] = spent
    own = resource.getrusage(resource.RUSAGE_SELF)
    machine = psutil.cpu_times()
    busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
    return CpuSample(
        postgres_total=total,
        postgres_background=background,
        harness=own.ru_utime + own.ru_stime,
        machine_busy=busy + getattr(machine, "steal", 0.0),
        machine_iowait=getattr(machine, "iowait", 0.0),
        at=time.monotonic(),
    )


def spent(before: CpuSample, after: CpuSample, *, pass_process: float) -> dict[str, Any]:
    """CPU seconds between two samples; `pass_process` is the pass process's whole CPU time
    (getrusage of the finished child), so the machine's remainder is other users'."""
    background = sum(
        after.postgres_background[name] - before.postgres_background.get(name, 0.0)
        for name in after.postgres_background
    )
    postgres = after.postgres_total - before.postgres_total
    harness = after.harness - before.harness
    machine = after.machine_busy - before.machine_busy
    seconds = after.at - before.at
    return {
        "seconds": round(seconds, 3),  # the pass process's life, and the settling after it
        "postgres": round(postgres, 3),
        "postgres_backends": round(postgres - background, 3),
        "postgres_background": round(background, 3),
        "pass_process": round(pass_process, 3),
        "fakes": round(harness, 3),
        "machine_busy": round(machine, 3),
        "others": round(machine - postgres - harness - pass_process, 3),
        "others_share_of_machine": round(
            (machine - postgres - harness - pass_process) / (seconds * psutil.cpu_count()), 3
        ),
        "machine_iowait": round(after.machine_iowait - before.machine_iowait, 3),
    }
