"""The database failing under a pass, through the CLI in a child process: the run ends within
its deadline plus a margin, with one clear line and the right exit code, and once the fault
clears the next run delivers every alert exactly once.

The job reaches its database through the fault proxy (fakes/fault_proxy.py): the embedded
PostgreSQL, and the Supabase-shaped stack where it can start (tests/conftest.py).
"""

import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bestseller_cli.config import Settings
from bestseller_cli.store import asin_store, db, lock_holders
from fakes import SLACK_TEST_TOKEN
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from fakes.supabase_stack import SupabaseStack
from tests.faulty_database import FaultyDatabase

CHANNEL = "C0FAULTS"
OPS_CHANNEL = "C0OPERATE"
CATEGORY = 289913
ASINS = [f"B0FAULT{n:03d}" for n in range(4)]
# Generous: these bound a run that would otherwise hang for good; they time nothing.
MARGIN_SECONDS = 60
DEFAULT_DEADLINE_SECONDS = Settings.model_fields["run_deadline_minutes"].default * 60
BATCH_WRITE = b"INSERT INTO asin_checks"
# The writes of a delivery, each one statement on the pass's autocommit connection: done
# once the server has it, whether or not its reply comes back.
CLAIM = b"SET status = 'sending'"
MARK_SENT = b"SET status = 'sent'"
# A slow link: held this long each way, per chunk relayed (a round trip of 0.2 s, as to a
# database in another region).
LATENCY_SECONDS = 0.1


def run_check(
    database: FaultyDatabase, keepa: FakeKeepa, slack: FakeSlack, **settings: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`bestseller check --all` (every ASIN, due or not, as each test's passes follow one
    another in seconds) in a child process; (its result, how long it took)."""
    return bestseller(database, keepa, slack, "check", "--all", **settings)


def bestseller(
    database: FaultyDatabase, keepa: FakeKeepa, slack: FakeSlack, *command: str, **settings: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`bestseller COMMAND…` in a child process; (its result, how long it took)."""
    environment = {
        **os.environ,
        "DATABASE_URL": database.url,
        "BESTSELLER_HOME": os.devnull,
        "KEEPA_API_KEY": "test-keepa-key",
        "KEEPA_API_URL": keepa.url,
        "SLACK_API_URL": slack.base_url,
        "SLACK_BOT_TOKEN": SLACK_TEST_TOKEN,
        "SLACK_CHANNEL_ID": CHANNEL,
        "SLACK_OPS_CHANNEL_ID": OPS_CHANNEL,
        "BATCH_SIZE": "2",
        "MAX_RETRIES": "0",
        "RETRY_DELAY_SECONDS": "0",
        "LOG_FORMAT": "text",
        **settings,
    }
    deadline = float(settings.get("RUN_DEADLINE_MINUTES", "14")) * 60
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bestseller_cli", *command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=deadline + MARGIN_SECONDS,
    )
    return result, time.monotonic() - started


def the_line(result: subprocess.CompletedProcess[str]) -> str:
    """What the run said went wrong: one line, and nothing else on stderr."""
    [line] = result.stderr.strip().splitlines()
    assert "Traceback" not in line and "unexpected error" not in line, result.stderr
    return line


@pytest.fixture
def slack() -> FakeSlack:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def watched(database: FaultyDatabase, keepa_server: FakeKeepa, slack: FakeSlack) -> FakeKeepa:
    """Four ASINs with a first pass behind them; now each holds #1: four alerts to send."""
    asin_store.add_tracked(database.admin, asins=ASINS, marketplace="com", client=None)
    for asin in ASINS:
        keepa_server.set_ranks(asin, {CATEGORY: 2})
    first, _ = run_check(database, keepa_server, slack)
    assert first.returncode == 0, first.stderr
    for asin in ASINS:
        keepa_server.set_ranks(asin, {CATEGORY: 1})
    return keepa_server


def the_next_run_delivers_every_alert_once(
    database: FaultyDatabase, keepa: FakeKeepa, slack: FakeSlack
) -> None:
    """Once the fault has cleared: a clean run, and every alert posted exactly once."""
    again, _ = run_check(database, keepa, slack)
    assert again.returncode == 0, again.stderr
    assert_every_alert_delivered_exactly_once(database, slack)


