"""Titles and category names are written by competitors: through every command, each format
escapes them where they land (bestseller_cli/escape.py). A CSV cell never starts a formula;
the HTML page runs no script, loads nothing and links only to Amazon; Markdown renders no
link, image or tag; a terminal gets no escape sequence and no rich markup; Slack gets no link
or mention and its charts still draw; JSON says exactly what is stored.

The passes here store the text as a release before this one did, control characters and all
(only NUL, which PostgreSQL refuses), so that every output is seen to strip them itself."""

import csv
import io
import json
import re
from html.parser import HTMLParser

import psycopg
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner, Result

from bestseller_cli.cli.app import app
from bestseller_cli.keepa import payload
from bestseller_cli.report.html import CONTENT_SECURITY_POLICY
from fakes import keepa_payloads
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.check.test_alert_story import text_of
from tests.conftest import SLACK_CHANNEL

runner = CliRunner()
GADGETS = 289913
TERMINAL_ATTACK = "\x1b[2J\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
TITLES = {
    "B0HOSTILE1": '=HYPERLINK("http://evil","x")',
    "B0HOSTILE2": "<script>alert(1)</script>",
    "B0HOSTILE3": "[x](javascript:alert(1)) ![](http://tracker/p.png)",
    "B0HOSTILE4": "[bold]Pads[/bold] [link=http://evil]x[/link]",
    "B0HOSTILE5": "&lt;img src=x onerror=alert(1)&gt;",
    "B0HOSTILE6": f"Pads{TERMINAL_ATTACK}\x07\x9b",
}
CATEGORY = "@SUM(1) <b>[c](javascript:x)</b> |#!\x1b[31m\x07"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and line breaks
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def run(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def take_number_one(keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch) -> Result:
    """Six products with hostile titles take #1 in a category with a hostile name, stored as
    an earlier release stored them; the pass that saw it."""
    monkeypatch.setattr(payload, "without_controls", lambda text: text.replace("\x00", ""))
    monkeypatch.setitem(keepa_payloads.CATEGORY_NAMES, GADGETS, CATEGORY)
    keepa.titles.update(TITLES)
    run("asins", "add", *TITLES)
    for rank in (2, 1):
        for asin in TITLES:
            keepa.set_ranks(asin, {GADGETS: rank})
        checked = run("check", "--all")
    return checked


@pytest.fixture
def hostile(keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch) -> Result:
    """`take_number_one` without Slack: the alerts are printed."""
    return take_number_one(keepa, monkeypatch)


def test_csv_cells_never_start_a_formula(hostile: Result) -> None:
    for command in (("report", "--csv"), ("asins", "list", "--csv")):
        rows = list(csv.DictReader(io.StringIO(run(*command).stdout)))
        assert {row["title"] for row in rows} >= {"'" + TITLES["B0HOSTILE1"]}
        badges = "badges_now" if command[0] == "report" else "badges"
        assert {row[badges] for row in rows} == {"'" + CATEGORY}
        for cell in (cell for row in rows for cell in row.values() if cell):
            assert NUMBER.fullmatch(cell) or not cell.startswith(FORMULA_START), (command, cell)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]


def page_tags(page: str) -> Tags:
    parsed = Tags()
    parsed.feed(page)
    return parsed


def test_the_html_page_escapes_every_value_and_allows_no_script_or_fetch(
    hostile: Result, conn: psycopg.Connection
) -> None:
    # bestseller_changes.asin has no format check: a row written by hand is shown escaped.
    conn.execute(
        "INSERT INTO bestseller_changes (asin, marketplace, category_id, category_name, kind,"
        " title, detected_at, changed_at)"
        " VALUES ('\"><script>alert(2)</script>', 'com\"><img src=x onerror=alert(3)>', 1,"
        " %s, 'gained', %s, now() - interval '1 hour', now() - interval '1 hour')",
        (CATEGORY, TITLES["B0HOSTILE6"]),
    )
    page = run("report", "--html", "-").stdout
    assert f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">' in (
        page
    )
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "com&quot;&gt;&lt;img src=x onerror=alert(3)&gt;" in page
    assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in page
    assert not CONTROLS.search(page)
    tags = page_tags(page)
    assert not tags.tags & {"script", "img", "iframe", "object", "embed", "link", "base"}
    assert tags.tags.isdisjoint({"b"})  # a category's <b> is text
    # Links go to Amazon's product pages or within the page (a hostile marketplace stays
    # inside the attribute, as text).
    assert all(link.startswith(("https://www.amazon.com", "#chart-")) for link in tags.links)


