"""`bestseller categories list` and `categories suggest`: the watched categories as a table
that reads at 80 columns and as JSON (their #1 as of the last list, what each costs a day),
and the categories a client's tracked products rank in, those with a product in the top 10
first, with what watching each would cost a day."""

import json

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.cli.categories import LIST_COLUMNS, SUGGEST_COLUMNS
from fakes.keepa_server import FakeKeepa
from tests.cli import test_tables
from tests.cli.test_tables import assert_reads_at, whole_cells

runner = CliRunner()
HOME, GADGETS, HEADPHONES = 1055398, 289913, 3015427011
OURS, OURS_TOO, RIVAL = "B0OURS0001", "B0OURS0002", "B0RIVAL001"


def run(*args: str, width: int = 80) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table reader knows these tables' columns."""
    monkeypatch.setitem(test_tables.COLUMNS, "Watched categories", LIST_COLUMNS)
    monkeypatch.setitem(test_tables.COLUMNS, "Categories of acme", SUGGEST_COLUMNS)


@pytest.fixture
def acme(keepa: FakeKeepa, conn: psycopg.Connection) -> FakeKeepa:
    """acme's two products, ranked (#3 and #12 in Gadgets, #250 in Headphone Accessories, in
    Home & Kitchen far down); a pass has stored their ranks and the categories' names."""
    run("clients", "add", "acme")
    run("asins", "add", OURS, OURS_TOO, "--client", "acme")
    keepa.set_ranks(OURS, {HOME: 40_000, GADGETS: 3})
    keepa.set_ranks(OURS_TOO, {HOME: 52_000, GADGETS: 12, HEADPHONES: 250})
    run("check", "--all")
    return keepa


@pytest.fixture
def watching(acme: FakeKeepa) -> FakeKeepa:
    """Gadgets watched for acme every 2 h with a top 3, Headphone Accessories by default
    (Keepa has no list for it); a pass has fetched both."""
    acme.best_seller_lists[("com", GADGETS)] = [RIVAL, OURS, OURS_TOO]
    run("categories", "watch", str(GADGETS), "--client", "acme", "--every", "2", "--top", "3")
    run("categories", "watch", str(HEADPHONES))
    run("check", "--all")
    return acme


def test_list_reads_at_80_columns_with_the_holder_and_interval_whole(
    watching: FakeKeepa, tables: None
) -> None:
    [table] = assert_reads_at(run("categories", "list"), 80, ["Watched categories"])
    assert whole_cells([table], "Category") == {f"{GADGETS} (com)", f"{HEADPHONES} (com)"}
    assert whole_cells([table], "Every") == {"2 h", "4 h"}
    assert whole_cells([table], "#1 now") == {RIVAL, "-"}
    name = table.headers.index("Name")
    names = [" ".join(line[name] for line in row if line[name]) for row in table.rows]
    assert names == ["Kitchen Utensils & Gadgets", "Headphone Accessories"]


def test_list_wide_shows_every_column(watching: FakeKeepa, tables: None) -> None:
    [table] = assert_reads_at(
        run("categories", "list", "--wide", width=200), 200, ["Watched categories"]
    )
    assert table.headers == [column.name for column in LIST_COLUMNS]
    assert whole_cells([table], "Client") == {"acme", "-"}
    assert whole_cells([table], "Top") == {"3", "-"}


def test_list_json_has_each_watch_its_last_list_and_its_cost_a_day(watching: FakeKeepa) -> None:
    gadgets, headphones = json.loads(run("categories", "list", "--json"))
    assert gadgets | {"list_updated_at": None, "last_checked_at": None, "next_check_at": None} == {
        "marketplace": "com",
        "category_id": GADGETS,
        "name": "Kitchen Utensils & Gadgets",
        "client": "acme",
        "every_hours": 2,
        "top_n": 3,
        "holder": RIVAL,
        "top_asins": [RIVAL, OURS, OURS_TOO],
        "list_updated_at": None,
        "last_checked_at": None,
        "next_check_at": None,
        "empty_answers": 0,
        "tokens_per_list": 50,
        "tokens_per_day": 600,  # 12 lists of 50
    }
    assert gadgets["list_updated_at"] and gadgets["next_check_at"] > gadgets["last_checked_at"]
    assert (headphones["holder"], headphones["top_asins"]) == (None, [])
    assert (headphones["empty_answers"], headphones["tokens_per_day"]) == (1, 300)


def test_list_with_nothing_watched_says_how_to_find_categories(keepa: FakeKeepa) -> None:
    assert "bestseller categories suggest" in run("categories", "list")
    assert json.loads(run("categories", "list", "--json")) == []


def test_suggest_lists_the_clients_categories_top_ten_first_with_their_cost(
    acme: FakeKeepa, tables: None
) -> None:
    [table] = assert_reads_at(
        run("categories", "suggest", "--client", "acme", width=120), 120, ["Categories of acme"]
    )
    assert [row[0][0] for row in table.rows] == [
        f"{GADGETS} (com)",  # #3: in the top 10
        f"{HOME} (com)",  # then by how many products rank there: both, from #40,000
        f"{HEADPHONES} (com)",  # one, #250
    ]
    assert [row[0][table.headers.index("Products")] for row in table.rows] == ["2", "2", "1"]
    assert whole_cells([table], "Tokens/day") == {"300"}  # 6 lists of 50 at the default 4 h
    found = json.loads(run("categories", "suggest", "--client", "acme", "--every", "6", "--json"))
    assert [(s["category_id"], s["best_rank"], s["watched"]) for s in found] == [
        (GADGETS, 3, False),
        (HOME, 40_000, False),
        (HEADPHONES, 250, False),
    ]
    assert {s["tokens_per_day"] for s in found} == {200}
    assert found[0]["name"] == "Kitchen Utensils & Gadgets"


def test_suggest_marks_the_categories_already_watched(watching: FakeKeepa) -> None:
    found = json.loads(run("categories", "suggest", "--client", "acme", "--json"))
    assert {s["category_id"]: s["watched"] for s in found} == {
        GADGETS: True,
        HEADPHONES: True,
        HOME: False,
    }


def test_suggest_without_stored_ranks_says_to_run_a_check_first(keepa: FakeKeepa) -> None:
    run("clients", "add", "acme")
    run("asins", "add", OURS, "--client", "acme")
    assert "run `bestseller check` first" in run("categories", "suggest", "--client", "acme")


def test_watch_for_a_client_with_verify_keeps_the_watch_and_the_calls_it_paid(
    acme: FakeKeepa, conn: psycopg.Connection
) -> None:
    acme.best_seller_lists[("com", GADGETS)] = [RIVAL, OURS]
    run("categories", "watch", str(GADGETS), "--client", "acme", "--verify")
    [watch] = json.loads(run("categories", "list", "--json"))
    assert (watch["category_id"], watch["client"]) == (GADGETS, "acme")
    logged = conn.execute(
        "SELECT tokens_consumed FROM api_usage_log WHERE endpoint = 'bestsellers'"
    ).fetchall()
    assert logged == [(50,)]


def test_watch_for_an_unknown_client_asks_keepa_nothing(acme: FakeKeepa) -> None:
    result = runner.invoke(
        app, ["categories", "watch", str(GADGETS), "--client", "acem", "--verify"]
    )
    assert result.exit_code != 0 and "did you mean 'acme'" in result.output
    assert acme.sent_to("bestsellers") == []
