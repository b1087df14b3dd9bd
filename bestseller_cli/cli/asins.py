"""`bestseller asins …`: add, remove and list the ASINs being watched."""

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bestseller_cli.cli.asin_file import asins_in_file
from bestseller_cli.cli.common import (
    client_name,
    console,
    examples,
    print_json,
    settings,
    single_format,
    write_csv,
)
from bestseller_cli.cli.tables import Cell, Column, Kind, WideOption, build_table
from bestseller_cli.config import normalize_marketplace
from bestseller_cli.errors import ConfigError
from bestseller_cli.escape import terminal_text
from bestseller_cli.maintenance import product_notes
from bestseller_cli.models import INVALID, PRODUCT_TYPES, VARIATION_PARENT, parse_asin
from bestseller_cli.rules.likelihood import Chance
from bestseller_cli.store import asin_store, db

log = logging.getLogger(__name__)
asins_app = typer.Typer(help="Add, remove and list the ASINs being watched.", no_args_is_help=True)


def marketplace_option(value: str | None) -> str | None:
    try:
        return normalize_marketplace(value) if value else None
    except ValueError as exc:
        raise ConfigError(f"--marketplace: {exc}") from None


def read_asin_arguments(asins: list[str], file: Path | None) -> list[str]:
    texts = list(asins)
    if file is not None:
        try:
            content = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
            texts += asins_in_file(content)
        except UnicodeDecodeError:
            raise ConfigError(f"--file {file} is not a UTF-8 text file") from None
        except ValueError as exc:
            raise ConfigError(f"--file {file} {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read --file {file}: {exc.strerror or exc}") from None
    if not texts:
        raise ConfigError("give at least one ASIN, or --file PATH (- for standard input)")
    return texts


@asins_app.command(
    "add",
    epilog=examples(
        "bestseller asins add B0C1234567 B0C7654321 --client acme",
        "bestseller asins add --file competitors.txt --client acme --competitor",
    ),
)
def asins_add(
    asins: Annotated[list[str] | None, typer.Argument(help="ASINs to watch.")] = None,
    client: Annotated[
        str | None, typer.Option(callback=client_name, help="Client the ASINs belong to.")
    ] = None,
    marketplace: Annotated[
        str | None, typer.Option(help="Amazon marketplace: com, co.uk, de, … (KEEPA_DOMAIN).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read ASINs from a file, - for stdin.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Add the valid ASINs even when some are invalid.")
    ] = False,
    competitor: Annotated[
        bool | None,
        typer.Option(
            "--competitor/--own",
            help="A competitor's products (named when they take #1), or the client's own.",
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Ask Keepa what each ASIN is (1 token each): variation parents and invalid"
            " ASINs are named, with the children to track instead.",
        ),
    ] = False,
) -> None:
    """Start watching ASINs. Nothing is added when any ASIN is invalid (unless --skip-invalid)."""
    config = settings()
    if verify:
        config.require_keepa_key()
    market = marketplace_option(marketplace) or config.keepa_domain
    valid: list[str] = []
    invalid: list[str] = []
    for text in read_asin_arguments(asins or [], file):
        try:
            valid.append(parse_asin(text))
        except ValueError as exc:
            invalid.append(str(exc))
    if invalid and not skip_invalid:
        shown = "; ".join(invalid[:5]) + (f"; and {len(invalid) - 5} more" if invalid[5:] else "")
        raise ConfigError(f"{shown}. Nothing was added (--skip-invalid adds the valid ones)")
    for problem in invalid:
        log.warning(problem, extra={"event": "invalid_asin"})
    if valid:
        with db.open_database(config) as conn:
            role = None if competitor is None else ("competitor" if competitor else "own")
            added, already = asin_store.add_tracked(
                conn, asins=valid, marketplace=market, client=client, role=role
            )
            notes = product_notes.notes_for(
                config, conn, asins=valid, marketplace=market, verify=verify
            )
        as_role = f", {role}" if role else ""
        for asin in added:
            console.print(f"[green]added[/green] {asin} ({market}{as_role})", highlight=False)
        for asin in already:
            console.print(f"already tracked {asin} ({market}{as_role})", highlight=False)
        for note in notes:
            log.warning(note, extra={"event": "asin_note"})
    if invalid:
        raise typer.Exit(1)


