"""Alerts outside a pass (`bestseller alerts`): the outbox as a list, and delivery on demand
once Slack's token or channel is fixed."""

from collections.abc import Callable
from datetime import datetime

from bestseller_cli.alerts.channels import open_channels
from bestseller_cli.alerts.delivery import deliver_with_settings
from bestseller_cli.alerts.reconcile import DeliveryReport
from bestseller_cli.config import Settings
from bestseller_cli.models import Printed
from bestseller_cli.store import db, log_store, outbox_store, schema


def list_alerts(
    settings: Settings, *, undelivered_only: bool, limit: int, now: datetime
) -> list[outbox_store.AlertRow]:
    with db.open_database(settings) as conn:
        return outbox_store.list_alerts(
            conn, now=now, undelivered_only=undelivered_only, limit=limit
        )


def retry(
    settings: Settings, *, show: Callable[[Printed], None], now: datetime
) -> DeliveryReport | None:
    """Deliver every due alert now, those Slack refused before included, as a pass would.
    None when a pass holds the run lock (it delivers them itself)."""
    url = db.database_url(settings)
    db.require_session_mode(url)
    limits = db.SessionLimits.from_settings(settings)
    with db.run_lock(url, limits=limits) as lock:
        if not lock.held:
            return None
        with db.connect(url, autocommit=True, limits=limits) as conn:
            schema.migrate(conn)
            channel = open_channels(conn, settings, show=show)
            report = deliver_with_settings(conn, settings, channel=channel, now=now)
            with conn.transaction():
                log_store.record_errors(conn, report.errors, run_id=None)
    return report
