"""Clients' notification rules (routing.Rule) and the global defaults: their validation.

Pure functions only; the SQL lives in `client_store.py`. Every problem is a ConfigError whose
message names the option to fix.
"""

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bestseller_cli.errors import ConfigError
from bestseller_cli.rules.routing import DELIVERY_MODES, Rule

_CHANNEL = re.compile(r"^#?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")  # ASCII digits only: "²" is a digit to str.isdigit
# Bounds of the stored values (notification_rules columns: integer ranks, bigint categories).
MAX_RENOTIFY_MINUTES = 525_600  # a year
MAX_MAIN_RANK = 2**31 - 1
MAX_CATEGORY_ID = 2**63 - 1
MAX_TOP_N = 100  # "closing in on #1": a Best Sellers list has 100 entries


RULE_FIELDS = frozenset(f.name for f in fields(Rule)) - {"client_id", "created_at", "id"}


def updated_rule(rule: Rule, **changes: Any) -> Rule:
    """Apply changes (None means "keep") and validate the result as a whole.

    Besides the rule's fields: `quiet` ((start, end), or () to remove), `ignore` and
    `unignore` (category ids to add to / take from the ignored ones)."""
    unknown = set(changes) - RULE_FIELDS - {"quiet", "ignore", "unignore"}
    if unknown:
        raise ValueError(f"not rule fields: {', '.join(sorted(unknown))}")
    given = {key: value for key, value in changes.items() if value is not None}
    ignore, unignore = given.pop("ignore", ()), given.pop("unignore", ())
    if ignore or unignore:
        ignored = set(given.get("ignored_category_ids", rule.ignored_category_ids))
        given["ignored_category_ids"] = tuple(sorted((ignored | set(ignore)) - set(unignore)))
    if "quiet" in given:
        quiet = given.pop("quiet")
        given["quiet_start"], given["quiet_end"] = quiet if quiet else (None, None)
    if given.get("max_main_rank") == 0:
        given["max_main_rank"] = None
    if given.get("webhook_url") == "":  # --no-webhook
        given["webhook_url"] = None
    result = replace(rule, **given)
    validate_rule(result)
    return result


def validate_rule(rule: Rule) -> None:
    if rule.channel is not None:
        check_channel(rule.channel)
    if rule.max_main_rank is not None and not 1 <= rule.max_main_rank <= MAX_MAIN_RANK:
        raise ConfigError(
            f"--max-main-rank must be a rank from 1 to {MAX_MAIN_RANK} (0 removes the limit)"
        )
    if rule.delivery_mode not in DELIVERY_MODES:
        raise ConfigError(f"--mode must be one of {', '.join(DELIVERY_MODES)}")
    if rule.daily_hour is not None and not 0 <= rule.daily_hour <= 23:
        raise ConfigError("--daily-hour must be an hour from 0 to 23")
    if rule.delivery_mode == "daily" and rule.daily_hour is None:
        raise ConfigError("--mode daily needs --daily-hour H (0-23, in the rule's timezone)")
    if (rule.quiet_start is None) != (rule.quiet_end is None):
        raise ConfigError("quiet hours need a start and an end: --quiet HH:MM-HH:MM")
    if not 0 <= rule.renotify_window_minutes <= MAX_RENOTIFY_MINUTES:
        raise ConfigError(
            f"--renotify-window must be 0 or more minutes, at most {MAX_RENOTIFY_MINUTES}"
        )
    if rule.top_n and not 2 <= rule.top_n <= MAX_TOP_N:
        raise ConfigError(f"--top takes a rank from 2 to {MAX_TOP_N} (0 turns it off)")
    if any(not 1 <= category <= MAX_CATEGORY_ID for category in rule.ignored_category_ids):
        raise ConfigError("--ignore-category takes positive Amazon category ids")
    check_timezone(rule.timezone)


def check_channel(text: str) -> str:
    """A Slack channel id (C0123ABCD) or name (#general); returns it trimmed."""
    channel = text.strip()
    if not _CHANNEL.match(channel):
        raise ConfigError(f"{text!r} is not a Slack channel: use its id (e.g. C0123ABCD) or #name")
    return channel


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return name


def parse_quiet(text: str) -> tuple[time, time]:
    """`22:00-07:00` -> (22:00, 07:00). The window may wrap past midnight."""
    start, sep, end = text.strip().partition("-")
    clocks = [_CLOCK.match(part.strip()) for part in (start, end)]
    if not sep or not all(clocks):
        raise ConfigError(f"--quiet takes HH:MM-HH:MM (e.g. 22:00-07:00), not {text!r}")
    first, second = (time(int(m[1]), int(m[2])) for m in clocks if m)
    if first == second:
        raise ConfigError("--quiet start and end must differ")
    return first, second


@dataclass(frozen=True)
class GlobalSettings:
    """The defaults (global_notification_settings) for ASINs no client rule covers."""

    slack_channel_id: str | None = None
    notify_gained: bool = True
    notify_lost: bool = True
    renotify_window_minutes: int = 120
    top_n: int = 0  # as a rule's --top N: 0 not asked, else 2..MAX_TOP_N
    top_n_main: bool = False
    updated_at: datetime | None = field(default=None, compare=False)


# The settings `settings set` takes: the columns of global_notification_settings.
GLOBAL_KEYS: tuple[str, ...] = tuple(
    option.name for option in fields(GlobalSettings) if option.name != "updated_at"
)
# The defaults that are switches (the kinds' rule flags among them): true or false.
_SWITCHES = {option.name for option in fields(GlobalSettings) if option.type is bool}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_UNSET = {"", "none", "null", "-"}


def parse_global_value(key: str, text: str) -> str | bool | int | None:
    """Validate `bestseller settings set KEY VALUE`; returns the typed value to store."""
    name = key.strip().lower().replace("-", "_")
    value = text.strip()
    if name == "slack_channel_id":
        return None if value.lower() in _UNSET else check_channel(value)
    if name in _SWITCHES:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} takes true or false, not {text!r}")
    if name == "renotify_window_minutes":
        if not _WHOLE_NUMBER.match(value) or int(value) > MAX_RENOTIFY_MINUTES:
            raise ConfigError(
                f"{name} takes a whole number of minutes from 0 to {MAX_RENOTIFY_MINUTES},"
                f" not {text!r}"
            )
        return int(value)
    if name == "top_n":
        if not _WHOLE_NUMBER.match(value) or int(value) not in {0, *range(2, MAX_TOP_N + 1)}:
            raise ConfigError(f"{name} takes a rank from 2 to {MAX_TOP_N} (0 turns it off)")
        return int(value)
    raise ConfigError(f"unknown setting {key!r}: use one of {', '.join(GLOBAL_KEYS)}")


def global_key(key: str) -> str:
    return key.strip().lower().replace("-", "_")
