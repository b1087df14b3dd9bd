"""What an operator does by hand: ASINs, clients, their rules and the global defaults."""

import csv
import io
import json
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from typer.testing import CliRunner, Result

from bestseller_cli.cli.app import app
from bestseller_cli.output import console

runner = CliRunner()


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables as wide as a big terminal, so no cell is wrapped."""
    monkeypatch.setattr(console, "_width", 200)


def run(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin)


def tracked(conn: psycopg.Connection) -> list[tuple[str, str, str | None, bool]]:
    return conn.execute(
        "SELECT t.asin, t.marketplace, c.name, t.active FROM tracked_asins t"
        " LEFT JOIN clients c ON c.id = t.client_id ORDER BY t.asin, c.name NULLS FIRST"
    ).fetchall()


def seed_history(conn: psycopg.Connection, asin: str) -> None:
    conn.execute(
        "INSERT INTO asin_history (asin, marketplace, observed_at, available, badge_category_ids)"
        " VALUES (%s, 'com', now(), true, '{5}')",
        (asin,),
    )
    conn.execute(
        "INSERT INTO bestseller_changes (asin, marketplace, category_id, kind, detected_at,"
        " changed_at) VALUES (%s, 'com', 5, 'gained', now(), now())",
        (asin,),
    )


def history_rows(conn: psycopg.Connection, asin: str) -> int:
    row = conn.execute("SELECT count(*) FROM asin_history WHERE asin = %s", (asin,)).fetchone()
    return row[0] if row else 0


# --- asins ---------------------------------------------------------------------------------


def test_added_asins_are_listed_and_removing_one_stops_tracking_it(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    added = run("asins", "add", "b0c1234567", "B0C7654321", "--marketplace", "de")
    assert added.exit_code == 0, added.stderr
    assert "added B0C1234567 (de)" in added.stdout
    listed = json.loads(run("asins", "list", "--json").stdout)
    assert [(r["asin"], r["marketplace"]) for r in listed] == [
        ("B0C1234567", "de"),
        ("B0C7654321", "de"),
    ]
    removed = run("asins", "remove", "B0C1234567")
    assert removed.exit_code == 0, removed.stderr
    assert "removed B0C1234567" in removed.stdout
    assert [r["asin"] for r in json.loads(run("asins", "list", "--json").stdout)] == ["B0C7654321"]
    with_removed = json.loads(run("asins", "list", "--all", "--json").stdout)
    assert {r["asin"]: r["active"] for r in with_removed} == {
        "B0C1234567": False,
        "B0C7654321": True,
    }


def test_adding_the_same_asin_twice_keeps_one_entry(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    first = run("asins", "add", "B0C1234567", "b0c1234567")
    assert first.exit_code == 0, first.stderr
    second = run("asins", "add", "B0C1234567")
    assert second.exit_code == 0
    assert "already tracked B0C1234567" in second.stdout
    assert tracked(conn) == [("B0C1234567", "com", None, True)]


def test_a_removed_asin_added_again_is_tracked_again(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("asins", "add", "B0C1234567")
    run("asins", "remove", "B0C1234567")
    again = run("asins", "add", "B0C1234567")
    assert "added B0C1234567" in again.stdout
    assert tracked(conn) == [("B0C1234567", "com", None, True)]


def test_an_isbn_10_is_a_valid_asin(env: dict[str, str], conn: psycopg.Connection) -> None:
    result = run("asins", "add", "080442957x")
    assert result.exit_code == 0, result.stderr
    assert tracked(conn) == [("080442957X", "com", None, True)]


def test_bulk_add_with_one_invalid_line_adds_nothing_and_names_it(
    env: dict[str, str], conn: psycopg.Connection, tmp_path: Path
) -> None:
    listing = tmp_path / "asins.txt"
    listing.write_text("# spring catalogue\nB0C1234567\nB0C-BROKEN\nB0C7654321, B0C1111111\n")
    result = run("asins", "add", "--file", str(listing))
    assert result.exit_code == 2
    assert "B0C-BROKEN" in result.stderr
    assert "Nothing was added" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tracked(conn) == []


def test_bulk_add_with_skip_invalid_adds_the_valid_ones_and_still_fails(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    result = run("asins", "add", "--file", "-", "--skip-invalid", stdin="B0C1234567\nnope\n")
    assert result.exit_code == 1
    assert "'nope' is not an ASIN" in result.stderr
    assert [row[0] for row in tracked(conn)] == ["B0C1234567"]


def test_an_unreadable_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    result = run("asins", "add", "--file", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2
    assert "cannot read --file" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_marketplace_is_a_clear_error(env: dict[str, str]) -> None:
    result = run("asins", "add", "B0C1234567", "--marketplace", "moon")
    assert result.exit_code == 2
    assert "unknown marketplace 'moon'" in result.stderr


def test_one_asin_tracked_by_two_clients_is_two_entries(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("clients", "add", "acme")
    run("asins", "add", "B0C1234567", "--client", "acme")
    run("clients", "add", "globex")
    run("asins", "add", "B0C1234567", "--client", "globex")
    assert tracked(conn) == [
        ("B0C1234567", "com", "acme", True),
        ("B0C1234567", "com", "globex", True),
    ]
    acme = json.loads(run("asins", "list", "--client", "acme", "--json").stdout)
    assert [(r["asin"], r["client"]) for r in acme] == [("B0C1234567", "acme")]
    run("asins", "remove", "B0C1234567", "--client", "acme")
    assert [row[2:] for row in tracked(conn)] == [("acme", False), ("globex", True)]


def test_removing_keeps_history_unless_purged(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("asins", "add", "B0C1234567")
    seed_history(conn, "B0C1234567")
    run("asins", "remove", "B0C1234567")
    assert history_rows(conn, "B0C1234567") == 1
    purged = run("asins", "remove", "B0C1234567", "--purge", "--yes")
    assert "deleted history of B0C1234567" in purged.stdout
    assert history_rows(conn, "B0C1234567") == 0
    changes = conn.execute("SELECT count(*) FROM bestseller_changes").fetchone()
    assert changes == (0,)


def test_purge_keeps_history_another_client_still_needs(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("clients", "add", "acme")
    run("asins", "add", "B0C1234567", "--client", "acme")
    run("clients", "add", "globex")
    run("asins", "add", "B0C1234567", "--client", "globex")
    seed_history(conn, "B0C1234567")
    result = run("asins", "remove", "B0C1234567", "--client", "acme", "--purge", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "kept history of B0C1234567" in result.stdout
    assert history_rows(conn, "B0C1234567") == 1
    run("asins", "remove", "B0C1234567", "--client", "globex", "--purge", "--yes")
    assert history_rows(conn, "B0C1234567") == 0


def test_purge_without_yes_when_not_interactive_changes_nothing(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("asins", "add", "B0C1234567")
    result = run("asins", "remove", "B0C1234567", "--purge")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert tracked(conn) == [("B0C1234567", "com", None, True)]


def test_removing_an_untracked_asin_says_so_and_fails(env: dict[str, str]) -> None:
    result = run("asins", "remove", "B0C1234567")
    assert result.exit_code == 1
    assert "not tracked B0C1234567" in result.stdout


def test_list_shows_badges_main_rank_and_since_when(
    env: dict[str, str], conn: psycopg.Connection, wide: None
) -> None:
    run("clients", "add", "acme")
    run("asins", "add", "B0C1234567", "--client", "acme")
    ranks = {"3744": {"name": "Garlic Presses", "rank": 1}, "1": {"name": "Kitchen", "rank": 412}}
    conn.execute(
        "INSERT INTO asin_current_state (asin, marketplace, available, title, main_rank,"
        " category_ranks, badges, first_seen_at, last_checked_at)"
        " VALUES ('B0C1234567', 'com', true, 'Garlic Press', 412, %s, %s, now(), now())",
        (Jsonb(ranks), Jsonb({"3744": "2026-05-01T08:00:00+00:00"})),
    )
    [record] = json.loads(run("asins", "list", "--json").stdout)
    assert record["badges"] == ["Garlic Presses"]
    assert record["badge_since"].startswith("2026-05-01T08:00:00")
    assert record["main_rank"] == 412
    assert record["title"] == "Garlic Press"
    human = run("asins", "list")
    assert "Garlic Presses" in human.stdout
    assert " d ago " in human.stdout  # #1 since, as a table shows times
    assert "#412" in human.stdout
    assert "2026-05-01 08:00" in run("asins", "list", "--wide").stdout


def test_competitors_are_marked_and_keep_their_role_when_added_again(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("clients", "add", "acme")
    run("asins", "add", "B0C1234567", "--client", "acme")
    marked = run("asins", "add", "B0RIVAL001", "--client", "acme", "--competitor")
    assert "added B0RIVAL001 (com, competitor)" in marked.stdout
    run("asins", "add", "B0RIVAL001", "B0C1234567", "--client", "acme")
    roles = {r["asin"]: r["role"] for r in json.loads(run("asins", "list", "--json").stdout)}
    assert roles == {"B0C1234567": "own", "B0RIVAL001": "competitor"}
    run("asins", "add", "B0RIVAL001", "--client", "acme", "--own")
    row = conn.execute("SELECT role FROM tracked_asins WHERE asin = 'B0RIVAL001'").fetchone()
    assert row == ("own",)


def test_list_counts_alerts_held_for_later(
    env: dict[str, str], conn: psycopg.Connection, wide: None
) -> None:
    run("clients", "add", "acme")
    run("asins", "add", "B0C1234567", "--client", "acme")
    seed_history(conn, "B0C1234567")
    for channel, delay in [("C0HELD0001", "2 hours"), ("C0DUE00001", "-1 minute")]:
        conn.execute(
            "INSERT INTO notification_log (change_id, client_id, channel, deliver_after)"
            " SELECT (SELECT id FROM bestseller_changes), (SELECT id FROM clients), %s,"
            " now() + %s::interval",
            (channel, delay),
        )
    [record] = json.loads(run("asins", "list", "--json").stdout)
    assert record["held_alerts"] == 1
    assert "Held alerts" in run("asins", "list").stdout


def test_list_as_csv_is_only_csv(env: dict[str, str]) -> None:
    run("asins", "add", "B0C1234567")
    result = run("asins", "list", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["asin"] for row in rows] == ["B0C1234567"]
    assert result.stdout.startswith("asin,marketplace,client")


def test_list_of_an_unknown_client_is_an_error(env: dict[str, str]) -> None:
    result = run("asins", "list", "--client", "nobody")
    assert result.exit_code == 2
    assert "no client named 'nobody'" in result.stderr


# --- clients and rules ---------------------------------------------------------------------


def client_records(name: str) -> dict:
    listed = run("clients", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    return {client["name"]: client for client in json.loads(listed.stdout)}[name]


def test_client_with_a_channel_gets_a_default_rule_for_it(env: dict[str, str]) -> None:
    result = run("clients", "add", "acme", "--channel", "C0ACME1234")
    assert result.exit_code == 0, result.stderr
    run("asins", "add", "B0C1234567", "--client", "acme")
    acme = client_records("acme")
    assert acme["tracked_asins"] == 1
    assert acme["rules"] == [
        {
            "channel": "C0ACME1234",
            "notify_gained": True,
            "notify_lost": True,
            "max_main_rank": None,
            "ignored_category_ids": [],
            "delivery_mode": "instant",
            "daily_hour": None,
            "quiet": None,
            "timezone": "UTC",
            "renotify_window_minutes": 120,
            "top_n": 0,
            "top_n_main": False,
            "active": True,
            "webhook": None,
        }
    ]


def test_client_without_options_has_no_rule_and_follows_the_defaults(env: dict[str, str]) -> None:
    assert run("clients", "add", "acme").exit_code == 0
    assert client_records("acme")["rules"] == []
    assert "global defaults" in run("clients", "list").stdout


def test_adding_a_client_twice_keeps_one(env: dict[str, str], conn: psycopg.Connection) -> None:
    run("clients", "add", "acme")
    again = run("clients", "add", "acme")
    assert again.exit_code == 0
    assert "already exists" in again.stdout
    assert conn.execute("SELECT count(*) FROM clients").fetchone() == (1,)


def test_rule_options_change_only_what_is_given(env: dict[str, str]) -> None:
    run("clients", "add", "acme", "--channel", "C0ACME1234", "--max-main-rank", "5000")
    changed = run(
        "clients", "rule", "acme", "--channel", "C0ACME1234",
        "--no-lost", "--ignore-category", "3744", "--ignore-category", "16310101",
        "--mode", "daily", "--daily-hour", "9", "--quiet", "22:00-07:30",
        "--timezone", "Europe/Berlin", "--renotify-window", "60",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    assert "updated rule for acme" in changed.stdout
    [rule] = client_records("acme")["rules"]
    assert rule == {
        "channel": "C0ACME1234",
        "notify_gained": True,
        "notify_lost": False,
        "max_main_rank": 5000,
        "ignored_category_ids": [3744, 16310101],
        "delivery_mode": "daily",
        "daily_hour": 9,
        "quiet": "22:00-07:30",
        "timezone": "Europe/Berlin",
        "renotify_window_minutes": 60,
        "top_n": 0,
        "top_n_main": False,
        "active": True,
        "webhook": None,
    }
    run(
        "clients", "rule", "acme", "--channel", "C0ACME1234", "--no-quiet",
        "--unignore-category", "3744", "--max-main-rank", "0", "--mode", "instant",
    )  # fmt: skip
    [rule] = client_records("acme")["rules"]
    assert (rule["quiet"], rule["ignored_category_ids"], rule["max_main_rank"]) == (
        None,
        [16310101],
        None,
    )
    assert (rule["delivery_mode"], rule["notify_lost"]) == ("instant", False)


def test_a_client_may_have_one_rule_per_channel(env: dict[str, str]) -> None:
    run("clients", "add", "acme", "--channel", "C0ACME1234")
    run("clients", "rule", "acme", "--channel", "#acme-lost", "--no-gained")
    rules = client_records("acme")["rules"]
    assert [(r["channel"], r["notify_gained"], r["notify_lost"]) for r in rules] == [
        ("#acme-lost", False, True),
        ("C0ACME1234", True, True),
    ]
    removed = run("clients", "rule", "acme", "--channel", "#acme-lost", "--remove")
    assert removed.exit_code == 0, removed.stderr
    assert [r["channel"] for r in client_records("acme")["rules"]] == ["C0ACME1234"]


def test_a_rule_change_without_a_channel_changes_the_clients_only_rule(
    env: dict[str, str],
) -> None:
    run("clients", "add", "acme", "--channel", "C0ACME1234")
    result = run("clients", "rule", "acme", "--quiet", "22:00-07:00")
    assert result.exit_code == 0, result.stderr
    assert "updated rule for acme → C0ACME1234" in result.stdout
    [rule] = client_records("acme")["rules"]
    assert (rule["channel"], rule["quiet"]) == ("C0ACME1234", "22:00-07:00")


def test_with_several_rules_a_change_must_name_its_channel(env: dict[str, str]) -> None:
    run("clients", "add", "acme", "--channel", "C0ACME1234")
    run("clients", "rule", "acme", "--channel", "#acme-lost", "--no-gained")
    before = client_records("acme")["rules"]
    for options in (["--quiet", "22:00-07:00"], ["--remove"]):
        result = run("clients", "rule", "acme", *options)
        assert result.exit_code == 2
        assert "acme has 2 rules (#acme-lost, C0ACME1234): say which with --channel" in (
            result.stderr
        )
    assert client_records("acme")["rules"] == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
        (["--mode", "daily"], "--mode daily needs --daily-hour"),
        (["--mode", "weekly"], "'weekly' is not one of 'instant',"),
        (["--daily-hour", "24"], "--daily-hour must be an hour from 0 to 23"),
        (["--quiet", "22:00"], "--quiet takes HH:MM-HH:MM"),
        (["--quiet", "25:00-07:00"], "--quiet takes HH:MM-HH:MM"),
        (["--channel", "my channel"], "is not a Slack channel"),
        (["--renotify-window", "-5"], "--renotify-window must be 0 or more minutes"),
    ],
)
def test_an_invalid_rule_is_refused_with_the_option_named(
    env: dict[str, str], conn: psycopg.Connection, options: list[str], message: str
) -> None:
    run("clients", "add", "acme")
    result = run("clients", "rule", "acme", *options)
    assert result.exit_code == 2
    assert message in result.stderr
    assert conn.execute("SELECT count(*) FROM notification_rules").fetchone() == (0,)


def test_a_rule_for_an_unknown_client_names_the_fix(env: dict[str, str]) -> None:
    result = run("clients", "rule", "nobody", "--no-lost")
    assert result.exit_code == 2
    assert "bestseller clients add nobody" in result.stderr


def test_removing_a_client_drops_its_rules_and_entries_but_keeps_history(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    run("clients", "add", "acme", "--channel", "C0ACME1234")
    run("asins", "add", "B0C1234567", "--client", "acme")
    seed_history(conn, "B0C1234567")
    refused = run("clients", "remove", "acme")
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    result = run("clients", "remove", "acme", "--yes")
    assert result.exit_code == 0, result.stderr
    assert json.loads(run("clients", "list", "--json").stdout) == []
    assert conn.execute("SELECT count(*) FROM notification_rules").fetchone() == (0,)
    assert tracked(conn) == []
    assert history_rows(conn, "B0C1234567") == 1


# --- global settings -----------------------------------------------------------------------


def test_global_settings_round_trip(env: dict[str, str]) -> None:
    before = json.loads(run("settings", "show", "--json").stdout)
    assert {k: before[k] for k in before if k != "updated_at"} == {
        "slack_channel_id": None,
        "notify_gained": True,
        "notify_lost": True,
        "renotify_window_minutes": 120,
        "top_n": 0,
        "top_n_main": False,
    }
    for key, value in [
        ("slack_channel_id", "C0GLOBAL12"),
        ("notify-lost", "no"),
        ("renotify_window_minutes", "30"),
    ]:
        result = run("settings", "set", key, value)
        assert result.exit_code == 0, result.stderr
    after = json.loads(run("settings", "show", "--json").stdout)
    assert (after["slack_channel_id"], after["notify_lost"]) == ("C0GLOBAL12", False)
    assert (after["notify_gained"], after["renotify_window_minutes"]) == (True, 30)
    run("settings", "set", "slack_channel_id", "none")
    assert json.loads(run("settings", "show", "--json").stdout)["slack_channel_id"] is None
    assert "notify_lost" in run("settings", "show").stdout


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("colour", "blue", "unknown setting 'colour'"),
        ("notify_gained", "maybe", "notify_gained takes true or false"),
        ("renotify_window_minutes", "an hour", "whole number of minutes"),
        ("slack_channel_id", "two words", "is not a Slack channel"),
    ],
)
def test_an_invalid_setting_is_refused_clearly(
    env: dict[str, str], key: str, value: str, message: str
) -> None:
    result = run("settings", "set", key, value)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_client_name_that_looks_like_markup_is_shown_as_typed(env: dict[str, str]) -> None:
    result = run("clients", "add", "[red]acme", "--channel", "C0ACME1234")
    assert result.exit_code == 0, result.stderr
    assert "added client [red]acme" in result.stdout
    assert "rule for [red]acme" in result.stdout
