"""Compact history: the old rows convert with nothing lost, retention keeps what reports need,
and neither `prune` nor a pass waits for the other."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.maintenance.retention import prune
from bestseller_cli.models import CategoryRank, Change, ProductSnapshot, StoredState
from bestseller_cli.report.build import build_report
from bestseller_cli.rules.badges import RankStep
from bestseller_cli.rules.batch_diff import BatchOutcome, ObservedProduct
from bestseller_cli.rules.story import story_lines
from bestseller_cli.store import (
    asin_store,
    check_store,
    history_store,
    outbox_store,
    run_store,
    schema,
    story_queries,
)
from fakes.keepa_server import FakeKeepa
from tests.conftest import FULL_PASS

A, B, C = "B0AAAAAAAA", "B0BBBBBBBB", "B0CCCCCCCC"
KITCHEN, GADGETS, HEADPHONES = 1055398, 289913, 3015427011
NAMES = {KITCHEN: "Home & Kitchen", GADGETS: "Gadgets", HEADPHONES: "Headphone Accessories"}
START = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
CHECKS = 48


def at(check: int) -> datetime:
    return START + timedelta(hours=check)


def gadgets_rank(check: int) -> int:
    """A climbs to #1 (check 4), loses it (20), wins it back (30), loses it again (40)."""
    if check < 20:
        return max(1, 5 - check)
    return 2 if check < 30 else 1 if check < 40 else 3


# --- a database filled by the schema before compact history ---------------------------------


@pytest.fixture
def old_database(postgres_server_url: str) -> Iterator[str]:
    """A database migrated up to 0004 only: the schema that wrote a row per ASIN per pass."""
    name = f"bestseller_old_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(postgres_server_url, dbname=name)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at"
                     " timestamptz NOT NULL DEFAULT now())")  # fmt: skip
        for version, sql in schema.migration_files():
            if version < "0005":
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def old_row(asin: str, check: int, *, ranks: dict[int, int], available: bool = True) -> tuple:
    """One asin_history row as the old pass wrote it: names in the jsonb, every pass."""
    main = next(iter(ranks))
    category_ranks = {str(c): {"name": NAMES[c], "rank": r} for c, r in ranks.items()}
    badges = sorted(c for c, r in ranks.items() if r == 1) if available else []
    price = 1999 if check < 24 else 1899
    return (asin, at(check), available, f"Product {asin}", main if available else None,
            ranks[main] if available else None, Jsonb(category_ranks), badges,
            price if available else None)  # fmt: skip


def fill_old_schema(conn: psycopg.Connection) -> None:
    """48 hourly passes: A wins and loses Gadgets twice and once had no data; B never holds a
    badge; C held Headphones from the first pass and loses it at check 12."""
    rows = []
    for check in range(CHECKS):
        rows.append(old_row(A, check, ranks={KITCHEN: 100 + check, GADGETS: gadgets_rank(check)},
                            available=check != 10))  # fmt: skip
        rows.append(old_row(B, check, ranks={KITCHEN: 500 + check, HEADPHONES: 7}))
        rows.append(old_row(C, check, ranks={KITCHEN: 900, HEADPHONES: 1 if check < 12 else 2}))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO asin_history (asin, marketplace, observed_at, available, title,"
            " main_category_id, main_rank, category_ranks, badge_category_ids, price_cents,"
            " rating, review_count) VALUES (%s, 'com', %s, %s, %s, %s, %s, %s, %s, %s, 4.5, 80)",
            rows,
        )
        changes = [(A, GADGETS, "gained", 4), (A, GADGETS, "lost", 20), (A, GADGETS, "gained", 30),
                   (A, GADGETS, "lost", 40), (C, HEADPHONES, "lost", 12)]  # fmt: skip
        cur.executemany(
            "INSERT INTO bestseller_changes (asin, marketplace, category_id, category_name, kind,"
            " detected_at) VALUES (%s, 'com', %s, 'x', %s, %s)",
            [(asin, category, kind, at(check)) for asin, category, kind, check in changes],
        )
        cur.executemany(
            "INSERT INTO tracked_asins (asin, marketplace) VALUES (%s, 'com')", [(A,), (B,), (C,)]
        )
        cur.executemany(
            "INSERT INTO asin_current_state (asin, marketplace, available, title,"
            " main_category_id, main_rank, first_seen_at, baseline_at, last_checked_at)"
            " VALUES (%s, 'com', true, %s, %s, 1, %s, %s, %s)",
            [
                (asin, f"Product {asin}", KITCHEN, at(0), at(0), at(CHECKS - 1))
                for asin in (A, B, C)
            ],
        )


