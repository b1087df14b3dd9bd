"""The charts' reads of the compact history: checks and spans summed per bucket, and the
categories worth drawing with their rank points."""

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from bestseller_cli.shapes.rank_history import BucketFacts, Grid
from bestseller_cli.store.chart_queries import product_histories

ASIN, OTHER = "B0CHARTS01", "B0CHARTS02"
MAIN = 100
SINCE = datetime(2026, 11, 20, tzinfo=UTC)
GRID = Grid(since=SINCE, until=SINCE + timedelta(days=2), count=48)  # hourly buckets


def at(hour: float) -> datetime:
    return SINCE + timedelta(hours=hour)


def add_state(conn: psycopg.Connection, asin: str) -> None:
    conn.execute(
        "INSERT INTO asin_current_state (asin, marketplace, available, main_category_id,"
        " category_ranks, first_seen_at, last_checked_at)"
        " VALUES (%s, 'com', true, %s, %s, %s, %s)",
        (asin, MAIN, Jsonb({str(MAIN): {"name": "Kitchen", "rank": 400}}), at(0), at(40)),
    )


def add_point(conn: psycopg.Connection, category: int, hour: float, rank: int | None) -> None:
    conn.execute(
        "INSERT INTO rank_points VALUES (%s, 'com', %s, %s, %s)", (ASIN, category, at(hour), rank)
    )


def test_checks_and_spans_are_summed_per_bucket(conn: psycopg.Connection) -> None:
    add_state(conn, ASIN)
    add_state(conn, OTHER)
    # Day one was pruned into spans: held #1 from 00:10 to 05:10, then not until 23:10.
    conn.execute(
        "INSERT INTO check_spans VALUES (%s, 'com', %s, %s, 6, true), (%s, 'com', %s, %s, 18,"
        " false)",
        (ASIN, at(0.2), at(5.2), ASIN, at(6.2), at(23.2)),
    )
    for hour, badges in ((30.2, [1, 0]), (30.7, [None, 1]), (31.2, [0, 0])):
        conn.execute(
            "INSERT INTO asin_checks (marketplace, observed_at, asins, main_ranks, badge_counts)"
            " VALUES ('com', %s, %s, %s, %s)",
            (at(hour), [ASIN, OTHER], [500 + int(hour * 10), 700], badges),
        )
    (history,) = product_histories(conn, products=[(ASIN, "com")], grid=GRID)
    facts = {fact.bucket: fact for fact in history.facts}
    assert [facts[b].holding for b in range(0, 24)] == [True] * 6 + [False] * 18
    assert {facts[b].summarized for b in range(0, 6)} == {6}  # each bucket the span reaches
    assert facts[30] == BucketFacts(bucket=30, checks=2, available=1, holding=True, main_rank=802)
    assert facts[31] == BucketFacts(bucket=31, checks=1, available=1, holding=False, main_rank=812)
    assert set(facts) == {*range(24), 30, 31}
    assert (history.main_category_id, history.main_category_name) == (MAIN, "Kitchen")


def test_the_categories_drawn_are_those_that_came_near_one(conn: psycopg.Connection) -> None:
    add_state(conn, ASIN)
    add_point(conn, 7, -30, 3)  # in effect when the period starts
    add_point(conn, 7, 2.5, 1)
    add_point(conn, 7, 2.9, 2)
    add_point(conn, 7, 20, None)
    add_point(conn, 8, 1, 40)  # never near #1
    add_point(conn, MAIN, 1, 1)  # an old main category's rank: drawn from the checks instead
    (history,) = product_histories(conn, products=[(ASIN, "com")], grid=GRID)
    (garlic,) = history.categories
    assert (garlic.category_id, garlic.start_rank, garlic.started) == (7, 3, True)
    assert (garlic.buckets, garlic.best, garlic.last) == ([2, 20], [1, None], [2, None])

    conn.execute("DELETE FROM rank_points WHERE category_id = 7")
    (history,) = product_histories(conn, products=[(ASIN, "com")], grid=GRID)
    assert history.categories == []  # none near #1: the main rank alone


def test_an_alerts_chart_reads_only_the_changed_category(conn: psycopg.Connection) -> None:
    add_state(conn, ASIN)
    add_point(conn, 7, 2, 1)
    add_point(conn, 9, 2, 4)
    history = product_histories(conn, products=[(ASIN, "com")], grid=GRID, category_id=9)
    assert [c.category_id for c in history[0].categories] == [9]
    (never_checked,) = product_histories(conn, products=[(OTHER, "com")], grid=GRID)
    assert (never_checked.facts, never_checked.categories) == ([], [])
