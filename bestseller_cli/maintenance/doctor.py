"""`bestseller doctor`: find setup mistakes before the first cron tick."""

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import psycopg

from bestseller_cli.config import KEEPA_API_URL, SLACK_API_URL, Settings
from bestseller_cli.errors import BestsellerError, SlackError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.maintenance.category_forecast import category_budget
from bestseller_cli.maintenance.door import door_findings
from bestseller_cli.maintenance.finding import Finding, Status
from bestseller_cli.maintenance.webhooks import webhook_findings
from bestseller_cli.redact import redact
from bestseller_cli.rules import run_plan, schedule
from bestseller_cli.rules.category_watch import WatchedCategory
from bestseller_cli.rules.ops_rules import KINDS, utc
from bestseller_cli.rules.product_kinds import kind_note
from bestseller_cli.slack.client import SlackSender
from bestseller_cli.store import (
    asin_store,
    category_store,
    client_store,
    db,
    history_store,
    lock_holders,
    ops_store,
    run_store,
    schema,
)

T = TypeVar("T")


def run_doctor(settings: Settings) -> list[Finding]:
    """Check each part; a part that cannot even be tried is a failure with its reason."""
    findings: list[Finding] = []
    watched = guarded(findings, "database", lambda: check_database(settings, findings))
    guarded(findings, "Keepa", lambda: check_keepa(settings, findings, watched))
    guarded(findings, "Slack", lambda: check_slack(settings, findings))
    guarded(findings, "webhooks", lambda: findings.extend(webhook_findings(settings)))
    check_monitoring(settings, findings)
    findings.extend(api_hosts_findings(settings))
    return findings


def guarded(findings: list[Finding], part: str, check: Callable[[], T]) -> T | None:
    try:
        return check()
    except BestsellerError as exc:
        findings.append(Finding(part, "fail", redact(str(exc))))
    except psycopg.Error as exc:
        findings.append(Finding(part, "fail", redact(f"{type(exc).__name__}: {exc}".strip())))
    return None


# The watched ASINs' intervals and count (run_store.interval_counts), the watched categories.
Watched = tuple[Counter[timedelta], int, list[WatchedCategory]]


def transaction_pooling(conn: psycopg.Connection, url: str, limits: db.SessionLimits) -> str | None:
    """Why DATABASE_URL is taken for a transaction pooler (its port, or what the server
    showed), or None."""
    if db.uses_transaction_pooler(url):
        return f"port {db.TRANSACTION_POOLER_PORT}"
    if db.shares_server_sessions(conn, url, limits=limits):
        return db.SHARED_SESSIONS
    return None


def check_database(settings: Settings, findings: list[Finding]) -> Watched:
    url = db.database_url(settings)
    where = "DATABASE_URL" if settings.database_url else "embedded PostgreSQL"
    limits = db.SessionLimits.from_settings(settings)
    with db.connect(url, autocommit=True, limits=limits) as conn:
        findings.append(Finding("database", "ok", f"reachable ({where})"))
        findings.append(writable_finding(conn))
        findings.append(limits_finding(conn, limits))
        findings.extend(door_findings(conn))
        pending = schema.pending_migrations(conn)
        upgrade = f"pending: {', '.join(pending)} (run `bestseller db upgrade`)"
        findings.append(
            Finding("migrations", "warn", upgrade)
            if pending
            else Finding("migrations", "ok", "schema is current")
        )
        if pooled := transaction_pooling(conn, url, limits):
            findings.append(
                Finding(
                    "run lock",
                    "fail",
                    f"DATABASE_URL uses a transaction pooler ({pooled}): session advisory locks"
                    " do not hold there; use the session-mode URL (Supabase: port 5432)",
                )
            )
        elif db.try_run_lock(conn):
            db.release_run_lock(conn)
            findings.append(Finding("run lock", "ok", "session advisory lock usable"))
        else:
            findings.append(lock_finding(conn, settings))
        if pending:
            return Counter(), 0, []
        now = datetime.now(UTC)
        findings.append(
            storage_finding(
                size=history_store.database_size(conn),
                samples=history_store.size_samples(conn, since=now - GROWTH_WINDOW),
                limit_mb=settings.database_size_limit_mb,
            )
        )
        if history_store.has_old_history(conn):
            findings.append(
                Finding(
                    "history",
                    "warn",
                    "rows in the old one-row-per-pass format: `bestseller db upgrade` converts"
                    " them in short batches",
                )
            )
        findings.extend(product_kinds_findings(conn))
        findings.extend(open_conditions(conn))
        return *run_store.interval_counts(conn), category_store.watched_categories(conn)