def the_next_run_resumes_and_delivers_every_alert_once(
    database: FaultyDatabase, keepa: FakeKeepa, slack: FakeSlack, *, fetches: int
) -> None:
    """Once the dead pass's session is gone: the next run fetches only the `fetches` ASINs
    whose batch was not written (no Keepa token spent twice) and delivers every alert once."""
    database.wait_until_the_run_lock_is_free()
    served = keepa.products_served
    the_next_run_delivers_every_alert_once(database, keepa, slack)
    assert keepa.products_served == served + fetches


def assert_every_alert_delivered_exactly_once(database: FaultyDatabase, slack: FakeSlack) -> None:
    outbox = database.admin.execute(
        "SELECT id, status FROM notification_log WHERE change_id IS NOT NULL ORDER BY id"
    ).fetchall()
    assert len(outbox) == len(ASINS), outbox
    assert {status for _, status in outbox} == {"sent"}
    posts = Counter(i for message in slack.messages(CHANNEL) for i in message.outbox_ids)
    assert posts == Counter({row_id: 1 for row_id, _ in outbox})


# The watchdog itself is tested on the embedded database too (tests/store/test_watchdog.py);
# a whole pass waiting out its deadline is run on the Supabase-shaped stack.
@pytest.mark.parametrize("database", ["supabase"], indirect=True)
@pytest.mark.parametrize(
    ("write", "nth", "posted"),
    [(BATCH_WRITE, 2, 2), (CLAIM, 1, 0), (MARK_SENT, 1, 2)],
    ids=["second-batch-write", "claim", "mark-sent"],
)
def test_a_database_that_stops_answering_mid_pass_ends_the_run_at_its_deadline(
    database: FaultyDatabase,
    watched: FakeKeepa,
    slack: FakeSlack,
    write: bytes,
    nth: int,
    posted: int,
) -> None:
    # The first batch is written; then the link goes silent as the second batch is written
    # (the first batch's alerts went out), or during the first batch's delivery: as its
    # alerts are claimed (nothing posted yet) or marked sent (posted). That write never
    # arrives, and nothing more comes back.
    database.statements.partition_at(write, nth=nth, along=[database.link])
    failed, took = run_check(database, watched, slack, RUN_DEADLINE_MINUTES="1.1")
    assert failed.returncode == 1, failed.stderr
    assert the_line(failed) == (
        "error: database error: no answer from the database by the run deadline"
        " (RUN_DEADLINE_MINUTES=1.1): what was in flight was cancelled; the pass stopped;"
        " the next `bestseller check` resumes it"
    )
    assert took < 66 + MARGIN_SECONDS
    assert len(slack.messages(CHANNEL)) == posted

    database.link.heal()
    database.statements.heal()
    # The first batch is not fetched again.
    the_next_run_resumes_and_delivers_every_alert_once(database, watched, slack, fetches=2)


def test_a_statement_past_its_timeout_is_named_and_the_next_run_delivers(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack
) -> None:
    database.admin.execute(
        "CREATE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$"
    )
    database.admin.execute(
        "CREATE TRIGGER slow_write BEFORE INSERT ON asin_checks"
        " FOR EACH ROW EXECUTE FUNCTION slow_write()"
    )
    failed, took = run_check(database, watched, slack, DATABASE_STATEMENT_TIMEOUT_SECONDS="1")
    assert failed.returncode == 1, failed.stderr
    assert the_line(failed) == (
        "error: database error: a statement ran longer than DATABASE_STATEMENT_TIMEOUT_SECONDS"
        " and was cancelled (SQLSTATE 57014); the pass stopped; the next `bestseller check`"
        " resumes it. Fix: the database is overloaded or a table is locked; the next run tries"
        " again; raise DATABASE_STATEMENT_TIMEOUT_SECONDS if it keeps happening"
    )
    assert took < MARGIN_SECONDS
    assert slack.messages(CHANNEL) == []

    database.admin.execute("DROP TRIGGER slow_write ON asin_checks")
    the_next_run_delivers_every_alert_once(database, watched, slack)