def stories(conn: psycopg.Connection) -> list[list[str]]:
    """The story lines an alert for each change would carry, from the history."""
    rows = conn.execute(
        "SELECT asin, category_id, kind, detected_at FROM bestseller_changes ORDER BY id"
    ).fetchall()
    lines = []
    for asin, category, kind, when in rows:
        change = Change(asin=asin, marketplace="com", category_id=category,
                        category_name=None, kind=kind, rank_before=None, rank_after=None,
                        main_rank=None, title=None, detected_at=when)  # fmt: skip
        item = outbox_store.OutboxItem(id=0, channel=None, client_id=None, change=change)
        lines.append(story_lines(change, story_queries.alert_story(conn, item)))
    return lines


def reports(conn: psycopg.Connection, *periods: tuple[datetime, datetime]) -> list[dict]:
    return [
        build_report(conn, since=since, until=until, client=None, token_cost_usd=0.0).model_dump()
        for since, until in periods
    ]


def test_old_history_converts_with_trajectory_streaks_and_report_unchanged(
    old_database: str,
) -> None:
    with psycopg.connect(old_database, autocommit=True) as conn:
        fill_old_schema(conn)
        schema.migrate(conn)  # 0005 adds the compact tables; the old rows are read as they are
        periods = [
            (at(0), at(CHECKS)),
            (at(10), at(CHECKS)),
            (at(5) + timedelta(minutes=1), at(33)),
        ]
        before_stories, before_reports = stories(conn), reports(conn, *periods)
        summary = prune(conn, retention_days=3650, now=at(CHECKS), batch_size=100)
        assert summary.converted_rows == 3 * CHECKS
        assert conn.execute("SELECT count(*) FROM asin_history").fetchone() == (0,)
        assert stories(conn) == before_stories
        assert reports(conn, *periods) == before_reports
        names = dict(conn.execute("SELECT category_id, name FROM category_names").fetchall())
        prices = conn.execute(
            "SELECT observed_at, price_cents FROM asin_details WHERE asin = %s AND available"
            " ORDER BY observed_at", (A,)
        ).fetchall()  # fmt: skip

    assert names == NAMES
    assert prices == [(at(0), 1999), (at(11), 1999), (at(24), 1899)]  # back after no data
    # What the old history says, independently of both readings.
    assert before_stories[0] == [
        "Rank, last 24 h: #5 → #4 → #3 → #2 → #1",
        "First time at #1 here since we started watching",
    ]
    assert before_stories[2] == [
        "Rank, last 24 h: #1 → #2 → #1",
        f"Last held #1 until {at(20):%Y-%m-%d %H:%M} UTC",
    ]
    unknown = "Now #1: not known yet (no tracked product holds it)"
    assert before_stories[3] == [
        unknown,
        "Rank, last 24 h: #1 → #2 → #1 → #3",
        "Held #1 for 10 h 0 min",
    ]
    assert before_stories[4] == [
        unknown,
        "Rank, last 24 h: #1 → #2",
        "Held #1 for at least 12 h 0 min",
    ]
    a_all = before_reports[0]["asins"][0]
    assert (a_all["checks"], a_all["unavailable_checks"], a_all["badge_checks"]) == (47, 1, 25)
    assert a_all["longest_streak"]["checks"] == 15  # 4..19; no data at 10 does not break it


# --- retention ---------------------------------------------------------------------------


def passes(keepa: FakeKeepa, conn: psycopg.Connection, *, days: int, every_hours: int) -> None:
    """Real passes at past times: A holds Gadgets on some days, B never does."""
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client=None)
    first = datetime.combine(datetime.now(UTC).date() - timedelta(days=days), time(1), UTC)
    for index in range(days * 24 // every_hours):
        when = first + timedelta(hours=index * every_hours)
        holding = index % 7 in (2, 3, 4)
        keepa.set_ranks(A, {KITCHEN: 300 + index, GADGETS: 1 if holding else 2 + index % 3})
        keepa.set_ranks(B, {KITCHEN: 700 - index, HEADPHONES: 9})
        run_check(load_settings(), options=FULL_PASS, clock=lambda when=when: when)


def test_prune_keeps_reports_of_the_window_and_across_its_boundary_identical(
    keepa: FakeKeepa, conn
) -> None:
    passes(keepa, conn, days=6, every_hours=5)
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date(), time(), UTC)
    periods = [
        (now - timedelta(days=3), now),  # the retention window
        (midnight - timedelta(days=5), now),  # across its boundary, from a UTC midnight
        (midnight - timedelta(days=6), midnight - timedelta(days=4)),  # pruned days only
    ]
    before = reports(conn, *periods)
    summary = prune(conn, retention_days=3, now=now, batch_size=100)
    assert summary.days_summarized >= 3 and summary.rank_points_deleted > 0
    assert reports(conn, *periods) == before
    kept = conn.execute(
        "SELECT count(*), min(observed_at) >= %s FROM asin_checks", (summary.cutoff,)
    ).fetchone()
    assert kept is not None and kept[0] > 0 and kept[1]
    assert before[1]["asins"][0]["badge_checks"] > 0  # the boundary period has streaks to keep


