"""SIGTERM, as Railway stops a job: the batch in hand is finished, the summary printed, the
exit code non-zero, the embedded PostgreSQL stopped, and the next run resumes the rest."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from fakes.keepa_server import FakeKeepa

GADGETS = 289913
ASINS = [f"B0SIGTERM{n}" for n in range(6)]


def test_sigterm_finishes_the_batch_prints_the_summary_exits_1_and_stops_the_embedded_server(
    env: dict[str, str], tmp_path: Path, keepa_server: FakeKeepa
) -> None:
    home = tmp_path / "embedded"
    child_env = {
        **{name: value for name, value in os.environ.items() if name != "DATABASE_URL"},
        "BESTSELLER_HOME": str(home),
        "KEEPA_API_URL": keepa_server.url,
        "BATCH_SIZE": "1",
    }
    bestseller = [sys.executable, "-m", "bestseller_cli"]
    added = subprocess.run([*bestseller, "asins", "add", *ASINS], env=child_env)
    assert added.returncode == 0
    for asin in ASINS:
        keepa_server.set_ranks(asin, {GADGETS: 2})
    keepa_server.hold_products_after = 1  # the second batch waits for us

    check = subprocess.Popen(
        [*bestseller, "check"],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert keepa_server.holding.wait(timeout=120), "the pass never reached its 2nd batch"
        check.send_signal(signal.SIGTERM)
        keepa_server.resume.set()  # the batch in flight is answered, then the pass stops
        stdout, stderr = check.communicate(timeout=120)
    finally:
        check.kill()
    assert check.returncode == 1, stdout + stderr
    assert "2 of 6" in stdout  # the summary: the batch in hand was finished
    assert "stopped by SIGTERM" in stderr
    assert not (home / "pgdata" / "postmaster.pid").exists()  # the embedded server stopped

    resumed = subprocess.run([*bestseller, "check", "--json"], env=child_env, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr
    assert keepa_server.products_served == len(ASINS)  # each ASIN fetched once in all
