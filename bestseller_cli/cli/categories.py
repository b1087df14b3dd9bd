"""`bestseller categories …`: watch who holds #1 in whole categories, tracked or not, from
Keepa's best seller list by sub-category rank (`sublist=1`).

Only parsing and printing; the SQL is in `category_store.py`, the plan in
`rules/category_watch.py`."""

from datetime import UTC, datetime
from typing import Annotated

import typer

from bestseller_cli.cli.asins import marketplace_option
from bestseller_cli.cli.common import client_name, console, err_console, examples, print_json
from bestseller_cli.cli.common import settings as load
from bestseller_cli.cli.tables import Cell, Column, Kind, WideOption, build_table
from bestseller_cli.errors import ConfigError
from bestseller_cli.escape import terminal_text
from bestseller_cli.maintenance.category_lists import ask_lists
from bestseller_cli.rules.category_watch import (
    ASSUMED_LIST_COST,
    DEFAULT_EVERY_HOURS,
    MAX_TOP_N,
    MIN_EVERY_HOURS,
    WatchedCategory,
)
from bestseller_cli.store import category_store, client_store, db

categories_app = typer.Typer(
    help="Watch who holds #1 in whole categories (Keepa's best seller lists, 50 tokens each).",
    no_args_is_help=True,
)

CategoryIds = Annotated[list[int], typer.Argument(help="Category ids (browse nodes).", min=1)]
ClientOpt = Annotated[
    str | None, typer.Option(callback=client_name, help="Client whose rules get the alerts.")
]
MarketOpt = Annotated[
    str | None, typer.Option(help="Amazon marketplace: com, co.uk, de, … (KEEPA_DOMAIN).")
]
EveryOpt = Annotated[
    float,
    typer.Option(
        "--every",
        min=MIN_EVERY_HOURS,
        help="Hours between two lists (at least 1: Keepa caches a list for an hour). The"
        " default 4 h is 6 lists, 300 tokens a day per category: a new #1 is seen within"
        " 4 h at the cost of about 12 products checked hourly.",
    ),
]
TopOpt = Annotated[
    int | None,
    typer.Option(
        "--top",
        min=1,
        max=MAX_TOP_N,
        help="Also tell products entering and leaving the top N (≤ 10), one digest per list.",
    ),
]


@categories_app.command(
    "watch",
    epilog=examples(
        "bestseller categories watch 3167641 --client acme --marketplace de",
        "bestseller categories watch 3167641 --every 2 --top 5 --verify",
    ),
)
def categories_watch(
    category_ids: CategoryIds,
    client: ClientOpt = None,
    marketplace: MarketOpt = None,
    every: EveryOpt = DEFAULT_EVERY_HOURS,
    top: TopOpt = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Ask Keepa for each list now (50 tokens each; none for a category without"
            " one): an unknown or empty category is an error, and nothing is watched.",
        ),
    ] = False,
) -> None:
    """Watch categories: each pass that finds one due fetches its list and alerts when its
    #1 changes ("New #1 in …"), within CATEGORY_PLAN_SHARE of the Keepa plan."""
    config = load()
    if verify:
        config.require_keepa_key()
    market = marketplace_option(marketplace) or config.keepa_domain
    ids = list(dict.fromkeys(category_ids))
    with db.open_database(config) as conn:
        # The client is read first (a typo costs no token): in autocommit, that read leaves no
        # transaction open, so the verify calls' log and the watch each commit their own.
        conn.autocommit = True
        owner = client_store.client_id(conn, client)
        if verify:
            lists = ask_lists(config, conn, marketplace=market, category_ids=ids)
            empty = [str(category) for category, listing in lists.items() if not listing.asins]
            if empty:
                raise ConfigError(
                    f"Keepa has no best seller list for category {', '.join(empty)} ({market}):"
                    " unknown, or without sub-category ranks; nothing was watched"
                )
        watched = category_store.watch(
            conn, market, ids, client_id=owner, every_hours=every, top_n=top
        )
    for entry in watched:
        console.print(
            f"[green]watching[/green] {describe(entry)}, every {entry.every_hours:g} h"
            f" (~{entry.tokens_per_day():,.0f} tokens/day)",
            highlight=False,
        )


@categories_app.command("unwatch", epilog=examples("bestseller categories unwatch 3167641"))
def categories_unwatch(category_ids: CategoryIds, marketplace: MarketOpt = None) -> None:
    """Stop watching categories; who held their #1 stays in the history."""
    config = load()
    market = marketplace_option(marketplace) or config.keepa_domain
    with db.open_database(config) as conn:
        removed = category_store.unwatch(conn, market, category_ids)
    for category in removed:
        console.print(f"[yellow]unwatched[/yellow] {category} ({market})", highlight=False)
    missing = sorted(set(category_ids) - set(removed))
    if missing:
        err_console.print(f"not watched: {', '.join(map(str, missing))} ({market})")
        raise typer.Exit(1)