def writable_finding(conn: psycopg.Connection) -> Finding:
    """A read-only database (Supabase's free plan past 500 MB) lets every read work and no
    pass record anything: red, with the way out."""
    row = conn.execute(
        "SELECT current_setting('default_transaction_read_only') = 'on', pg_is_in_recovery()"
    ).fetchone()
    read_only, standby = row if row else (False, False)
    if standby:
        return Finding("writable", "fail", "a read-only standby: point DATABASE_URL at the primary")
    if read_only:
        return Finding(
            "writable",
            "fail",
            "read-only (default_transaction_read_only is on; Supabase's free plan does this"
            " past 500 MB): no pass can record checks or alerts. Fix: `bestseller prune`"
            " (it may write to a read-only database) or raise the plan",
        )
    return Finding("writable", "ok", "writes allowed")


def limits_finding(conn: psycopg.Connection, limits: db.SessionLimits) -> Finding:
    """The limits every session SETs, as the server has them: a pooler that dropped the
    SETs (transaction mode) shows here."""
    wanted = limits.values()
    now = db.session_limits(conn)
    detail = ", ".join(f"{name} {now[name]}" for name in wanted)
    differ = [name for name, value in wanted.items() if milliseconds(now[name]) != int(value)]
    if differ:
        return Finding(
            "session limits", "warn", f"{detail}; not as SET: {', '.join(differ)} (a pooler?)"
        )
    return Finding("session limits", "ok", detail)


UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def milliseconds(shown: str) -> int:
    """`1min`, `10s`, `0` as SHOW spells a time setting, in milliseconds."""
    digits = shown.rstrip("abcdefghijklmnopqrstuvwxyz")
    return int(digits) * UNITS_MS.get(shown[len(digits) :], 1)


def lock_finding(conn: psycopg.Connection, settings: Settings) -> Finding:
    """Held: by a pass within its time (fine), or by one that vanished (red: until the next
    `check` ends its session, no pass runs)."""
    holder = lock_holders.holder(conn, db.RUN_LOCK_ID)
    now = datetime.now(UTC)
    if holder is None:
        return Finding("run lock", "ok", "session advisory lock usable")
    who = holder.describe(now=now)
    if holder.stale(now=now, allowed=lock_holders.stale_after(settings.run_deadline_minutes)):
        return Finding(
            "run lock",
            "fail",
            f"held by {who}, a pass older than RUN_DEADLINE_MINUTES allows: it vanished or"
            " hung; the next `bestseller check` ends its session (or run"
            f" `SELECT pg_terminate_backend({holder.pid})`)",
        )
    return Finding("run lock", "warn", f"held right now by {who}: a check is running")


GROWTH_WINDOW = timedelta(days=7)
# Less than a day of sizes measures the hour's passes, not a day's growth: none is shown.
GROWTH_MIN_SPAN = timedelta(days=1)
MB = 1024 * 1024
WARN_DAYS_LEFT = 30


