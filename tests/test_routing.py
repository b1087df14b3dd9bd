"""Routing: which channels hear about a change, by the clients' rules."""

from datetime import UTC, datetime

from bestseller_cli.models import BadgeChange
from bestseller_cli.routing import Rule, deliveries_for

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
DEFAULTS = Rule(client_id=None, channel=None)


def change(kind: str = "gained", *, category: int = 7, main_rank: int | None = 50) -> BadgeChange:
    return BadgeChange(
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
