"""Routing: which channels hear about a change, by the clients' rules."""

from datetime import UTC, datetime

from bestseller_cli.models import Change
from bestseller_cli.rules.badges import TopSizes
from bestseller_cli.rules.routing import Rule, deliveries_for, top_sizes

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
DEFAULTS = Rule(client_id=None, channel=None)


def change(kind: str = "gained", *, category: int = 7, main_rank: int | None = 50) -> Change:
    return Change(
        asin="B0C1234567",
        marketplace="com",
        category_id=category,
        category_name="Tongs",
        kind=kind,
        rank_before=2 if kind == "gained" else 1,
        rank_after=1 if kind == "gained" else 2,
        main_rank=main_rank,
        title="Tongs",
        detected_at=NOW,
    )


def channels(deliveries) -> list[str | None]:
    return sorted((d.channel or "") for d in deliveries)


def test_an_asin_without_a_client_goes_to_the_default_channel() -> None:
    [delivery] = deliveries_for(change(), trackers=[None], rules_by_client={}, defaults=DEFAULTS)
    assert delivery.channel is None and delivery.client_id is None


def test_each_tracking_client_hears_on_its_own_channel() -> None:
    rules = {1: [Rule(client_id=1, channel="C1")], 2: [Rule(client_id=2, channel="C2")]}
    result = deliveries_for(change(), trackers=[1, 2], rules_by_client=rules, defaults=DEFAULTS)
    assert channels(result) == ["C1", "C2"]


def test_two_clients_sharing_a_channel_get_one_message() -> None:
    rules = {1: [Rule(client_id=1, channel="C")], 2: [Rule(client_id=2, channel="C")]}
    result = deliveries_for(change(), trackers=[1, 2], rules_by_client=rules, defaults=DEFAULTS)
    assert channels(result) == ["C"]


def test_a_rule_that_ignores_losses_sends_no_loss() -> None:
    rules = {1: [Rule(client_id=1, channel="C1", notify_lost=False)]}
    assert (
        deliveries_for(change("lost"), trackers=[1], rules_by_client=rules, defaults=DEFAULTS) == []
    )
    assert deliveries_for(change("gained"), trackers=[1], rules_by_client=rules, defaults=DEFAULTS)


def test_ignored_categories_and_main_rank_limits_filter_alerts() -> None:
    rules = {1: [Rule(client_id=1, channel="C", ignored_category_ids=frozenset({7}))]}
    assert deliveries_for(change(), trackers=[1], rules_by_client=rules, defaults=DEFAULTS) == []
    rules = {1: [Rule(client_id=1, channel="C", max_main_rank=10)]}
    assert (
        deliveries_for(change(main_rank=50), trackers=[1], rules_by_client=rules, defaults=DEFAULTS)
        == []
    )
    assert deliveries_for(
        change(main_rank=5), trackers=[1], rules_by_client=rules, defaults=DEFAULTS
    )


def test_a_client_without_rules_follows_the_global_defaults() -> None:
    defaults = Rule(client_id=None, channel="CDEFAULT", notify_gained=False)
    assert (
        deliveries_for(change("gained"), trackers=[3], rules_by_client={}, defaults=defaults) == []
    )
    [delivery] = deliveries_for(change("lost"), trackers=[3], rules_by_client={}, defaults=defaults)
    assert (delivery.channel, delivery.client_id) == ("CDEFAULT", 3)


def test_quiet_hours_hold_an_alert_until_they_end_in_the_rules_time_zone() -> None:
    from datetime import time, timedelta

    from bestseller_cli.rules.routing import deliver_after

    rule = Rule(
        client_id=1,
        channel="C",
        quiet_start=time(22),
        quiet_end=time(7),
        timezone="America/New_York",
    )
    eleven_pm_new_york = datetime(2026, 11, 2, 4, tzinfo=UTC)  # 23:00 EST
    assert deliver_after(rule, eleven_pm_new_york) == datetime(2026, 11, 2, 12, tzinfo=UTC)
    noon_new_york = datetime(2026, 11, 2, 17, tzinfo=UTC)
    assert deliver_after(rule, noon_new_york) == noon_new_york
    just_after_midnight = eleven_pm_new_york + timedelta(hours=2)
    assert deliver_after(rule, just_after_midnight) == datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_digests_wait_for_the_next_hour_or_the_daily_hour() -> None:
    from bestseller_cli.rules.routing import deliver_after

    at = datetime(2026, 11, 2, 10, 25, tzinfo=UTC)
    hourly = Rule(client_id=1, channel="C", delivery_mode="hourly")
    assert deliver_after(hourly, at) == datetime(2026, 11, 2, 11, tzinfo=UTC)
    daily = Rule(client_id=1, channel="C", delivery_mode="daily", daily_hour=9)
    assert deliver_after(daily, at) == datetime(2026, 11, 3, 9, tzinfo=UTC)
    daily_later = Rule(client_id=1, channel="C", delivery_mode="daily", daily_hour=18)
    assert deliver_after(daily_later, at) == datetime(2026, 11, 2, 18, tzinfo=UTC)


def test_a_delivery_carries_the_rules_mode_and_renotify_window() -> None:
    rules = {
        1: [Rule(client_id=1, channel="C", delivery_mode="hourly", renotify_window_minutes=30)]
    }
    [delivery] = deliveries_for(change(), trackers=[1], rules_by_client=rules, defaults=DEFAULTS)
    assert (delivery.delivery_mode, delivery.renotify_window_minutes) == ("hourly", 30)
    assert delivery.deliver_after == datetime(2026, 11, 1, 13, tzinfo=UTC)


def crossing(kind: str, before: int | None, after: int | None, *, category: int = 7) -> Change:
    return change(kind, category=category).model_copy(
        update={"rank_before": before, "rank_after": after}
    )


def test_a_top_n_change_reaches_only_the_rules_whose_n_it_crosses() -> None:
    rules = {
        1: [Rule(client_id=1, channel="C3", top_n=3)],
        2: [Rule(client_id=2, channel="C10", top_n=10)],
        3: [Rule(client_id=3, channel="CNONE")],
    }
    route = {"trackers": [1, 2, 3], "rules_by_client": rules, "defaults": DEFAULTS}
    assert channels(deliveries_for(crossing("entered_top_n", 12, 2), **route)) == ["C10", "C3"]
    assert channels(deliveries_for(crossing("entered_top_n", 5, 2), **route)) == ["C3"]
    assert channels(deliveries_for(crossing("left_top_n", 8, 11), **route)) == ["C10"]


def test_top_n_alerts_in_the_main_category_go_only_to_rules_that_ask() -> None:
    rules = {
        1: [Rule(client_id=1, channel="CSUB", top_n=3)],
        2: [Rule(client_id=2, channel="CMAIN", top_n=3, top_n_main=True)],
    }
    route = {"trackers": [1, 2], "rules_by_client": rules, "defaults": DEFAULTS}
    main = crossing("entered_top_n", 5, 2, category=1055398)
    assert channels(deliveries_for(main, **route, main_category_id=1055398)) == ["CMAIN"]
    assert channels(deliveries_for(main, **route, main_category_id=7)) == ["CMAIN", "CSUB"]


def test_the_sizes_detection_watches_are_those_of_the_rules() -> None:
    rules = [
        Rule(client_id=1, channel="C1", top_n=3),
        Rule(client_id=1, channel="C2", top_n=10, top_n_main=True),
        Rule(client_id=2, channel="C3"),
    ]
    assert top_sizes(rules) == TopSizes(categories=frozenset({3, 10}), main=frozenset({10}))
