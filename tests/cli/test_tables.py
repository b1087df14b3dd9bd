"""Tables read at 80 columns and at 120 (cli/tables.py): an identifier, a number or a date is
never cut or wrapped, no line passes the width, no row is taller than 3 lines, a title takes
at most 2 lines, and the columns hidden to fit are named under the table; `--wide` shows every
column on one line per row. Every command's table is drawn from the demo's day, with a
competitor's hostile title, a 7-digit rank and a long category name written over it."""

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from bestseller_cli.cli.alerts import ALERT_COLUMNS
from bestseller_cli.cli.app import app
from bestseller_cli.cli.asins import HELD_COLUMN, TRACKED_COLUMNS
from bestseller_cli.cli.clients import CLIENT_COLUMNS
from bestseller_cli.cli.report_view import (
    ASIN_COLUMNS,
    CATEGORY_COLUMNS,
    CHANGE_COLUMNS,
    CONDITION_COLUMNS,
    HOLDER_COLUMNS,
    rich_report,
)
from bestseller_cli.cli.tables import Column, Kind, build_table, compact_time
from bestseller_cli.demo.run import demo_settings, run_demo
from bestseller_cli.demo.scenario import NEWCOMER, PRODUCTS
from bestseller_cli.kinds import count
from bestseller_cli.shapes.report_models import (
    AlertCounts,
    Changes,
    KeepaUsage,
    Period,
    Report,
)
from tests.conftest import TEMPLATE, in_our_schema

runner = CliRunner()
Show = Callable[..., str]  # (command, width, *more options) -> what it printed
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ASINS = [product.asin for product in PRODUCTS]
HOSTILE_ASIN = "B0DEMOAC01"
HOSTILE_TITLE = (
    "[bold]Acme[/bold] Garlic Press, Stainless Steel, Heavy-Duty Professional Mincer with"
    " Ergonomic Handle & Cleaning Brush, Dishwasher Safe, Rust-Proof (2-Pack) #1 BEST SELLER"
)
SEVEN_DIGIT_RANK = 1_234_567
LONG_CATEGORY = "Kitchen Utensils & Gadgets: Tongs, Ladles and Serving Spoons"
COLUMNS = {
    "Tracked ASINs": [*TRACKED_COLUMNS, HELD_COLUMN],
    "Alerts": ALERT_COLUMNS,
    "Clients": CLIENT_COLUMNS,
    "Badge changes": CHANGE_COLUMNS,
    "#1 Best Sellers now": HOLDER_COLUMNS,
    "Per ASIN": ASIN_COLUMNS,
    "Operations conditions": CONDITION_COLUMNS,
    "Who held #1 in your categories": CATEGORY_COLUMNS,
}
COMMANDS = {
    "asins list": ["Tracked ASINs"],
    "alerts list": ["Alerts"],
    "clients list": ["Clients"],
    "report --since 2d": [
        "Badge changes",
        "#1 Best Sellers now",
        "Per ASIN",
        "Who held #1 in your categories",
    ],
}


@dataclass
class Drawn:
    """One table as printed: its title, column names, rows (each a list of lines, each a
    list of cells) and the footer line under it."""

    title: str
    headers: list[str]
    rows: list[list[list[str]]]
    footer: str

    def columns(self) -> list[Column]:
        known = {column.name: column for column in COLUMNS[self.title]}
        return [known[name] for name in self.headers]

    def hidden(self) -> list[str]:
        footer = " ".join(self.footer.split())  # a long footer wraps: read it as one line
        match = re.fullmatch(r"(\d+) columns? hidden: (.*) \(--wide\)", footer)
        if match is None:
            return []
        names = [name for name in COLUMNS[self.title] if name.name in match[2].split(", ")]
        assert len(names) == int(match[1]), self.footer
        return [column.name for column in names]


def cells(line: str, rule: str) -> list[str]:
    return [cell.strip() for cell in line.split(rule)[1:-1]]


