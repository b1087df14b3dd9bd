"""Keep secrets out of every log line, message, traceback and stored row.

Keepa takes its API key in the query string, so any URL that reaches an exception or a
log record carries it. Every text that leaves the process passes through `redact`.
"""

import re

_SECRETS: set[str] = set()
_KEY_IN_QUERY = re.compile(r"(?i)([?&](?:key|token)=)[^&\s'\"]+")
_SLACK_TOKEN = re.compile(r"xox[abpre]-[0-9A-Za-z-]+")
# A password in a connection string, in any of its spellings: `scheme://user:pw@host`
# (whatever the scheme, or none: `user:pw@host`), `password=pw` (quoted or not, in a
# key=value DSN or a `?password=` query parameter).
_DSN_USERINFO = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://)?[^\s:/?#@'\"]+:)[^\s'\"]+@")
_DSN_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:\\.|[^'\\])*'?|[^\s&'\"]+)")
MASK = "***"


def register_secret(secret: str | None) -> None:
    """Remember a secret so that `redact` masks it wherever it appears."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def shown_url(url: str) -> str:
    """A secret URL (a webhook's) as it may be printed: its scheme and host, never the path
    or query, where Zapier, Make and n8n put what lets anyone post to it."""
    scheme, _, rest = url.strip().partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…" if scheme and host else MASK


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, MASK)
    text = _KEY_IN_QUERY.sub(rf"\g<1>{MASK}", text)
    text = _DSN_USERINFO.sub(rf"\g<1>{MASK}@", text)
    text = _DSN_PASSWORD.sub(rf"\g<1>{MASK}", text)
    return _SLACK_TOKEN.sub(MASK, text)
