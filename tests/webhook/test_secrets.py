"""A webhook's URL and WEBHOOK_SECRET are secrets: through passes that deliver to a webhook,
lose an answer, are refused and are retried, in `bestseller` processes logging JSON at debug
level, neither the URL's path (where Zapier, Make and n8n put what lets anyone post) nor the
signing secret appears in any output, `error_log` row or `notification_log` row."""

import os
import subprocess
import sys

import psycopg

from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from fakes.webhook_receiver import SECRET_PATH, WEBHOOK_TEST_SECRET, WebhookReceiver

GADGETS, KITCHEN = 289913, 1055398
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
SECRETS = (
    SECRET_PATH,
    SECRET_PATH.rsplit("/", 1)[-1],  # the token alone
    WEBHOOK_TEST_SECRET,
    WEBHOOK_TEST_SECRET.removeprefix("whsec_"),  # the key without its prefix
)


def bestseller(environment: dict[str, str], *arguments: str) -> str:
    """Run `bestseller` in a process of its own; its stdout and stderr."""
    command = [sys.executable, "-m", "bestseller_cli", *arguments]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def stored(conn: psycopg.Connection) -> str:
    rows = [
        row[0]
        for table in ("error_log", "notification_log")
        for row in conn.execute(f"SELECT t::text FROM {table} t").fetchall()
    ]
    return "\n".join(rows)


def test_the_webhook_url_and_secret_appear_in_no_output_and_no_stored_row(
    env: dict[str, str],
    keepa_server: FakeKeepa,
    webhook_receiver: WebhookReceiver,
    conn: psycopg.Connection,
) -> None:
    environment = {
        **os.environ,
        **env,
        "KEEPA_API_URL": keepa_server.url,
        "WEBHOOK_SECRET": WEBHOOK_TEST_SECRET,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "debug",
        "MAX_RETRIES": "1",
    }
    outputs = [
        bestseller(environment, "clients", "add", "acme"),
        bestseller(environment, "clients", "rule", "acme", "--webhook", webhook_receiver.url),
    ]
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client="acme")
    keepa_server.set_ranks(A, {GADGETS: 2})
    keepa_server.set_ranks(B, {KITCHEN: 3})
    outputs.append(bestseller(environment, "check", "--all"))
    keepa_server.set_ranks(A, {GADGETS: 1})
    keepa_server.set_ranks(B, {KITCHEN: 1})
    # The first request is taken and its answer lost (retried), then every one refused.
    webhook_receiver.drop, webhook_receiver.status = 1, 410
    outputs.append(bestseller(environment, "check", "--all"))
    outputs += [bestseller(environment, *command) for command in (["alerts", "list"], ["doctor"])]
    webhook_receiver.status = 204
    outputs += [
        bestseller(environment, *command) for command in (["alerts", "retry"], ["clients", "list"])
    ]

    statuses = [row[0] for row in conn.execute("SELECT status FROM notification_log")]
    assert statuses == ["sent", "sent"]  # refused, then delivered by the retry
    assert webhook_receiver.forged == 0 and len(webhook_receiver.ids()) >= 5
    everything = {f"output {n}": text for n, text in enumerate(outputs)}
    everything["stored rows"] = stored(conn)
    assert "HTTP 410" in everything["stored rows"] + "".join(outputs)  # the refusal was told
    assert "127.0.0.1" in "".join(outputs)  # the webhook was named, by its host
    for where, text in everything.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {where}"
