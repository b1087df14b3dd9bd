"""Where a secret may be sent: the URLs the Keepa key, the Slack token, a webhook's or the
monitor's secret path go to, and the database's connection string (its password)."""

import ipaddress

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bestseller_cli.redact import register_secret


def libpq_dsn(url: str) -> str:
    """The DSN as libpq takes it: without the pgbouncer flag some providers add to URLs."""
    clean = url.replace("pgbouncer=true&", "").replace("?pgbouncer=true", "?")
    return clean.replace("&pgbouncer=true", "").rstrip("?&")


def postgres_conninfo(value: str) -> str:
    """The connection string as given, once libpq can read it and its ports are ports; its
    password is registered as a secret. ValueError naming no part of it, otherwise."""
    try:
        parts = conninfo_to_dict(libpq_dsn(value))
    except psycopg.ProgrammingError:
        # The message names no part of the value: it may hold the password.
        raise ValueError(
            "not a PostgreSQL connection string: use a postgresql:// URL or key=value"
            " pairs (SQLAlchemy's postgresql+psycopg:// is not one)"
        ) from None
    register_secret(parts.get("password"))
    if not all(valid_port(port) for port in str(parts.get("port") or "").split(",") if port):
        raise ValueError(f"port {parts['port']} is not a port number (1-65535)")
    return value


def https_url(value: str, *, example: str = "https://api.keepa.com") -> str:
    """The URL, stripped, when it is one we may send a secret to: https, or http only to a
    loopback address (a test's fake server). ValueError saying why not, otherwise."""
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"not an http(s) URL, e.g. {example}")
    if url.port is not None and not valid_port(str(url.port)):
        raise ValueError(f"port {url.port} is not a port number (1-65535)")
    if url.scheme != "https" and not is_loopback(url.host):
        # The key, the token, a webhook's or the monitor's secret path would cross the
        # network in clear.
        raise ValueError("must be an https:// URL (http:// only to a loopback address, for tests)")
    return value.strip()


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1: this machine, where a test's fake server listens."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def valid_port(text: str) -> bool:
    return text.strip().isascii() and text.strip().isdigit() and 1 <= int(text) <= 65_535