def drawn_tables(text: str) -> list[Drawn]:
    """The tables in a command's output, read back from their box drawing."""
    lines = text.splitlines()
    found = []
    for top, line in enumerate(lines):
        if not line.startswith("┏"):
            continue
        title = re.sub(r" \(.*\)$", "", lines[top - 1].strip())
        below = next(i for i in range(top, len(lines)) if lines[i].startswith("┡"))
        bottom = next(i for i in range(below, len(lines)) if lines[i].startswith("└"))
        header_lines = [cells(line, "┃") for line in lines[top + 1 : below]]
        headers = [" ".join(filter(None, parts)) for parts in zip(*header_lines, strict=True)]
        rows: list[list[list[str]]] = []
        for body in lines[below + 1 : bottom]:
            row = cells(body, "│")
            if row[0] or not rows:
                rows.append([])
            rows[-1].append(row)
        footer = " ".join(lines[bottom + 1 : bottom + 3]) if bottom + 1 < len(lines) else ""
        footer = footer.split(" (--wide)")[0] + " (--wide)" if "hidden:" in footer else ""
        found.append(Drawn(title, headers, rows, footer))
    return found


def assert_reads_at(text: str, width: int, titles: Sequence[str]) -> list[Drawn]:
    """The rules of a table at `width`: see the module's docstring."""
    assert [line for line in text.splitlines() if cell_len(line) > width] == []
    tables = drawn_tables(text)
    assert [table.title for table in tables] == list(titles)
    for table in tables:
        columns = table.columns()
        assert {c.name for c in columns} | set(table.hidden()) >= {
            c.name for c in COLUMNS[table.title] if c is not HELD_COLUMN
        }, "a column is neither shown nor named as hidden"
        hidden = [c for c in COLUMNS[table.title] if c.name in table.hidden()]
        assert all(c.priority > 1 for c in hidden), "a column of priority 1 is never hidden"
        for row in table.rows:
            assert len(row) <= 3, (table.title, row)
            for index, column in enumerate(columns):
                lines = [line[index] for line in row if line[index]]
                if column.kind is not Kind.TEXT:
                    assert len(lines) <= 1 and "…" not in "".join(lines), (column.name, row)
                elif column.max_lines:
                    assert len(lines) <= column.max_lines, (column.name, row)
                else:
                    assert "…" not in "".join(lines), (column.name, row)
    return tables


def whole_cells(tables: list[Drawn], name: str) -> set[str]:
    """Every cell of a column (of one line, as identifiers, numbers and dates are)."""
    found = set()
    for table in tables:
        if name in table.headers:
            index = table.headers.index(name)
            found |= {row[0][index] for row in table.rows}
    return found