def storage_finding(
    *, size: int, samples: list[history_store.SizeSample], limit_mb: float | None
) -> Finding:
    """Size, growth per day over the last week (the sizes passes recorded), and the days left
    until DATABASE_SIZE_LIMIT_MB: red past the limit, yellow with under a month to go."""
    detail = f"{size / MB:,.1f} MB"
    growth = None
    if len(samples) >= 2 and samples[-1].at - samples[0].at >= GROWTH_MIN_SPAN:
        days = (samples[-1].at - samples[0].at).total_seconds() / 86400
        growth = (samples[-1].bytes - samples[0].bytes) / days
        detail += f"; grows {growth / MB:,.2f} MB per day (last {days:.1f} days)"
    else:
        detail += "; growth: not enough history yet (passes over a day)"
    if limit_mb is None:
        return Finding("database size", "ok", detail + "; DATABASE_SIZE_LIMIT_MB unset")
    limit = limit_mb * MB
    if size >= limit:
        return Finding("database size", "fail", detail + f"; over the {limit_mb:,.0f} MB limit")
    if growth is None or growth <= 0:
        return Finding("database size", "ok", detail + f"; limit {limit_mb:,.0f} MB")
    days_left = (limit - size) / growth
    status: Status = "warn" if days_left < WARN_DAYS_LEFT else "ok"
    advice = " (run `bestseller prune`, lower HISTORY_RETENTION_DAYS)" if status == "warn" else ""
    return Finding(
        "database size",
        status,
        detail + f"; {days_left:,.0f} days left until {limit_mb:,.0f} MB{advice}",
    )


def product_kinds_findings(conn: psycopg.Connection) -> list[Finding]:
    """Tracked ASINs the last pass found without ranks: a parent's children, or invalid."""
    notes = [
        kind_note(kind.asin, kind.marketplace, kind.product_type, kind.variation_asins)
        for kind in asin_store.without_ranks(conn)
    ]
    return [Finding("tracked ASIN", "warn", note) for note in notes if note]


def open_conditions(conn: psycopg.Connection) -> list[Finding]:
    """What the last passes found wrong and is not cleared yet (ops_conditions)."""
    return [
        Finding(
            f"open: {KINDS.get(condition.kind, condition.kind)}",
            "warn",
            f"{condition.headline}: {condition.effect}. Fix: {condition.fix}."
            f" (since {utc(condition.opened_at)}, {condition.passes} passes)",
        )
        for condition in ops_store.conditions(conn)
    ]


def check_monitoring(settings: Settings, findings: list[Finding]) -> None:
    """Who hears about trouble: the operations channel and a cron monitor."""
    if settings.slack_ops_channel_id is None:
        findings.append(
            Finding(
                "ops channel",
                "warn",
                "SLACK_OPS_CHANNEL_ID unset: operations alerts (Keepa rejecting the key, no"
                " pass for hours, ...) show only in `doctor` and `report`; set a channel for them",
            )
        )
    if settings.healthcheck_url is None:
        findings.append(
            Finding(
                "cron monitor",
                "warn",
                "HEALTHCHECK_URL unset: nobody hears when no pass runs at all; set a"
                " Healthchecks.io, Cronitor or Better Stack ping URL",
            )
        )
    else:
        findings.append(Finding("cron monitor", "ok", "HEALTHCHECK_URL set (pinged by check)"))


def api_hosts_findings(settings: Settings) -> list[Finding]:
    """Where the Keepa key and the Slack token go, when that is not Keepa's and Slack's own
    API (settings accept only https://, or http:// to a loopback address)."""
    findings = []
    for name, secret, url, default in (
        ("KEEPA_API_URL", "the Keepa key", settings.keepa_api_url, KEEPA_API_URL),
        ("SLACK_API_URL", "the Slack token", settings.slack_api_url, SLACK_API_URL),
    ):
        used, usual = httpx.URL(url), httpx.URL(default)
        if used.host != usual.host:
            # The origin only: a path or user part may carry a secret of its own.
            origin = f"{used.scheme}://{used.netloc.decode('ascii')}"
            detail = f"{secret} goes to {used.host}, not {usual.host} ({name}: {origin})"
            findings.append(Finding(f"{name} host", "warn", detail))
    return findings


