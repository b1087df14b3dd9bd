"""Clients' rules and the global defaults (notify_config.py): parsing and validation, each
problem one ConfigError naming the option to fix."""

from datetime import UTC, datetime, time

import pytest

from bestseller_cli.errors import ConfigError
from bestseller_cli.rules.notify_config import (
    MAX_RENOTIFY_MINUTES,
    check_channel,
    parse_global_value,
    parse_quiet,
    updated_rule,
)
from bestseller_cli.rules.routing import Rule, deliver_after

RULE = Rule(client_id=1, channel="C0123ABCD")


def test_a_change_of_none_keeps_the_rules_value() -> None:
    assert updated_rule(RULE, channel=None, notify_lost=None, max_main_rank=None) == RULE


def test_ignored_categories_are_added_and_removed_and_kept_sorted() -> None:
    rule = updated_rule(RULE, ignore=[30, 10, 20])
    assert rule.ignored_category_ids == (10, 20, 30)
    assert updated_rule(rule, ignore=[5], unignore=[20]).ignored_category_ids == (5, 10, 30)


def test_quiet_hours_are_set_as_a_pair_and_removed_with_an_empty_one() -> None:
    quiet = updated_rule(RULE, quiet=(time(22), time(7)))
    assert quiet.quiet == "22:00-07:00"
    removed = updated_rule(quiet, quiet=())
    assert (removed.quiet_start, removed.quiet_end, removed.quiet) == (None, None, None)


def test_a_max_main_rank_of_zero_removes_the_limit() -> None:
    limited = updated_rule(RULE, max_main_rank=500)
    assert updated_rule(limited, max_main_rank=0).max_main_rank is None


def test_a_field_that_is_not_a_rule_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not rule fields: colour"):
        updated_rule(RULE, colour="red")


@pytest.mark.parametrize(
    "changes, option",
    [
        ({"delivery_mode": "daily"}, "--daily-hour"),
        ({"delivery_mode": "weekly"}, "--mode"),
        ({"daily_hour": 24}, "--daily-hour"),
        ({"max_main_rank": -1}, "--max-main-rank"),
        ({"renotify_window_minutes": MAX_RENOTIFY_MINUTES + 1}, "--renotify-window"),
        ({"ignore": [0]}, "--ignore-category"),
        ({"timezone": "Mars/Olympus"}, "IANA name"),
        ({"channel": "not a channel"}, "Slack channel"),
    ],
)
def test_an_invalid_rule_is_refused_naming_what_to_fix(
    changes: dict[str, object], option: str
) -> None:
    with pytest.raises(ConfigError, match=option):
        updated_rule(RULE, **changes)


def test_quiet_hours_parse_and_may_wrap_past_midnight() -> None:
    assert parse_quiet(" 22:00-07:00 ") == (time(22, 0), time(7, 0))
    assert parse_quiet("9:30 - 17:00") == (time(9, 30), time(17, 0))


@pytest.mark.parametrize("text", ["22:00", "24:00-07:00", "22:60-07:00", "22-07", "10:00-10:00"])
def test_malformed_or_empty_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--quiet"):
        parse_quiet(text)


def test_a_channel_is_an_id_or_a_hash_name_trimmed() -> None:
    assert check_channel(" C0123ABCD ") == "C0123ABCD"
    assert check_channel("#bestseller-alerts") == "#bestseller-alerts"
    with pytest.raises(ConfigError, match="C0123ABCD"):
        check_channel("#two words")


def test_an_instant_rule_releases_at_once_and_quiet_hours_hold_until_they_end() -> None:
    now = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    assert deliver_after(RULE, now) == now
    quiet = updated_rule(RULE, quiet=(time(22), time(7)), timezone="Europe/Berlin")
    assert deliver_after(quiet, now) == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_a_rule_record_is_the_clients_list_json_shape() -> None:
    rule = updated_rule(RULE, ignore=[7], quiet=(time(22), time(7)), delivery_mode="hourly")
    assert rule.as_record() == {
        "channel": "C0123ABCD",
        "notify_gained": True,
        "notify_lost": True,
        "max_main_rank": None,
        "ignored_category_ids": [7],
        "delivery_mode": "hourly",
        "daily_hour": None,
        "quiet": "22:00-07:00",
        "timezone": "UTC",
        "renotify_window_minutes": 120,
        "top_n": 0,
        "top_n_main": False,
        "active": True,
        "webhook": None,
    }


@pytest.mark.parametrize(
    "key, text, value",
    [
        ("notify_gained", "yes", True),
        ("Notify-Lost", " OFF ", False),
        ("renotify_window_minutes", "0", 0),
        ("slack_channel_id", "#alerts", "#alerts"),
        ("slack_channel_id", "none", None),
        ("top_n", "3", 3),
        ("top_n", "0", 0),
        ("top-n-main", "yes", True),
    ],
)
def test_global_settings_take_typed_values(key: str, text: str, value: object) -> None:
    assert parse_global_value(key, text) == value


@pytest.mark.parametrize(
    "key, text",
    [
        ("notify_gained", "maybe"),
        ("renotify_window_minutes", "²"),  # a digit to str.isdigit, not a number
        ("renotify_window_minutes", str(MAX_RENOTIFY_MINUTES + 1)),
        ("renotify_window_minutes", "-1"),
        ("top_n", "1"),  # #1 is the badge, not closing in on it
        ("top_n", "101"),
        ("top_n", "three"),
        ("top_n_main", "sometimes"),
    ],
)
def test_global_settings_refuse_values_out_of_their_type_naming_the_key(
    key: str, text: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_global_value(key, text)


def test_an_unknown_global_setting_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="use one of slack_channel_id, notify_gained"):
        parse_global_value("slack_token", "x")
