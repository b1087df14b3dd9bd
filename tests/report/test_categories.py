"""`report`'s "Who held #1 in your categories": per watched category (the client's with
--client), its holder stretches in the period (tracked or not, untracked ones by the title
/product gave), who holds #1 now and that this comes from Keepa's best seller list, in every
format the report has."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.shapes import report_models
from bestseller_cli.store import asin_store, category_store, client_store

runner = CliRunner()
SCALES, PEELERS = 3167641, 3167650
OURS, RIVAL, NEWCOMER, OLDTIMER = "B0OURS0001", "B0RIVAL001", "B0NEWCOME1", "B0OLDTIME1"
NOW = datetime.now(UTC).replace(microsecond=0)
UPDATED = NOW - timedelta(minutes=40)


def report(*args: str) -> str:
    result = runner.invoke(app, ["report", *args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@pytest.fixture
def stretches(env: dict[str, str], conn: psycopg.Connection) -> psycopg.Connection:
    """acme watches Kitchen Scales: an old-timer held #1 from 3 days ago (before the 24 h
    period), acme's scale from 20 h ago, the rival from 12 h ago, an untracked newcomer from
    3 h ago, still now. Another client watches Peelers."""
    client_store.add_client(conn, name="acme")
    client_store.add_client(conn, name="other")
    acme, other = client_store.client_id(conn, "acme"), client_store.client_id(conn, "other")
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client="acme", role="own")
    asin_store.add_tracked(conn, asins=[RIVAL], marketplace="com", client="acme", role="competitor")
    conn.commit()
    category_store.watch(conn, "com", [SCALES], client_id=acme, every_hours=4, top_n=None,
                         names={SCALES: "Kitchen Scales"})  # fmt: skip
    category_store.watch(conn, "com", [PEELERS], client_id=other, every_hours=4, top_n=None,
                         names={PEELERS: "Peelers"})  # fmt: skip
    conn.execute(
        "UPDATE watched_categories SET list_updated_at = %s, top_asins = ARRAY[%s]",
        (UPDATED, NEWCOMER),
    )
    for asin, title in ((OURS, "Our scale"), (RIVAL, "Rival scale")):
        conn.execute(
            "INSERT INTO asin_current_state (asin, marketplace, available, title,"
            " category_ranks, badges, first_seen_at, last_checked_at)"
            " VALUES (%s, 'com', true, %s, '{}', '{}', %s, %s)",
            (asin, title, hours_ago(30), hours_ago(1)),
        )
    conn.execute(
        "INSERT INTO listed_products (marketplace, asin, title) VALUES ('com', %s, %s),"
        " ('com', %s, NULL)",
        (NEWCOMER, "Newcomer <b>scale</b>", OLDTIMER),
    )
    held = [
        (SCALES, OLDTIMER, hours_ago(72), hours_ago(20)),
        (SCALES, OURS, hours_ago(20), hours_ago(12)),
        (SCALES, RIVAL, hours_ago(12), hours_ago(3)),
        (SCALES, NEWCOMER, hours_ago(3), None),
        (PEELERS, RIVAL, hours_ago(50), hours_ago(30)),  # before the period
        (PEELERS, OURS, hours_ago(30), None),
    ]
    conn.execute(
        "INSERT INTO category_holders (marketplace, category_id, asin, held_from, held_until)"
        " SELECT 'com', * FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[],"
        " %s::timestamptz[])",
        [list(column) for column in zip(*held, strict=True)],
    )
    conn.commit()
    return conn


def test_json_lists_each_watched_category_with_its_stretches_and_holder_now(
    stretches: psycopg.Connection,
) -> None:
    categories = json.loads(report("--json", "--client", "acme"))["categories"]
    [scales] = categories  # only acme's category
    assert (scales["name"], scales["client"]) == ("Kitchen Scales", "acme")
    assert scales["source"] == "Keepa's best seller list (sub-category rank)"
    assert datetime.fromisoformat(scales["list_updated_at"]) == UPDATED
    held = [(s["asin"], s["title"], s["role"]) for s in scales["stretches"]]
    assert held == [
        (OLDTIMER, None, "untracked"),  # held #1 when the period began
        (OURS, "Our scale", "own"),
        (RIVAL, "Rival scale", "competitor"),
        (NEWCOMER, "Newcomer <b>scale</b>", "untracked"),
    ]
    assert scales["stretches"][-1]["held_until"] is None
    assert scales["current"]["asin"] == NEWCOMER
    documented = report_models.__doc__ or ""
    for key in {*scales, *scales["current"]}:
        assert f'"{key}"' in documented, f"{key} is not documented in report_models"
    everyone = json.loads(report("--json"))["categories"]
    assert [c["category_id"] for c in everyone] == [SCALES, PEELERS]
    [peelers] = [c for c in everyone if c["category_id"] == PEELERS]
    assert [s["asin"] for s in peelers["stretches"]] == [OURS]  # the rival's ended before
    # OURS is acme's own, but Peelers is the other client's: there it is a tracked competitor
    assert peelers["current"]["role"] == "competitor"


def test_csv_has_one_row_per_stretch_and_markdown_a_section(
    stretches: psycopg.Connection,
) -> None:
    rows = list(csv.DictReader(io.StringIO(report("--categories-csv", "--client", "acme"))))
    assert [(r["asin"], r["role"], r["held_until"] == "") for r in rows] == [
        (OLDTIMER, "untracked", False),
        (OURS, "own", False),
        (RIVAL, "competitor", False),
        (NEWCOMER, "untracked", True),
    ]
    assert {r["category_name"] for r in rows} == {"Kitchen Scales"}
    assert {r["source"] for r in rows} == {"Keepa's best seller list (sub-category rank)"}
    markdown = report("--markdown", "--client", "acme")
    section = markdown.split("## Who held #1 in your categories")[1]
    assert (
        f"- Kitchen Scales \\(amazon.com\\): \\#1 now {NEWCOMER}"
        " Newcomer \\<b\\>scale\\</b\\> \\(untracked\\)"
    ) in section
    assert f"best seller list \\(sub-category rank\\), updated {UPDATED:%Y-%m-%d %H:%M}" in section
    assert f"| Kitchen Scales | {RIVAL} | Rival scale | tracked competitor |" in section


def test_a_terminal_shows_the_holder_now_and_a_table_of_stretches(
    stretches: psycopg.Connection,
) -> None:
    text = report("--client", "acme")
    assert "Who held #1 in your categories" in text
    assert f"#1 now {NEWCOMER} Newcomer <b>scale</b> (untracked)" in text
    assert "Keepa's best seller list" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Our scale" in text and "holds it" in text


def test_the_html_page_draws_a_timeline_per_watched_category_with_untracked_holders(
    stretches: psycopg.Connection,
) -> None:
    page = report("--html", "-", "--client", "acme")
    section = page.split("<h2>Who held #1 in your categories</h2>")[1]
    assert "<h3>Kitchen Scales (amazon.com)</h3>" in section
    assert "Who held #1 in Kitchen Scales (amazon.com)" in section  # the timeline's title
    assert f"{NEWCOMER} untracked" in section  # its lane's label
    assert f"{NEWCOMER} (untracked) held #1 from" in section  # its bar's words
    assert "Newcomer &lt;b&gt;scale&lt;/b&gt; (untracked)" in section
    assert "Source: Keepa&#x27;s best seller list (sub-category rank), updated" in section


def test_without_watched_categories_the_section_is_left_out(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    assert json.loads(report("--json"))["categories"] == []
    assert "Who held #1 in your categories" not in report("--markdown")
    assert "Who held #1 in your categories" not in report()