def check_keepa(settings: Settings, findings: list[Finding], watched: Watched | None) -> None:
    with KeepaClient.from_settings(settings) as keepa:
        status = keepa.token_status()
    findings.append(
        Finding(
            "Keepa key",
            "ok",
            f"valid; {status.tokens_left} tokens now, refill {status.refill_rate}/min",
        )
    )
    intervals, count, categories = watched or (Counter(), 0, [])
    per_hour = run_plan.plan_per_hour(settings, refill_per_minute=status.refill_rate)
    outlook = schedule.forecast(
        intervals,
        watched=count,
        plan_per_hour=per_hour,
        cadence=schedule.Cadence.of(settings),
    )
    findings.append(keepa_budget(outlook, settings))
    findings.extend(category_budget(categories, settings=settings, forecast=outlook))


def keepa_budget(outlook: schedule.Forecast, settings: Settings) -> Finding:
    """The forecast: red when the plan cannot check every ASIN once per ceiling, yellow when
    intervals stretch (a short plan makes alerts later, never lost)."""
    detail = outlook.describe()
    if settings.keepa_tokens_per_hour:
        detail += f" (KEEPA_TOKENS_PER_HOUR={settings.keepa_tokens_per_hour:,})"
    # The forecast prices checks sooner than Keepa's refresh as live ones (update=0).
    detail += " (checks sooner than Keepa's cache refreshes count as live, 2 tokens)"
    too_small = outlook.too_small()
    if too_small:
        return Finding("Keepa budget", "fail", f"{detail}. Too small: {too_small}")
    if not outlook.fits:
        stretch = outlook.tokens_per_hour / (outlook.plan_per_hour or 1)
        detail += f"; intervals stretch about {stretch:.1f}x: alerts come later, none is lost"
        return Finding("Keepa budget", "warn", detail)
    return Finding("Keepa budget", "ok", detail)


def check_slack(settings: Settings, findings: list[Finding]) -> None:
    if not settings.slack_bot_token:
        findings.append(
            Finding("Slack", "warn", "SLACK_BOT_TOKEN unset: alerts are printed, not posted")
        )
        return
    sender = SlackSender.from_settings(settings)
    findings.append(Finding("Slack token", "ok", f"valid ({sender.check_auth()})"))
    if settings.slack_charts:
        findings.append(charts_scope(sender))
    channels = set()
    channels.update(c for c in (settings.slack_channel_id, settings.slack_ops_channel_id) if c)
    with db.connect(db.database_url(settings), autocommit=True) as conn:
        if schema.pending_migrations(conn):
            findings.append(
                Finding(
                    "Slack rules",
                    "warn",
                    "clients' rule channels not checked: the database has pending migrations",
                )
            )
        else:
            channels.update(client_store.configured_channels(conn))
    if not channels:
        findings.append(
            Finding("Slack channel", "fail", "no channel: set SLACK_CHANNEL_ID or a client rule")
        )
    for channel in sorted(channels):
        member = sender.is_member(channel)
        findings.append(
            Finding(
                f"channel {channel}",
                "ok" if member else "fail",
                "bot is a member" if member else "bot is not in the channel: /invite it",
            )
        )
        if member:
            findings.append(history_access(sender, channel))


def charts_scope(sender: SlackSender) -> Finding:
    """SLACK_CHARTS uploads a PNG under each alert: the token needs files:write."""
    scopes = sender.scopes()
    if scopes is None:
        detail = "Slack did not list the token's scopes: charts need files:write"
        return Finding("Slack charts", "warn", detail)
    if "files:write" in scopes:
        return Finding("Slack charts", "ok", "files:write granted: a chart under each alert")
    return Finding(
        "Slack charts",
        "fail",
        "SLACK_CHARTS is on but the token lacks files:write: add the scope and reinstall the"
        " app, or set SLACK_CHARTS=false (alerts go out either way, without charts)",
    )


def history_access(sender: SlackSender, channel: str) -> Finding:
    """Reading history is how a crash mid-send is settled without a duplicate alert."""
    try:
        sender.delivered(channel=channel, oldest=datetime.now(UTC))
    except SlackError as exc:
        return Finding(
            f"history {channel}",
            "warn",
            f"cannot read history ({exc}): add channels:history (groups:history for private"
            " channels), or an alert interrupted by a crash may be sent twice",
        )
    return Finding(f"history {channel}", "ok", "readable (crash-safe delivery)")
