"""`bestseller clients …`: who gets alerts, where and how.

Only parsing and printing; the SQL is in `client_store.py`, the validation in `notify_config.py`.
"""

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from bestseller_cli.addresses import https_url
from bestseller_cli.cli.common import client_name, console, examples, print_json, settings
from bestseller_cli.cli.tables import Cell, Column, Kind, WideOption, build_table
from bestseller_cli.errors import ConfigError
from bestseller_cli.escape import terminal_text
from bestseller_cli.kinds import PRODUCT_KINDS
from bestseller_cli.redact import shown_url
from bestseller_cli.rules.notify_config import check_channel, parse_quiet
from bestseller_cli.rules.routing import DELIVERY_MODES, Rule
from bestseller_cli.store import client_store, db

clients_app = typer.Typer(
    help="Clients and their notification rules (channel, alerts, delivery).",
    no_args_is_help=True,
)

ChannelOpt = Annotated[
    str | None,
    typer.Option("--channel", help="Slack channel id or #name; omitted: the default channel."),
]
GainedOpt = Annotated[
    bool | None, typer.Option("--gained/--no-gained", help="Alert when a badge is gained.")
]
LostOpt = Annotated[
    bool | None, typer.Option("--lost/--no-lost", help="Alert when a badge is lost.")
]
MaxRankOpt = Annotated[
    int | None,
    typer.Option(
        "--max-main-rank", min=0, help="Only alert when the main rank is ≤ N (0: no limit)."
    ),
]
IgnoreOpt = Annotated[
    list[int] | None,
    typer.Option("--ignore-category", help="Category id to ignore (repeatable).", min=1),
]
UnignoreOpt = Annotated[
    list[int] | None,
    typer.Option("--unignore-category", help="Stop ignoring a category id (repeatable).", min=1),
]
# The choices come from the rule model, so help and shell completion list them.
DeliveryChoice = StrEnum("DeliveryChoice", {mode: mode for mode in DELIVERY_MODES})
ModeOpt = Annotated[
    DeliveryChoice | None,
    typer.Option("--mode", case_sensitive=False, help="Delivery: each alert at once, or digests."),
]
DailyHourOpt = Annotated[
    int | None,
    typer.Option("--daily-hour", help="Hour (0-23, rule's timezone) for --mode daily."),
]
QuietOpt = Annotated[
    str | None, typer.Option("--quiet", help="Quiet hours HH:MM-HH:MM, e.g. 22:00-07:00.")
]
NoQuietOpt = Annotated[bool, typer.Option("--no-quiet", help="Remove the quiet hours.")]
TimezoneOpt = Annotated[
    str | None, typer.Option("--timezone", help="IANA timezone, e.g. Europe/Berlin.")
]
TopOpt = Annotated[
    int | None,
    typer.Option(
        "--top",
        help="Also alert when a product enters or leaves ranks 2..N of a category"
        " (closing in on #1; 2-100, 0: off).",
    ),
]
TopMainOpt = Annotated[
    bool | None,
    typer.Option("--top-main/--no-top-main", help="--top alerts in the main category too."),
]
WebhookOpt = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        help="Also send this rule's alerts to a webhook, signed with WEBHOOK_SECRET (https;"
        " without --channel: instead of the default channel).",
    ),
]
NoWebhookOpt = Annotated[bool, typer.Option("--no-webhook", help="Remove the rule's webhook.")]
RenotifyOpt = Annotated[
    int | None,
    typer.Option("--renotify-window", help="Minutes before the same alert may repeat."),
]