def test_a_second_prune_finds_nothing_more_to_do(keepa: FakeKeepa, conn) -> None:
    passes(keepa, conn, days=3, every_hours=8)
    now = datetime.now(UTC)
    prune(conn, retention_days=1, now=now)
    again = prune(conn, retention_days=1, now=now)
    assert (again.converted_rows, again.days_summarized, again.rank_points_deleted) == (0, 0, 0)


def test_prune_and_a_pass_run_side_by_side_without_waiting(
    keepa: FakeKeepa, conn, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each side holds its transaction open while the other runs in full; a lock wait would
    fail the other at once (lock_timeout), whatever the machine's speed."""
    passes(keepa, conn, days=3, every_hours=8)
    conn.execute("INSERT INTO asin_history (asin, marketplace, observed_at, available)"
                 " VALUES (%s, 'com', now() - interval '2 days', true)", (C,))  # fmt: skip
    impatient = make_conninfo(database_url, options="-c search_path=bestseller -c lock_timeout=500")
    monkeypatch.setenv("DATABASE_URL", impatient)

    # A prune batch in flight (conversion and a day summarized, uncommitted): a whole pass runs.
    with psycopg.connect(impatient) as pruning:
        pruning.execute(history_store.CONVERT_LEGACY_SQL, {"limit": 10})
        day = history_store.oldest_check_day(pruning, before=datetime.now(UTC))
        pruning.execute(history_store.SUMMARIZE_DAY_SQL, {"day": day})
        summary = run_check(load_settings(), options=FULL_PASS)
        assert (summary.checked, summary.exit_code) == (2, 0)
        pruning.commit()

    # A pass's batch in flight (written, uncommitted): a whole prune runs.
    with psycopg.connect(impatient) as checking:
        run_id, _ = run_store.start_run(checking, resume_within=timedelta(0))
        ranks = {c: CategoryRank(category_id=c, rank=r) for c, r in ((KITCHEN, 9), (GADGETS, 4))}
        snapshot = ProductSnapshot(
            asin=A, marketplace="com", main_category_id=KITCHEN, main_rank=9, category_ranks=ranks
        )
        now = datetime.now(UTC)
        state = StoredState(category_ranks=ranks, first_seen_at=now)
        observed = ObservedProduct(
            snapshot=snapshot, state=state, observed_at=now, steps=[RankStep(GADGETS, now, 4)]
        )
        outcome = BatchOutcome(marketplace="com", observed=[observed])
        check_store.write_batch(checking, outcome, run_id=run_id, calls=[], token_cost_usd=0.0)
        with psycopg.connect(impatient, autocommit=True) as pruner:
            done = prune(pruner, retention_days=1, now=now)
        checking.commit()
    assert done.days_summarized >= 1


def test_purging_an_asin_takes_it_out_of_every_batch_and_keeps_the_others(
    keepa: FakeKeepa, conn
) -> None:
    passes(keepa, conn, days=1, every_hours=8)
    asin_store.remove_tracked(conn, asins=[A], client=None, marketplace=None, purge=True)
    left = conn.execute(
        "SELECT asin, count(*) FROM history_checks GROUP BY asin ORDER BY asin"
    ).fetchall()
    assert left == [(B, 3)]
    assert conn.execute("SELECT count(*) FROM rank_points WHERE asin = %s", (A,)).fetchone() == (0,)


def test_prune_from_the_command_line_reports_what_it_did(keepa: FakeKeepa, conn) -> None:
    passes(keepa, conn, days=3, every_hours=8)
    conn.execute("INSERT INTO asin_history (asin, marketplace, observed_at, available)"
                 " VALUES (%s, 'com', now() - interval '2 days', true)", (C,))  # fmt: skip
    result = CliRunner().invoke(app, ["prune", "--days", "1", "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["converted_rows"] == 1 and done["days_summarized"] >= 2


def test_db_upgrade_converts_old_history(env: dict[str, str], conn) -> None:
    conn.execute("INSERT INTO asin_history (asin, marketplace, observed_at, available, title)"
                 " VALUES (%s, 'com', now(), true, 'Old row')", (C,))  # fmt: skip
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "converted 1 rows of old history" in result.output
    assert conn.execute("SELECT count(*) FROM asin_history").fetchone() == (0,)
    assert conn.execute("SELECT title FROM asin_details").fetchall() == [("Old row",)]