LIST_COLUMNS = [
    Column("Category", Kind.ID),
    Column("Name", Kind.TEXT, max_lines=2),
    Column("Client", Kind.ID, priority=2),
    Column("Every", Kind.NUMBER),
    Column("Top", Kind.NUMBER, priority=3),
    Column("#1 now", Kind.ID),
    Column("List of", Kind.DATE, priority=2),
    Column("Next", Kind.DATE, priority=3),
]


@categories_app.command("list", epilog=examples("bestseller categories list --json"))
def categories_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: WideOption = False,
) -> None:
    """The watched categories: their client, interval, #1 as of the last list, next check."""
    config = load()
    with db.open_database(config) as conn:
        watched = category_store.watched_categories(conn)
    if as_json:
        print_json([record(entry) for entry in watched])
        return
    if not watched:
        console.print("No categories watched. Find some with `bestseller categories suggest`.")
        return
    cells: list[list[Cell]] = [
        [
            f"{entry.category_id} ({entry.marketplace})",
            entry.name,
            entry.client,
            f"{entry.every_hours:g} h",
            str(entry.top_n) if entry.top_n else None,
            entry.holder,
            entry.list_updated_at,
            entry.next_check_at,
        ]
        for entry in watched
    ]
    width = None if wide else console.width
    table = build_table(
        f"Watched categories ({len(watched)})", LIST_COLUMNS, cells, width=width,
        now=datetime.now(UTC),
    )  # fmt: skip
    console.print(table, crop=False)


def record(entry: WatchedCategory) -> dict[str, object]:
    return {
        "marketplace": entry.marketplace,
        "category_id": entry.category_id,
        "name": entry.name,
        "client": entry.client,
        "every_hours": entry.every_hours,
        "top_n": entry.top_n,
        "holder": entry.holder,
        "top_asins": list(entry.top_asins),
        "list_updated_at": entry.list_updated_at,
        "last_checked_at": entry.last_checked_at,
        "next_check_at": entry.next_check_at,
        "empty_answers": entry.empty_answers,
        "tokens_per_list": entry.tokens_per_list,
        "tokens_per_day": round(entry.tokens_per_day()),
    }


SUGGEST_COLUMNS = [
    Column("Category", Kind.ID),
    Column("Name", Kind.TEXT, max_lines=2),
    Column("Products", Kind.NUMBER),
    Column("Best rank", Kind.NUMBER),
    Column("Tokens/day", Kind.NUMBER, priority=2),
    Column("Watched", Kind.ID, priority=2),
]


@categories_app.command(
    "suggest", epilog=examples("bestseller categories suggest --client acme --every 6")
)
def categories_suggest(
    client: ClientOpt = None,
    every: EveryOpt = DEFAULT_EVERY_HOURS,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: WideOption = False,
) -> None:
    """The categories the client's tracked products rank in (a product in the top 10
    first), with what watching each costs a day at --every, from what passes have stored."""
    config = load()
    with db.open_database(config) as conn:
        found = category_store.suggestions(conn, client_id=client_store.client_id(conn, client))
    per_day = round(24 / every * ASSUMED_LIST_COST)
    if as_json:
        print_json([{**vars(s), "tokens_per_day": per_day} for s in found])
        return
    if not found:
        console.print("No ranks stored yet for these products: run `bestseller check` first.")
        return
    cells: list[list[Cell]] = [
        [
            f"{s.category_id} ({s.marketplace})",
            s.name,
            str(s.products),
            f"#{s.best_rank:,}" if s.best_rank else None,
            f"{per_day:,}",
            "yes" if s.watched else "",
        ]
        for s in found
    ]
    width = None if wide else console.width
    title = f"Categories of {terminal_text(client) if client else 'products without a client'}"
    table = build_table(title, SUGGEST_COLUMNS, cells, width=width, now=datetime.now(UTC))
    console.print(table, crop=False)


def describe(entry: WatchedCategory) -> str:
    name = f" {terminal_text(entry.name)}" if entry.name else ""
    client = f", client {terminal_text(entry.client)}" if entry.client else ""
    top = f", top {entry.top_n}" if entry.top_n else ""
    return f"{entry.category_id}{name} ({entry.marketplace}{client}{top})"
