"""The demo: a watch list and a watched category, a made-up day of hourly passes of the real
pass code (Keepa and Slack answered in this process), then the HTML report of that day."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bestseller_cli.check.context import PassOptions
from bestseller_cli.check.run import run_check
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.config import Settings, load_settings
from bestseller_cli.demo.scenario import (
    CATEGORY_NAMES,
    CHANNEL,
    CLIENT,
    HOURS,
    NO_PASSES,
    PRODUCTS,
    TOP_N,
    WATCHED,
)
from bestseller_cli.demo.world import DemoKeepa, Recorder, SlackEvent
from bestseller_cli.errors import ConfigError
from bestseller_cli.report.pictures import ReportPictures, build_pictures
from bestseller_cli.rules.category_watch import DEFAULT_EVERY_HOURS
from bestseller_cli.store import asin_store, category_store, client_store, db, run_store

# Whatever the environment or .env says, the demo talks to nothing outside this process.
DEMO_SETTINGS: dict[str, object] = {
    "database_url": None,  # the embedded database in the demo's own home
    "keepa_api_key": "demo-no-key-needed",
    "keepa_api_url": "https://keepa.demo.invalid",
    "keepa_bestsellers_lookup": False,
    "keepa_requests_ahead": 0,
    "slack_bot_token": None,
    "slack_channel_id": None,
    "slack_ops_channel_id": None,
    "healthcheck_url": None,
    "batch_size": 100,
    "schedule_minutes": 60,
    "slack_charts": True,  # a chart under each badge alert, as with SLACK_CHARTS=true
}
PASS_MINUTE = 2  # passes run at two past the hour


# The day is told hour by hour: each pass checks every product (`check --all`), so the
# demo's story does not depend on which products the schedule would have deferred.
EVERY_HOUR = PassOptions(everything=True)


@dataclass(frozen=True)
class DemoPass:
    hour: int
    at: datetime
    summary: CheckSummary
    slack: list[SlackEvent]  # what the pass posted and updated


def demo_settings(home: Path) -> Settings:
    return load_settings(**DEMO_SETTINGS, bestseller_home=home)


def run_demo(
    settings: Settings,
    *,
    on_pass: Callable[[DemoPass], None],
    now: datetime | None = None,
) -> ReportPictures:
    """Watch the scenario's products and its category, run a pass for each hour of the last
    day (but two), and return the report of that day with its charts. The database must
    watch nothing yet."""
    now = now or datetime.now(UTC)
    with db.open_database(settings) as conn:
        _, watched = run_store.interval_counts(conn)
        if watched:
            raise ConfigError(
                "the demo needs a database that watches nothing yet: give `--home` a new folder"
            )
        # Flap control (the re-notify window) counts the time since a message was sent, by the
        # clock on the wall: the demo's day passes in seconds, so it is off here.
        rule = {"top_n": TOP_N, "renotify_window_minutes": 0}
        client_store.add_client(conn, name=CLIENT, channel=CHANNEL, rule_changes=rule)
        for own in (True, False):
            asin_store.add_tracked(
                conn,
                asins=[p.asin for p in PRODUCTS if p.own == own],
                marketplace="com",
                client=CLIENT,
                role="own" if own else "competitor",
            )
        conn.commit()
        category_store.watch(
            conn,
            "com",
            [WATCHED],
            client_id=client_store.client_id(conn, CLIENT),
            every_hours=DEFAULT_EVERY_HOURS,
            top_n=None,
            names={WATCHED: CATEGORY_NAMES[WATCHED]},
        )
        conn.commit()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS)
    keepa, slack = DemoKeepa(), Recorder()
    for hour in range(HOURS):
        if hour in NO_PASSES:
            continue
        at = start + timedelta(hours=hour, minutes=PASS_MINUTE)
        keepa.at(hour, at)
        summary = run_check(
            settings,
            options=EVERY_HOUR,
            clock=lambda at=at: at,
            keepa_transport=keepa,
            channel=slack,
        )
        on_pass(DemoPass(hour=hour, at=at, summary=summary, slack=slack.take()))
    with db.open_database(settings) as conn:
        return build_pictures(
            conn,
            since=start,
            until=max(now, datetime.now(UTC)),  # the passes' Keepa calls and alerts included
            client=CLIENT,
            token_cost_usd=settings.keepa_token_cost_usd,
            max_gap=settings.unobserved_after,
        )