def confirm_or_yes(question: str, *, yes: bool, option_hint: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{option_hint}: confirm with --yes when not interactive")
    typer.confirm(question, abort=True)


def channel_label(channel: str | None) -> str:
    return channel if channel else "(default channel)"


def rule_changes(
    *,
    gained: bool | None = None,
    lost: bool | None = None,
    max_main_rank: int | None = None,
    ignore: list[int] | None = None,
    unignore: list[int] | None = None,
    mode: DeliveryChoice | None = None,
    daily_hour: int | None = None,
    quiet: str | None = None,
    no_quiet: bool = False,
    timezone: str | None = None,
    renotify_window: int | None = None,
    top: int | None = None,
    top_main: bool | None = None,
    webhook: str | None = None,
    no_webhook: bool = False,
) -> dict[str, Any]:
    """Rule options as changes for `client_store.update_rule` (None: keep)."""
    if quiet is not None and no_quiet:
        raise ConfigError("give --quiet HH:MM-HH:MM or --no-quiet, not both")
    if webhook is not None and no_webhook:
        raise ConfigError("give --webhook URL or --no-webhook, not both")
    changes: dict[str, Any] = {
        "notify_gained": gained,
        "notify_lost": lost,
        "max_main_rank": max_main_rank,
        "delivery_mode": mode.value if mode else None,
        "daily_hour": daily_hour,
        "quiet": () if no_quiet else (parse_quiet(quiet) if quiet is not None else None),
        "timezone": timezone.strip() if timezone else None,
        "renotify_window_minutes": renotify_window,
        "top_n": top,
        "top_n_main": top_main,
        "ignore": tuple(ignore or ()),
        "unignore": tuple(unignore or ()),
        "webhook_url": "" if no_webhook else checked_webhook(webhook),
    }
    return changes


def checked_webhook(url: str | None) -> str | None:
    """https only (http to a loopback address, for tests): the rule for every URL a secret
    goes to (addresses.https_url)."""
    if url is None:
        return None
    try:
        return https_url(url, example="https://hooks.zapier.com/hooks/catch/…")
    except ValueError as exc:
        raise ConfigError(f"--webhook: {exc}") from None


def describe_rule(rule: Rule) -> str:
    kinds = PRODUCT_KINDS.values()  # a watched category's alerts: the watch asks for them
    alerts = "+".join(kind.bucket for kind in kinds if getattr(rule, kind.rule_flag))
    parts = [f"alerts: {alerts or 'none'}", f"delivery: {rule.delivery_mode}"]
    if rule.delivery_mode == "daily":
        parts[-1] += f" at {rule.daily_hour:02d}:00"
    if rule.top_n:
        parts.append(f"top {rule.top_n}{' incl. main category' if rule.top_n_main else ''}")
    if rule.max_main_rank:
        parts.append(f"main rank ≤ {rule.max_main_rank:,}")
    if rule.ignored_category_ids:
        parts.append("ignoring " + ", ".join(map(str, rule.ignored_category_ids)))
    if rule.quiet:
        parts.append(f"quiet {rule.quiet}")
    parts.append(f"{rule.timezone}, renotify after {rule.renotify_window_minutes} min")
    if rule.webhook_url:
        parts.append(f"webhook {shown_url(rule.webhook_url)}")
    return "; ".join(parts)


def print_rule(name: str, rule: Rule, *, created: bool) -> None:
    verb = "created" if created else "updated"
    console.print(
        f"[green]{verb}[/green] rule for {terminal_text(name)} → {channel_label(rule.channel)}:"
        f" {describe_rule(rule)}",
        highlight=False,
    )


@clients_app.command("add", epilog=examples("bestseller clients add acme --channel C0123ABCD"))
def clients_add(
    name: Annotated[str, typer.Argument(callback=client_name, help="Client name.")],
    channel: ChannelOpt = None,
    gained: GainedOpt = None,
    lost: LostOpt = None,
    max_main_rank: MaxRankOpt = None,
    ignore_category: IgnoreOpt = None,
    mode: ModeOpt = None,
    daily_hour: DailyHourOpt = None,
    quiet: QuietOpt = None,
    timezone: TimezoneOpt = None,
    renotify_window: RenotifyOpt = None,
    top: TopOpt = None,
    top_main: TopMainOpt = None,
) -> None:
    """Add a client; with --channel or any rule option, also its rule for that channel."""
    config = settings()
    options = {
        "gained": gained,
        "lost": lost,
        "max_main_rank": max_main_rank,
        "ignore": ignore_category,
        "mode": mode,
        "daily_hour": daily_hour,
        "quiet": quiet,
        "timezone": timezone,
        "renotify_window": renotify_window,
        "top": top,
        "top_main": top_main,
    }
    wants_rule = channel is not None or any(value is not None for value in options.values())
    target = check_channel(channel) if channel is not None else None
    changes = rule_changes(**options) if wants_rule else None
    with db.open_database(config) as conn:
        created, rule = client_store.add_client(
            conn, name=name, channel=target, rule_changes=changes
        )
    shown = terminal_text(name)
    console.print(
        f"[green]added client[/green] {shown}" if created else f"client {shown} already exists",
        highlight=False,
    )
    if rule is not None:
        print_rule(name, rule[0], created=rule[1])


@clients_app.command(
    "rule",
    epilog=examples(
        "bestseller clients rule acme --channel C0123ABCD --mode daily --daily-hour 9",
        "bestseller clients rule acme --quiet 22:00-07:00 --timezone America/New_York",
    ),
)
def clients_rule(
    name: Annotated[str, typer.Argument(callback=client_name, help="Client name.")],
    channel: ChannelOpt = None,
    gained: GainedOpt = None,
    lost: LostOpt = None,
    max_main_rank: MaxRankOpt = None,
    ignore_category: IgnoreOpt = None,
    unignore_category: UnignoreOpt = None,
    mode: ModeOpt = None,
    daily_hour: DailyHourOpt = None,
    quiet: QuietOpt = None,
    no_quiet: NoQuietOpt = False,
    timezone: TimezoneOpt = None,
    renotify_window: RenotifyOpt = None,
    top: TopOpt = None,
    top_main: TopMainOpt = None,
    webhook: WebhookOpt = None,
    no_webhook: NoWebhookOpt = False,
    remove: Annotated[bool, typer.Option("--remove", help="Delete this rule.")] = False,
) -> None:
    """Create or change a client's rule for a channel; options not given keep their value."""
    config = settings()
    named = check_channel(channel) if channel is not None else None
    changes = rule_changes(
        gained=gained,
        lost=lost,
        max_main_rank=max_main_rank,
        ignore=ignore_category,
        unignore=unignore_category,
        mode=mode,
        daily_hour=daily_hour,
        quiet=quiet,
        no_quiet=no_quiet,
        timezone=timezone,
        renotify_window=renotify_window,
        top=top,
        top_main=top_main,
        webhook=webhook,
        no_webhook=no_webhook,
    )
    with db.open_database(config) as conn:
        target = client_store.rule_channel(conn, client=name, channel=named)
        if remove:
            if not client_store.delete_rule(conn, client=name, channel=target):
                raise ConfigError(f"{name} has no rule for {channel_label(target)}")
            console.print(
                f"[yellow]removed[/yellow] rule for {terminal_text(name)} → {channel_label(target)}"
            )
            return
        rule, created = client_store.update_rule(conn, client=name, channel=target, changes=changes)
    print_rule(name, rule, created=created)


@clients_app.command("list", epilog=examples("bestseller clients list --json"))
def clients_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: WideOption = False,
) -> None:
    """List clients, how many ASINs each tracks, and their notification rules."""
    config = settings()
    with db.open_database(config) as conn:
        clients = client_store.list_clients(conn)
    if as_json:
        print_json(
            [
                {
                    "name": client.name,
                    "created_at": client.created_at,
                    "tracked_asins": client.tracked_asins,
                    "rules": [rule.as_record() for rule in client.rules],
                }
                for client in clients
            ]
        )
        return
    if not clients:
        console.print("No clients yet. Add one with `bestseller clients add NAME --channel C`.")
        return
    cells: list[list[Cell]] = []
    for client in clients:
        if not client.rules:
            cells.append([client.name, str(client.tracked_asins), None, "global defaults"])
        for index, rule in enumerate(client.rules):
            first = index == 0
            cells.append(
                [
                    client.name if first else "",
                    str(client.tracked_asins) if first else "",
                    channel_label(rule.channel),
                    describe_rule(rule) + ("" if rule.active else " (inactive)"),
                ]
            )
    title, width = f"Clients ({len(clients)})", None if wide else console.width
    now = datetime.now(UTC)
    console.print(build_table(title, CLIENT_COLUMNS, cells, width=width, now=now), crop=False)


CLIENT_COLUMNS = [
    Column("Client", Kind.ID),
    Column("ASINs", Kind.NUMBER),
    Column("Channel", Kind.ID),
    Column("Rule", Kind.TEXT),
]


@clients_app.command("remove", epilog=examples("bestseller clients remove acme --yes"))
def clients_remove(
    name: Annotated[str, typer.Argument(callback=client_name, help="Client name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a client, its rules and its tracked ASINs; observed history is kept."""
    config = settings()
    with db.open_database(config) as conn:
        [client] = client_store.list_clients(conn, name=name)
        confirm_or_yes(
            f"Remove client {name} ({client.tracked_asins} tracked ASINs,"
            f" {len(client.rules)} rules)?",
            yes=yes,
            option_hint="removing a client stops its alerts",
        )
        client_store.remove_client(conn, name=name)
    console.print(f"[yellow]removed client[/yellow] {terminal_text(name)}", highlight=False)
