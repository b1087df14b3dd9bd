"""Watched categories as stored: watching again changes the watch and keeps its state, due
means never checked or past its next check, suggestions come from the client's own ranks."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bestseller_cli.rules.category_watch import Role
from bestseller_cli.store import category_store

KITCHEN, GADGETS, TOYS = 1055398, 289913, 165793011
A, B, C = "B0AAAAAAAA", "B0BBBBBBBB", "B0CCCCCCCC"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def add_client(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("INSERT INTO clients (name) VALUES (%s) RETURNING id", (name,)).fetchone()
    assert row is not None
    return row[0]


def test_watching_again_changes_the_watch_and_keeps_what_was_seen(
    conn: psycopg.Connection,
) -> None:
    acme = add_client(conn, "acme")
    category_store.watch(conn, "de", [KITCHEN], client_id=None, every_hours=4, top_n=None)
    conn.execute("UPDATE watched_categories SET top_asins = %s, next_check_at = %s", ([A, B], NOW))
    [watched] = category_store.watch(
        conn, "de", [KITCHEN], client_id=acme, every_hours=6, top_n=3, names={KITCHEN: "Küche"}
    )
    assert (watched.client, watched.every_hours, watched.top_n, watched.name) == (
        "acme",
        6,
        3,
        "Küche",
    )
    assert (watched.top_asins, watched.next_check_at, watched.holder) == ((A, B), NOW, A)


def test_every_hours_below_one_and_a_top_n_above_ten_are_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        category_store.watch(conn, "de", [KITCHEN], client_id=None, every_hours=0.5, top_n=None)
    with pytest.raises(psycopg.errors.CheckViolation):
        category_store.watch(conn, "de", [KITCHEN], client_id=None, every_hours=4, top_n=11)


def test_unwatching_returns_only_what_was_watched(conn: psycopg.Connection) -> None:
    category_store.watch(conn, "de", [KITCHEN, GADGETS], client_id=None, every_hours=4, top_n=None)
    assert category_store.unwatch(conn, "de", [GADGETS, TOYS]) == [GADGETS]
    assert [w.category_id for w in category_store.watched_categories(conn)] == [KITCHEN]


def test_due_is_never_checked_first_then_the_most_overdue(conn: psycopg.Connection) -> None:
    category_store.watch(
        conn, "de", [KITCHEN, GADGETS, TOYS], client_id=None, every_hours=4, top_n=None
    )
    conn.execute(
        "UPDATE watched_categories SET next_check_at = CASE category_id"
        " WHEN %s THEN %s::timestamptz WHEN %s THEN %s::timestamptz END",
        (KITCHEN, NOW - timedelta(minutes=5), TOYS, NOW + timedelta(minutes=5)),
    )
    due = category_store.due_categories(conn, now=NOW)
    assert [w.category_id for w in due] == [GADGETS, KITCHEN]


def test_list_tokens_count_best_seller_requests_of_the_window_only(
    conn: psycopg.Connection,
) -> None:
    conn.execute(
        "INSERT INTO api_usage_log (called_at, endpoint, tokens_consumed, duration_ms) VALUES"
        " (%s, 'bestsellers', 50, 1), (%s, 'bestsellers', 50, 1), (%s, 'product', 100, 1)",
        (NOW - timedelta(hours=25), NOW - timedelta(hours=1), NOW - timedelta(hours=1)),
    )
    assert category_store.list_tokens_since(conn, NOW - timedelta(hours=24)) == 50


def seed_ranks(conn: psycopg.Connection, client: int | None, asin: str, ranks: dict) -> None:
    conn.execute(
        "INSERT INTO tracked_asins (asin, marketplace, client_id) VALUES (%s, 'de', %s)",
        (asin, client),
    )
    conn.execute(
        "INSERT INTO asin_current_state (asin, marketplace, available, category_ranks,"
        " first_seen_at, last_checked_at) VALUES (%s, 'de', true, %s, now(), now())",
        (asin, psycopg.types.json.Jsonb(ranks)),
    )


def test_suggestions_are_the_clients_categories_top_ten_first(conn: psycopg.Connection) -> None:
    acme = add_client(conn, "acme")
    seed_ranks(conn, acme, A, {str(KITCHEN): {"name": "Küche", "rank": 40}})
    seed_ranks(
        conn,
        acme,
        B,
        {str(KITCHEN): {"name": "Küche", "rank": 55}, str(GADGETS): {"name": "Gadgets", "rank": 3}},
    )
    seed_ranks(conn, None, C, {str(TOYS): {"name": "Toys", "rank": 1}})
    category_store.watch(conn, "de", [KITCHEN], client_id=acme, every_hours=4, top_n=None)
    found = category_store.suggestions(conn, client_id=acme)
    assert [(s.category_id, s.name, s.products, s.best_rank, s.watched) for s in found] == [
        (GADGETS, "Gadgets", 1, 3, False),
        (KITCHEN, "Küche", 2, 40, True),
    ]


def test_known_products_say_tracked_own_and_named(conn: psycopg.Connection) -> None:
    seed_ranks(conn, None, A, {})
    conn.execute("UPDATE asin_current_state SET title = 'Ours'")
    conn.execute(
        "INSERT INTO tracked_asins (asin, marketplace, role) VALUES (%s, 'de', 'competitor')", (B,)
    )
    conn.execute(
        "INSERT INTO listed_products (marketplace, asin, title) VALUES ('de', %s, 'X')", (C,)
    )
    known = category_store.known_products(conn, "de", [A, B, C, "B0DDDDDDDD"], client_id=None)
    assert {asin: (k.title, k.role) for asin, k in known.items()} == {
        A: ("Ours", Role.OWN),
        B: (None, Role.COMPETITOR),
        C: ("X", Role.UNTRACKED),
        "B0DDDDDDDD": (None, Role.UNTRACKED),
    }