def test_a_batch_write_whose_reply_is_lost_is_neither_lost_nor_doubled(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack
) -> None:
    # The second batch's write is carried out; its reply is dropped and the link reset.
    database.statements.cut_reply_to(BATCH_WRITE, nth=2)
    failed, took = run_check(database, watched, slack)
    assert failed.returncode == 1, failed.stderr
    assert the_line(failed).startswith("error: database error: the connection was lost (")
    assert the_line(failed).endswith("; the pass stopped; the next `bestseller check` resumes it")
    assert took < MARGIN_SECONDS

    # The write took: no ASIN is fetched again.
    the_next_run_resumes_and_delivers_every_alert_once(database, watched, slack, fetches=0)
    checks = database.admin.execute(
        "SELECT count(*) FROM (SELECT 1 FROM history_checks GROUP BY asin, run_id"
        " HAVING count(*) > 1) twice"
    ).fetchone()
    assert checks == (0,)


@pytest.mark.parametrize("write", [CLAIM, MARK_SENT], ids=["claim", "mark-sent"])
def test_a_delivery_write_whose_reply_is_lost_neither_loses_nor_doubles_an_alert(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack, write: bytes
) -> None:
    # The first batch's claim (nothing posted yet) or its mark-sent (posted): carried out,
    # its reply dropped and the link reset.
    database.statements.cut_reply_to(write, nth=1)
    failed, took = run_check(database, watched, slack)
    assert failed.returncode == 1, failed.stderr
    assert the_line(failed).startswith("error: database error: the connection was lost (")
    assert took < MARGIN_SECONDS
    assert len(slack.messages(CHANNEL)) == (2 if write == MARK_SENT else 0)

    # Only the second batch is fetched.
    the_next_run_resumes_and_delivers_every_alert_once(database, watched, slack, fetches=2)
    tokens = database.admin.execute(
        "SELECT count(DISTINCT claim_token) FROM notification_log WHERE change_id IS NOT NULL"
    ).fetchone()
    assert tokens == (2 if write == MARK_SENT else 1,)  # each claim its own run's token


def test_a_read_only_database_still_reads_is_named_told_once_and_pruned_back(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack
) -> None:
    database.make_read_only()
    for command in (["asins", "list"], ["report", "--since", "7d"], ["alerts", "list"]):
        read, _ = bestseller(database, watched, slack, *command)
        assert read.returncode == 0, (command, read.stderr)
    for _ in range(2):
        failed, took = run_check(database, watched, slack)
        assert failed.returncode == 1, failed.stderr
        assert the_line(failed) == (
            "error: database error: the database is read-only (SQLSTATE 25006; Supabase's free"
            " plan turns read-only past 500 MB); the pass stopped; the next `bestseller check`"
            " resumes it. Fix: free space with `bestseller prune` (it may write to a read-only"
            " database, as Supabase documents) or raise the plan, then run `bestseller doctor`"
        )
        assert took < MARGIN_SECONDS
    [notice] = slack.messages(OPS_CHANNEL)  # told once, though two runs failed
    assert notice.text.startswith("🚨 The database refuses writes: the database is read-only")
    assert slack.messages(CHANNEL) == []

    doctor, _ = bestseller(database, watched, slack, "doctor", LOG_FORMAT="json")
    assert doctor.returncode == 1
    assert '"part": "writable", "status": "fail"' in doctor.stdout
    pruned, _ = bestseller(database, watched, slack, "prune", "--days", "1")
    assert pruned.returncode == 0, pruned.stderr
    assert "this session wrote anyway, as Supabase documents" in pruned.stderr

    database.make_writable()
    the_next_run_delivers_every_alert_once(database, watched, slack)


def test_a_zombie_session_holding_the_run_lock_is_ended_and_the_run_goes_on(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack
) -> None:
    started = datetime.now(UTC) - timedelta(hours=3)
    name = lock_holders.session_name(since=started, run_id=999)
    with database.another_link() as (zombie_link, url):
        zombie = psycopg.connect(url, autocommit=True, application_name=name)
        zombie.execute("SELECT pg_advisory_lock(%s)", (db.RUN_LOCK_ID,))
        # Its host is gone without a word; the pooler keeps its server session, and the lock.
        zombie_link.partition()
        row = database.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
        assert row is not None, "the zombie's session is not named in pg_stat_activity"
        ran, took = run_check(database, watched, slack)
    assert ran.returncode == 0, ran.stderr
    said, condition_line = ran.stderr.strip().splitlines()
    assert said.startswith(f"warning: ended session pid {row[0]} (bestseller check run 999 since")
    assert condition_line.startswith("error: condition open: A pass that vanished or hung")
    assert took < MARGIN_SECONDS
    assert_every_alert_delivered_exactly_once(database, slack)
    [condition] = slack.messages(OPS_CHANNEL)
    assert condition.text.startswith("🚨 A pass that vanished or hung held the run lock: session")