@asins_app.command(
    "remove",
    epilog=examples(
        "bestseller asins remove B0C1234567", "bestseller asins remove B0C1234567 --purge --yes"
    ),
)
def asins_remove(
    asins: Annotated[list[str], typer.Argument(help="ASINs to stop watching.")],
    client: Annotated[
        str | None, typer.Option(callback=client_name, help="Only this client's entries.")
    ] = None,
    marketplace: Annotated[str | None, typer.Option(help="Only this marketplace.")] = None,
    purge: Annotated[
        bool, typer.Option(help="Also delete their history (asks first; --yes skips).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop watching ASINs; their history is kept unless --purge."""
    config = settings()
    try:
        parsed = [parse_asin(text) for text in asins]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    market = marketplace_option(marketplace)
    if purge and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("--purge deletes history: confirm with --yes when not interactive")
        typer.confirm(f"Delete all history of {', '.join(parsed)}?", abort=True)
    with db.open_database(config) as conn:
        result = asin_store.remove_tracked(
            conn, asins=parsed, client=client, marketplace=market, purge=purge
        )
    for asin, market_of, owner in result.removed:
        where = f"client {terminal_text(owner)}" if owner else "no client"
        console.print(f"[yellow]removed[/yellow] {asin} ({market_of}, {where})", highlight=False)
    removed = {entry[0] for entry in result.removed}
    for asin in dict.fromkeys(parsed):
        if asin not in removed:
            console.print(f"not tracked {asin}", highlight=False)
    if result.purged:
        console.print(f"[red]deleted history[/red] of {', '.join(result.purged)}", highlight=False)
    if result.kept_history:
        console.print(
            f"kept history of {', '.join(result.kept_history)} (still tracked by another client)",
            highlight=False,
        )
    if len(removed) < len(set(parsed)):
        raise typer.Exit(1)


@asins_app.command(
    "list", epilog=examples("bestseller asins list --client acme", "bestseller asins list --csv")
)
def asins_list(
    client: Annotated[
        str | None, typer.Option(callback=client_name, help="Only this client's ASINs.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed ASINs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    wide: WideOption = False,
) -> None:
    """List watched ASINs with their badge status now."""
    single_format(json=as_json, csv=as_csv)
    config = settings()
    with db.open_database(config) as conn:
        rows = asin_store.list_tracked(conn, client=client, include_removed=all_)
    records = [
        {
            "asin": row.asin,
            "marketplace": row.marketplace,
            "client": row.client,
            "role": row.role,
            "active": row.active,
            "title": row.title,
            "badges": row.badge_names,
            "badge_since": row.badge_since,
            "main_rank": row.main_rank,
            "last_checked_at": row.last_checked_at,
            "next_check_at": row.next_check_at,
            "check_reason": row.check_reason or ("first check" if row.active else None),
            "added_at": row.added_at,
            "held_alerts": row.held_alerts,
            **keepa_record(row),
        }
        for row in rows
    ]
    if as_json:
        print_json(records)
        return
    if as_csv:
        write_csv(
            [{name: record[name] for name in TRACKED_CSV_FIELDS} for record in records],
            fieldnames=TRACKED_CSV_FIELDS,
        )
        return
    if not rows:
        console.print("No ASINs tracked yet. Add one with `bestseller asins add B0XXXXXXXX`.")
        return
    now = datetime.now(UTC)
    held = any(row.held_alerts for row in rows)
    columns = [*TRACKED_COLUMNS, *([HELD_COLUMN] if held else [])]
    cells = [
        [*tracked_cells(row, now=now), *([str(row.held_alerts or "-")] if held else [])]
        for row in rows
    ]
    title = f"Tracked ASINs ({len(rows)})"
    console.print(
        build_table(title, columns, cells, width=None if wide else console.width, now=now),
        crop=False,
    )


TRACKED_COLUMNS = [
    Column("ASIN", Kind.ID),
    Column("Market", Kind.ID, priority=5),
    Column("Client", Kind.ID, priority=4),
    Column("Role", Kind.ID, priority=3),
    Column("Title", Kind.TEXT, priority=2, max_lines=2),
    Column("#1 Best Seller in", Kind.TEXT, style="bold green"),
    Column("#1 since", Kind.DATE, priority=3),
    Column("Main rank", Kind.NUMBER),
    Column("Last checked", Kind.DATE, priority=2),
    Column("Keepa's data", Kind.DATE, priority=4),
    Column("Next check", Kind.DATE, priority=2),
    Column("Why", Kind.TEXT, priority=4),
]
HELD_COLUMN = Column("Held alerts", Kind.NUMBER, priority=2)


def tracked_cells(row: asin_store.TrackedRow, *, now: datetime) -> list[Cell]:
    """One row of `asins list`, in the order of TRACKED_COLUMNS."""
    return [
        row.asin,
        row.marketplace,
        row.client,
        row.role + ("" if row.active else ", removed"),
        kind_label(row) + (row.title or "-"),
        ", ".join(row.badge_names) or None,
        row.badge_since,
        f"#{row.main_rank:,}" if row.main_rank else None,
        row.last_checked_at or "never",
        row.keepa_updated_at,
        next_check(row, now=now),
        (row.check_reason or "first check") if row.active else None,
    ]


def next_check(row: asin_store.TrackedRow, *, now: datetime) -> Cell:
    """When the schedule checks it next: a time, `due`, `next run` (never checked) or `-`."""
    if not row.active:
        return None
    if row.next_check_at is None:
        return "next run"
    return "due" if row.next_check_at <= now else row.next_check_at


def kind_label(row: asin_store.TrackedRow) -> str:
    """`(variation parent) ` or `(invalid) ` before the title of a product without ranks."""
    if row.available is False and row.product_type in (INVALID, VARIATION_PARENT):
        return f"({PRODUCT_TYPES[row.product_type]}) "
    return ""


def keepa_record(row: asin_store.TrackedRow) -> dict[str, object]:
    """What Keepa last said of the product: its kind, ranks, image and how fresh that is."""
    age = None
    if row.keepa_updated_at and row.last_checked_at:
        age = round((row.last_checked_at - row.keepa_updated_at).total_seconds() / 3600, 2)
    return {
        "available": row.available,
        "product_type": row.product_type,
        "product_kind": PRODUCT_TYPES.get(row.product_type)
        if row.product_type is not None
        else None,
        "variation_asins": row.variation_asins,
        "image_url": row.image_url,
        "main_category_id": row.main_category_id,
        "category_ranks": row.category_ranks,
        "keepa_updated_at": row.keepa_updated_at,
        "ranks_changed_at": row.ranks_changed_at,
        "data_age_hours": age,
        "chance": chance_record(row),
    }


def chance_record(row: asin_store.TrackedRow) -> dict[str, object] | None:
    """The estimate the schedule spent tokens by: expected #1 crossings per hour, the
    probability of one within the hour, and why (None: not checked since estimates began)."""
    if row.chance_per_hour is None:
        return None
    chance = Chance(
        per_hour=row.chance_per_hour, lately=row.crossing_rate or 0.0, why=row.chance_reason or ""
    )
    return {
        "per_hour": round(chance.per_hour, 6),
        "next_hour": round(chance.next_hour, 4),
        "why": chance.why,
    }


TRACKED_CSV_FIELDS = [
    "asin",
    "marketplace",
    "client",
    "role",
    "active",
    "title",
    "badges",
    "badge_since",
    "main_rank",
    "last_checked_at",
    "next_check_at",
    "check_reason",
    "added_at",
    "held_alerts",
    "available",
    "product_kind",
    "image_url",
    "keepa_updated_at",
    "ranks_changed_at",
    "data_age_hours",
]