@pytest.fixture(scope="module")
def demo_url(
    postgres_server_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database holding the demo's day, then a hostile title, a 7-digit rank and a long
    category name written over some of it."""
    name = f"bestseller_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = in_our_schema(make_conninfo(postgres_server_url, dbname=name))
    home = tmp_path_factory.mktemp("demo") / "home"
    settings = demo_settings(home).model_copy(update={"database_url": url})
    run_demo(settings, on_pass=lambda _: None)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE asin_current_state SET title = %s, main_rank = %s WHERE asin = %s",
            (HOSTILE_TITLE, SEVEN_DIGIT_RANK, HOSTILE_ASIN),
        )
        conn.execute(
            "UPDATE bestseller_changes SET category_name = %s WHERE category_name = 'Tongs'",
            (LONG_CATEGORY,),
        )
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def show(env: dict[str, str], demo_url: str, monkeypatch: pytest.MonkeyPatch):
    """Run a command on the demo's database in a terminal of a given width."""
    monkeypatch.setenv("DATABASE_URL", demo_url)

    def run(command: str, width: int, *more: str) -> str:
        result = runner.invoke(app, [*command.split(), *more], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        return result.stdout

    return run


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_table_reads_at_the_width_of_the_terminal(show, command: str, width: int) -> None:
    tables = assert_reads_at(show(command, width), width, COMMANDS[command])
    if command in ("asins list", "report --since 2d"):
        # the report also names the watched category's untracked holder (the demo's newcomer)
        shown = {*ASINS, NEWCOMER.asin} if command.startswith("report") else set(ASINS)
        assert shown == whole_cells(tables, "ASIN")


def test_asins_list_at_80_shows_whole_ranks_and_times_and_cuts_only_the_title(show) -> None:
    text = show("asins list", 80)
    (table,) = assert_reads_at(text, 80, ["Tracked ASINs"])
    assert f"#{SEVEN_DIGIT_RANK:,}" in whole_cells([table], "Main rank")
    times = whole_cells([table], "Last checked")
    assert times and all(re.fullmatch(r"\d+ (min|h|d) ago", time) for time in times)
    (hostile,) = [row for row in table.rows if row[0][0] == HOSTILE_ASIN]
    lines = [line[table.headers.index("Title")] for line in hostile]
    assert len(lines) == 2 and "".join(lines).startswith("[bold]Acme[/bold]")  # never markup
    assert lines[1].endswith("…") and not lines[1].endswith(" …")
    assert "Market" in table.hidden()


def test_wide_shows_every_column_whole_titles_and_full_times(show) -> None:
    text = show("asins list", 80, "--wide")
    (table,) = drawn_tables(text)
    assert table.headers == [column.name for column in TRACKED_COLUMNS]
    assert table.footer == "" and all(len(row) == 1 for row in table.rows)
    assert HOSTILE_TITLE in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)


def test_the_report_names_the_hidden_kind_counts_and_shows_the_long_category_whole(show) -> None:
    tables = assert_reads_at(show("report --since 2d", 80), 80, COMMANDS["report --since 2d"])
    (per_asin,) = [table for table in tables if table.title == "Per ASIN"]
    assert {"Gained", "Lost"} <= set(per_asin.hidden())
    changes = tables[0]
    category = changes.headers.index("Category")
    shown = {" ".join(line[category] for line in row if line[category]) for row in changes.rows}
    assert LONG_CATEGORY in shown


def render(renderable: object, width: int) -> str:
    console = Console(file=StringIO(), width=width, record=True)
    console.print(renderable, crop=False)
    return console.export_text()


def test_a_title_is_cut_at_its_second_line_with_an_ellipsis() -> None:
    columns = [Column("ASIN", Kind.ID), Column("Title", Kind.TEXT, max_lines=2)]
    rows = [[f"B0DEMOAC0{n}", HOSTILE_TITLE] for n in range(1, 6)]
    text = render(build_table("Titles", columns, rows, width=40, now=NOW), 40)
    body = [line for line in text.splitlines() if line.startswith("│")]
    assert len(body) == 10 and all(line.endswith("… │") for line in body[1::2])
    assert "[bold]Acme[/bold]" in text  # hostile markup printed as text, never applied


def test_columns_that_do_not_fit_are_hidden_lowest_priority_first_and_named() -> None:
    columns = [
        Column("ASIN", Kind.ID),
        Column("Rank", Kind.NUMBER, priority=2),
        Column("Seen", Kind.DATE, priority=3),
        Column("Market", Kind.ID, priority=3),
    ]
    rows = [["B0DEMOAC01", f"#{SEVEN_DIGIT_RANK:,}", NOW - timedelta(hours=3), "co.uk"]]
    narrow = render(build_table("T", columns, rows, width=40, now=NOW), 40)
    assert "B0DEMOAC01" in narrow and "#1,234,567" in narrow and "3 h ago" in narrow
    assert narrow.splitlines()[-1] == "1 column hidden: Market (--wide)"
    narrower = render(build_table("T", columns, rows, width=30, now=NOW), 30)
    assert " ".join(narrower.splitlines()[-2:]) == "2 columns hidden: Seen, Market (--wide)"
    wide = render(build_table("T", columns, rows, width=None, now=NOW), 30)
    assert "2026-11-23 06:00" in wide and "co.uk" in wide and "hidden" not in wide


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=14), "in 14 min"),
        (-timedelta(hours=3), "3 h ago"),
        (-timedelta(days=3, hours=1), "3 d ago"),
        (timedelta(seconds=20), "now"),
    ],
)
def test_times_in_tables_are_compact(delta: timedelta, text: str) -> None:
    assert compact_time(NOW + delta, NOW) == text


def test_an_empty_period_says_there_is_nothing_in_it() -> None:
    report = Report(
        generated_at=NOW,
        client="acme",
        period=Period(since=NOW - timedelta(days=7), until=NOW, days=7.0),
        changes=Changes(counts=count(()), events=[]),
        holders=[],
        asins=[],
        keepa=KeepaUsage(),
        alerts=AlertCounts(),
        errors=[],
    )
    text = render(rich_report(report, width=80), 80)
    assert "No checks, changes or badge holders in this period." in text