def what_is_stored(database: FaultyDatabase) -> dict[str, int]:
    """Rows per table a pass writes to: a refused run changes none of them."""
    tables = ["check_runs", "asin_checks", "bestseller_changes", "notification_log"]
    tables += ["error_log", "api_usage_log", "ops_conditions"]
    return {
        table: database.admin.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in tables
    }


@pytest.mark.parametrize("database", ["supabase"], indirect=True)
def test_a_transaction_pooler_on_any_port_is_refused_and_nothing_changes(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack, supabase_stack: SupabaseStack
) -> None:
    # PgBouncer in transaction mode, on a port that is not Supabase's 6543: the URL cannot
    # tell, the server sessions do.
    pooled = supabase_stack.pooler_url(
        database.admin.info.dbname, port=supabase_stack.transaction_pooler_port
    )
    stored, served = what_is_stored(database), watched.products_served
    refused, took = run_check(database, watched, slack, DATABASE_URL=pooled)
    assert refused.returncode == 2, refused.stderr
    assert the_line(refused) == (
        "error: DATABASE_URL points at a transaction pooler (two connections of this run were"
        " served by one server session), where the run lock cannot hold and two passes could"
        " send the same alerts: use the session pooler (Supabase: the same host on port 5432)"
        " or the direct connection"
    )
    assert took < MARGIN_SECONDS
    assert what_is_stored(database) == stored
    assert watched.products_served == served and slack.messages(CHANNEL) == []
    assert not database.run_lock_held()
    doctor, _ = bestseller(
        database, watched, slack, "doctor", DATABASE_URL=pooled, LOG_FORMAT="json"
    )
    assert doctor.returncode == 1
    assert '"part": "run lock", "status": "fail"' in doctor.stdout
    assert "DATABASE_URL uses a transaction pooler (two connections" in doctor.stdout

    the_next_run_delivers_every_alert_once(database, watched, slack)


@pytest.mark.parametrize("database", ["supabase"], indirect=True)
def test_pgbouncer_restarted_mid_pass_ends_the_run_and_the_next_delivers_every_alert_once(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack, supabase_stack: SupabaseStack
) -> None:
    # The first batch is written and alerted; the second batch's write is on its way (held
    # before PostgreSQL) when PgBouncer restarts, dropping every connection through it.
    database.statements.partition_at(BATCH_WRITE, nth=2)
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_check, database, watched, slack)
        give_up = time.monotonic() + MARGIN_SECONDS
        while not (database.statements.partitioned or running.done()):
            assert time.monotonic() < give_up, "the second batch's write never came"
            time.sleep(0.05)
        supabase_stack.restart_pooler()
        database.statements.heal()
        failed, took = running.result()
    assert failed.returncode == 1, failed.stderr
    assert the_line(failed).startswith("error: database error: the connection was lost (")
    assert the_line(failed).endswith("; the pass stopped; the next `bestseller check` resumes it")
    assert took < DEFAULT_DEADLINE_SECONDS + MARGIN_SECONDS
    assert len(slack.messages(CHANNEL)) == 2

    # The first batch is not fetched again.
    the_next_run_resumes_and_delivers_every_alert_once(database, watched, slack, fetches=2)


def test_a_slow_link_slows_the_pass_but_it_completes_and_delivers_every_alert_once(
    database: FaultyDatabase, watched: FakeKeepa, slack: FakeSlack
) -> None:
    # Every chunk either way is held before it is relayed: each statement waits twice.
    database.link.latency(LATENCY_SECONDS)
    slow, took = run_check(database, watched, slack)
    assert slow.returncode == 0, slow.stderr
    assert "error" not in slow.stderr
    assert took < DEFAULT_DEADLINE_SECONDS + MARGIN_SECONDS
    assert_every_alert_delivered_exactly_once(database, slack)

    database.link.heal()
    the_next_run_delivers_every_alert_once(database, watched, slack)
