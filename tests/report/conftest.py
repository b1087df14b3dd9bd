"""Seeded compact history for the report's pictures: two tracked garlic presses trading #1
over 20 hourly passes (`history`)."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner, Result

from bestseller_cli.cli.app import app

runner = CliRunner()
OWN, RIVAL = "B0OWNPRESS", "B0RIVALPRS"
GARLIC, KITCHEN, GADGETS = 3744, 1055398, 510
NAMES = {GARLIC: "Garlic Presses", KITCHEN: "Kitchen & Dining", GADGETS: "Gadgets"}
# Not on the hour: the last pass (hour 19) must stay within CHECK_CEILING_HOURS of the
# moment a test reads the report, or the time since it shows as a gap. Floored to the hour,
# a suite started at minute 32 or later drew one more gap than the tests expect.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START = NOW - timedelta(hours=20)  # the first check, inside the default 24 h
NO_PASS = range(8, 11)  # hours without a check


def at(hour: int) -> datetime:
    return START + timedelta(hours=hour, minutes=2)


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def garlic_rank(asin: str, hour: int) -> int:
    """OWN takes #1 from RIVAL at hour 5, RIVAL takes it back at hour 15."""
    holds = 5 <= hour < 15
    return (1 if holds else 2) if asin == OWN else (2 if holds else 1)


def add_change(conn: psycopg.Connection, asin: str, kind: str, hour: int) -> None:
    conn.execute(
        "INSERT INTO bestseller_changes (asin, marketplace, category_id, category_name, kind,"
        " rank_before, rank_after, main_rank, title, detected_at, changed_at)"
        " VALUES (%s, 'com', %s, 'Garlic Presses', %s, %s, %s, 400, %s, %s, %s)",
        (asin, GARLIC, kind, 2 if kind == "gained" else 1, 1 if kind == "gained" else 2,
         TITLES[asin], at(hour), at(hour)),
    )  # fmt: skip


TITLES = {OWN: "Acme Garlic Press <Pro>", RIVAL: "Rival Press & Co"}


@pytest.fixture
def history(
    env: dict[str, str], conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> psycopg.Connection:
    """Two tracked presses trading #1 in Garlic Presses over 20 hourly passes, every ASIN
    checked at least every 1.5 hours: the 3 hours without a pass are a gap."""
    monkeypatch.setenv("CHECK_CEILING_HOURS", "1.5")
    run("clients", "add", "acme")
    assert run("asins", "add", OWN, "--client", "acme").exit_code == 0
    assert run("asins", "add", RIVAL, "--client", "acme", "--competitor").exit_code == 0
    for hour in range(20):
        if hour in NO_PASS:
            continue
        ranks = [garlic_rank(asin, hour) for asin in (OWN, RIVAL)]
        conn.execute(
            "INSERT INTO asin_checks (marketplace, observed_at, asins, main_ranks, badge_counts)"
            " VALUES ('com', %s, %s, %s, %s)",
            (at(hour), [OWN, RIVAL], [400 + hour, 900], [int(r == 1) for r in ranks]),
        )
        for asin, rank in zip((OWN, RIVAL), ranks, strict=True):
            if hour == 0 or rank != garlic_rank(asin, hour - 1):
                conn.execute(
                    "INSERT INTO rank_points VALUES (%s, 'com', %s, %s, %s)",
                    (asin, GARLIC, at(hour), rank),
                )
    for asin in (OWN, RIVAL):  # a category never near #1
        conn.execute(
            "INSERT INTO rank_points VALUES (%s, 'com', %s, %s, 45)", (asin, GADGETS, at(0))
        )
    add_change(conn, OWN, "gained", 5)
    add_change(conn, RIVAL, "lost", 5)
    add_change(conn, OWN, "lost", 15)
    add_change(conn, RIVAL, "gained", 15)
    for asin, badges in ((OWN, {}), (RIVAL, {GARLIC: at(15)})):
        conn.execute(
            "INSERT INTO asin_current_state (asin, marketplace, available, title,"
            " main_category_id, main_rank, category_ranks, badges, first_seen_at,"
            " last_checked_at) VALUES (%s, 'com', true, %s, %s, 420, %s, %s, %s, %s)",
            (asin, TITLES[asin], KITCHEN,
             Jsonb({str(c): {"name": n, "rank": 3} for c, n in NAMES.items()}),
             Jsonb({str(c): s.isoformat() for c, s in badges.items()}), at(0), at(19)),
        )  # fmt: skip
    return conn
