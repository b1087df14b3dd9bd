"""doctor's rows on the rules' webhooks: each gets a signed `ping` event (schema
`bestseller.alert.v1`, type `ping`) and its answer is shown, one row per webhook.

A webhook's URL is a secret (its path lets anyone post to it): a row shows its scheme and
host only, and every error is redacted.
"""

from datetime import UTC, datetime
from uuid import uuid4

from bestseller_cli.config import Settings
from bestseller_cli.errors import DeliveryError
from bestseller_cli.maintenance.finding import Finding
from bestseller_cli.redact import redact, shown_url
from bestseller_cli.rules.routing import WEBHOOK_PREFIX
from bestseller_cli.store import client_store, db, schema
from bestseller_cli.webhook.body import ping_body
from bestseller_cli.webhook.client import WebhookSender


def webhook_findings(settings: Settings) -> list[Finding]:
    """A row per webhook a rule names: green when it answered the signed ping with 2xx; red
    when it refused or could not be reached, or when there is no WEBHOOK_SECRET to sign with.
    None without webhooks, or before the migrations that store them."""
    with db.connect(db.database_url(settings), autocommit=True) as conn:
        if schema.pending_migrations(conn):
            return []  # the migrations row says so already
        urls = client_store.webhook_urls(conn)
    if not urls:
        return []
    if not settings.webhook_secret:
        return [
            Finding(
                "webhooks",
                "fail",
                f"{len(urls)} rule(s) send to a webhook but WEBHOOK_SECRET is unset: nothing is"
                " sent until it is; set it to the whsec_… secret the receivers verify with",
            )
        ]
    # Tried once each: doctor shows what a webhook answers now, it does not wait it out.
    sender = WebhookSender(
        secret=settings.webhook_secret,
        timeout_seconds=settings.api_timeout_seconds,
        max_retries=0,
        retry_delay_seconds=0,
    )
    try:
        return [ping(sender, address, url) for address, url in sorted(urls.items())]
    finally:
        sender.close()


def ping(sender: WebhookSender, address: str, url: str) -> Finding:
    part = f"webhook, rule {address.removeprefix(WEBHOOK_PREFIX)}"
    where = shown_url(url)
    try:
        status = sender.send(
            url=url, webhook_id=f"ping_{uuid4().hex}", body=ping_body(datetime.now(UTC))
        )
    except DeliveryError as exc:
        return Finding(part, "fail", redact(f"the signed ping failed: {exc}"))
    return Finding(part, "ok", f"{where} answered the signed ping: HTTP {status}")
