"""The optional holder lookup: a loss no tracked product explains is named from Keepa's daily
best seller list, once per category per pass, within a token budget, and says so."""

import psycopg
import pytest

from bestseller_cli.check.holder_lookup import look_up_holders
from bestseller_cli.check.run import run_check
from bestseller_cli.config import load_settings
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.check.test_alert_story import text_of
from tests.conftest import FULL_PASS, SLACK_CHANNEL

GADGETS, HEADPHONES, KITCHEN = 289913, 3015427011, 1055398
OURS, RIVAL, OUTSIDER = "B0OURS0001", "B0RIVAL001", "B0OUTSIDE1"
HOLDERS = {GADGETS: "B0OURS0001", HEADPHONES: "B0OURS0002", KITCHEN: "B0OURS0003"}


@pytest.fixture
def lookup_on(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_LOOKUP", "true")


def lose_the_badge(keepa: FakeKeepa, conn: psycopg.Connection, holders: dict[int, str]) -> None:
    """Each ASIN holds #1 in its category for one pass, then drops to #3 in the next (the
    re-notify window is off, so the loss is a message of its own)."""
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    asin_store.add_tracked(conn, asins=list(holders.values()), marketplace="com", client=None)
    for rank in (1, 3):
        for category, asin in holders.items():
            keepa.set_ranks(asin, {category: rank})
        run_check(load_settings(), options=FULL_PASS)


def list_requests(keepa: FakeKeepa) -> list[dict[str, list[str]]]:
    return keepa.sent_to("bestsellers")


def loss_messages(slack: FakeSlack) -> list[str]:
    return [text_of(m) for m in slack.messages(SLACK_CHANNEL) if "lost" in m.text.lower()]


def test_off_by_default_no_list_is_asked_and_the_holder_is_unknown(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    keepa.best_seller_lists[("com", GADGETS)] = [OUTSIDER]
    lose_the_badge(keepa, conn, {GADGETS: OURS})
    assert list_requests(keepa) == []
    [loss] = loss_messages(slack)
    assert "Now #1: not known yet (no tracked product holds it" in loss


def test_an_unexplained_loss_names_the_head_of_keepas_best_seller_list(
    keepa: FakeKeepa, slack: FakeSlack, conn, lookup_on
) -> None:
    keepa.best_seller_lists[("com", GADGETS)] = [OUTSIDER, RIVAL]
    lose_the_badge(keepa, conn, {GADGETS: OURS})

    [request] = list_requests(keepa)
    assert request["category"] == [str(GADGETS)] and request["sublist"] == ["1"]
    assert request["domain"] == ["1"]
    assert "range" not in request  # Keepa's docs: range must not be combined with sublist
    [loss] = loss_messages(slack)
    updated = f"{keepa.lists_updated:%Y-%m-%d %H:%M}"
    assert f"Now #1 per Keepa's best seller list, updated {updated} UTC: {OUTSIDER}" in loss
    usage = conn.execute(
        "SELECT tokens_consumed, run_id IS NOT NULL FROM api_usage_log"
        " WHERE endpoint = 'bestsellers'"
    ).fetchall()
    assert usage == [(50, True)]


def test_a_loss_a_tracked_product_explains_costs_no_lookup(
    keepa: FakeKeepa, slack: FakeSlack, conn, lookup_on
) -> None:
    asin_store.add_tracked(conn, asins=[RIVAL], marketplace="com", client=None)
    keepa.set_ranks(RIVAL, {GADGETS: 2})
    keepa.best_seller_lists[("com", GADGETS)] = [OUTSIDER]
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    keepa.set_ranks(OURS, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(OURS, {GADGETS: 2})
    keepa.set_ranks(RIVAL, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)

    assert list_requests(keepa) == []
    [loss] = loss_messages(slack)
    assert f"Now #1: {RIVAL}" in loss


def test_the_token_budget_caps_lookups_and_the_rest_stay_unknown(
    keepa: FakeKeepa, slack: FakeSlack, conn, lookup_on, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_TOKEN_BUDGET", "120")
    for category in HOLDERS:
        keepa.best_seller_lists[("com", category)] = [OUTSIDER]
    lose_the_badge(keepa, conn, HOLDERS)

    assert len(list_requests(keepa)) == 2  # 2 x 50 tokens fit in 120, a third would not
    losses = loss_messages(slack)
    assert sum("Keepa's best seller list, updated" in loss for loss in losses) == 2
    assert sum("not known yet" in loss for loss in losses) == 1
    spent = conn.execute(
        "SELECT sum(tokens_consumed) FROM api_usage_log WHERE endpoint = 'bestsellers'"
    ).fetchone()
    assert spent == (100,)


def test_the_budget_uses_the_cost_keepa_last_charged(
    keepa: FakeKeepa, slack: FakeSlack, conn, lookup_on, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_TOKEN_BUDGET", "100")
    keepa.best_sellers_cost = 30
    for category in HOLDERS:
        keepa.best_seller_lists[("com", category)] = [OUTSIDER]
    lose_the_badge(keepa, conn, HOLDERS)
    # 50 assumed for the first; then 30 as measured: 30 + 30 + 30 fit in 100.
    assert len(list_requests(keepa)) == 3


def test_a_list_still_showing_the_loser_does_not_name_it(
    keepa: FakeKeepa, slack: FakeSlack, conn, lookup_on
) -> None:
    keepa.best_seller_lists[("com", GADGETS)] = [OURS, OUTSIDER]
    lose_the_badge(keepa, conn, {GADGETS: OURS})
    [loss] = loss_messages(slack)
    assert "holder unknown (Keepa's best seller list" in loss and "still shows this product" in loss
    assert OUTSIDER not in loss


def test_a_failing_list_request_leaves_the_alert_unknown_and_the_pass_green(
    keepa: FakeKeepa, slack: FakeSlack, conn, lookup_on, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_RETRIES", "0")
    keepa.failing_endpoints["bestsellers"] = 500
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    keepa.set_ranks(OURS, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(OURS, {GADGETS: 3})
    summary = run_check(load_settings(), options=FULL_PASS)

    assert summary.exit_code == 0 and summary.alerts_sent == 1
    [loss] = loss_messages(slack)
    assert "not known yet" in loss
    errors = conn.execute("SELECT kind FROM error_log WHERE source = 'keepa'").fetchall()
    assert ("bestsellers_failed",) in errors


def test_a_category_is_looked_up_once_per_run_even_when_asked_again(
    keepa: FakeKeepa, conn, env
) -> None:
    keepa.best_seller_lists[("com", GADGETS)] = [OUTSIDER]
    lose_the_badge(keepa, conn, {GADGETS: OURS})  # lookups off: the loss is recorded
    [(run_id,)] = conn.execute("SELECT run_id FROM bestseller_changes WHERE kind = 'lost'")
    with KeepaClient.from_settings(load_settings()) as client:
        first = look_up_holders(client, conn, run_id=run_id, budget=1000)
        again = look_up_holders(client, conn, run_id=run_id, budget=1000)  # a resumed pass
    assert (first.looked_up, again.looked_up) == (1, 0)
    assert len(list_requests(keepa)) == 1