def test_markdown_renders_no_link_image_or_tag(hostile: Result) -> None:
    text = run("report", "--markdown").stdout
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)" in text
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert not re.search(r"<(a|img|script|b)[\s>]", rendered), rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "[x](javascript:alert(1)) ![](http://tracker/p.png)" in rendered
    assert not CONTROLS.search(text)


def test_a_terminal_gets_no_escape_sequence_and_no_rich_markup(hostile: Result) -> None:
    printed = {
        "check (alerts printed)": hostile.stdout,
        "report": run("report").stdout,
        "asins list": run("asins", "list").stdout,
        "alerts list": run("alerts", "list").stdout,
    }
    assert "ALERT" in printed["check (alerts printed)"]
    for command, text in printed.items():
        assert not CONTROLS.search(text), (command, repr(text))
        assert "@SUM(1) <b>[c](javascript:x)</b> |#!" in text, command  # as text
    for command in ("check (alerts printed)", "report", "asins list"):  # titles shown
        assert TITLES["B0HOSTILE4"] in printed[command], command
        assert "Pads[2J]8;;http://evil" in printed[command], command


def test_slack_gets_no_link_or_mention_and_every_chart_still_draws(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CHARTS", "true")
    take_number_one(keepa, monkeypatch)
    run("report", "--to-slack")
    messages = slack.messages(SLACK_CHANNEL)
    assert len(messages) == len(TITLES) + 1
    for message in messages:
        text = text_of(message)
        assert not CONTROLS.search(text), repr(text)
        assert "<script>" not in text and "<b>" not in text
        # Every link and mention is ours: Amazon product pages and Slack's date tokens.
        for opened in re.findall(r"<([^>]*)>", text):
            assert opened.startswith(("https://www.amazon.com/dp/", "!date^")), opened
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(messages[-1])
    charts = slack.files(SLACK_CHANNEL)
    assert len(charts) == len(TITLES) + 1  # one under each alert, one under the report
    assert not any(CONTROLS.search(chart.title + chart.alt_txt) for chart in charts)
    assert conn.execute("SELECT count(*) FROM error_log WHERE kind = 'chart'").fetchone() == (0,)


def test_json_says_exactly_what_is_stored(hostile: Result) -> None:
    report = json.loads(run("report", "--json").stdout)
    assert {row["asin"]: row["title"] for row in report["asins"]} == TITLES
    tracked = json.loads(run("asins", "list", "--json").stdout)
    assert {row["asin"]: row["title"] for row in tracked} == TITLES
    assert {tuple(row["badges"]) for row in tracked} == {(CATEGORY,)}


def test_keepa_text_is_stored_as_sent_minus_control_characters(keepa: FakeKeepa) -> None:
    """Through the real path: a NUL no longer stops the pass, entities stay entities."""
    sent = "&lt;img src=x&gt; <b>Pads</b>\x00\x07" + TERMINAL_ATTACK
    keepa.titles["B0HOSTILE1"] = sent
    keepa.set_ranks("B0HOSTILE1", {GADGETS: 3})
    run("asins", "add", "B0HOSTILE1")
    run("check", "--all")
    [row] = json.loads(run("asins", "list", "--json").stdout)
    assert row["title"] == "&lt;img src=x&gt; <b>Pads</b>[2J]8;;http://evil\\click]8;;\\"


def test_a_watched_categorys_hostile_holders_are_escaped_in_every_format(
    env: dict[str, str], conn: psycopg.Connection
) -> None:
    """Who held #1 in a watched category: the untracked holders' titles (kept from /product)
    and the category's name, hostile, written as an earlier release stored them."""
    conn.execute(
        "INSERT INTO watched_categories (marketplace, category_id, name, list_updated_at)"
        " VALUES ('com', %s, %s, now() - interval '1 hour')",
        (GADGETS, CATEGORY),
    )
    conn.execute(
        "INSERT INTO listed_products (marketplace, asin, title)"
        " SELECT 'com', * FROM unnest(%s::text[], %s::text[])",
        (list(TITLES), list(TITLES.values())),
    )
    conn.execute(
        "INSERT INTO category_holders (marketplace, category_id, asin, held_from, held_until)"
        " SELECT 'com', %s, asin, now() - make_interval(hours => 7 - n::int),"
        "        CASE WHEN n < 6 THEN now() - make_interval(hours => 6 - n::int) END"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS a(asin, n)",
        (GADGETS, list(TITLES)),
    )
    conn.commit()
    # JSON: exactly what is stored.
    [category] = json.loads(run("report", "--json").stdout)["categories"]
    assert category["name"] == CATEGORY
    assert {s["asin"]: s["title"] for s in category["stretches"]} == TITLES
    # CSV: no cell starts a formula.
    rows = list(csv.DictReader(io.StringIO(run("report", "--categories-csv").stdout)))
    assert {row["title"] for row in rows} >= {"'" + TITLES["B0HOSTILE1"]}
    assert {row["category_name"] for row in rows} == {"'" + CATEGORY}
    for cell in (cell for row in rows for cell in row.values() if cell):
        assert NUMBER.fullmatch(cell) or not cell.startswith(FORMULA_START), cell
    # Markdown: no link, image or tag.
    text = run("report", "--markdown").stdout
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert "Who held #1 in your categories" in rendered
    assert not re.search(r"<(a|img|script|b)[\s>]", rendered), rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert not CONTROLS.search(text)
    # A terminal: no escape sequence, no rich markup.
    shown = run("report").stdout
    assert not CONTROLS.search(shown), repr(shown)
    assert "@SUM(1) <b>[c](javascript:x)</b> |#!" in shown
    assert TITLES["B0HOSTILE4"] in shown  # the holder now, by its title, as text
    # HTML: escaped, no script, links only to Amazon; the timeline still draws.
    page = run("report", "--html", "-").stdout
    section = page.split("Who held #1 in your categories</h2>")[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in section
    assert "<svg" in section and not CONTROLS.search(page)
    tags = page_tags(page)
    assert not tags.tags & {"script", "img", "iframe", "object", "embed", "link", "base", "b"}
    assert all(link.startswith(("https://www.amazon.com", "#chart-")) for link in tags.links)


def test_categories_list_and_suggest_get_no_escape_sequence_and_json_says_what_is_stored(
    hostile: Result, keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    """A watched category with a hostile name whose list a hostile title takes: `categories
    watch`, `list`, `suggest` and the pass that prints the new #1 escape both."""
    keepa.best_seller_lists[("com", GADGETS)] = ["B0HOSTILE1", "B0HOSTILE4"]
    printed = {"categories watch": run("categories", "watch", str(GADGETS)).stdout}
    run("check", "--all")  # the first list: a baseline
    conn.execute("UPDATE watched_categories SET next_check_at = NULL")  # due again
    keepa.best_seller_lists[("com", GADGETS)] = ["B0HOSTILE4", "B0HOSTILE1"]
    printed["check (a new #1 printed)"] = run("check", "--all").stdout
    printed["categories list"] = run("categories", "list", "--wide").stdout
    printed["categories suggest"] = run("categories", "suggest", "--wide").stdout
    for command, text in printed.items():
        assert not CONTROLS.search(text), (command, repr(text))
        assert "@SUM(1) <b>[c](javascript:x)</b> |#!" in text, command  # as text
    assert "B0HOSTILE4" in printed["categories list"]  # the holder, by ASIN
    check = printed["check (a new #1 printed)"]
    assert "New #1 in" in check and TITLES["B0HOSTILE4"] in check  # rich markup as text
    [watch] = json.loads(run("categories", "list", "--json").stdout)
    assert (watch["name"], watch["holder"]) == (CATEGORY, "B0HOSTILE4")
