"""Closing in on #1: a rule with `--top N` hears when a tracked product enters or leaves ranks
2..N of a category, with the badge alerts' trajectory, flap control, digests, quiet hours and
report counts. Real PostgreSQL, Keepa's JSON over HTTP, the real slack-sdk to a fake Slack."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.check.test_alert_story import text_of
from tests.conftest import FULL_PASS, SLACK_CHANNEL

KITCHEN, GADGETS = 1055398, 289913  # the main category (listed first), a subcategory
OURS, THEIRS = "B0OURS0001", "B0THEIRS01"
OTHER_CHANNEL = "C0GLOBEX01"
START = datetime(2026, 11, 2, 10, 10, tzinfo=UTC)


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def watch(asin: str, *rule: str, client: str = "acme", channel: str = SLACK_CHANNEL) -> None:
    cli("clients", "add", client, "--channel", channel, *rule)
    cli("asins", "add", asin, "--client", client)


class Passes:
    """Passes a minute apart, each after setting the ranks Keepa answers."""

    def __init__(self, keepa: FakeKeepa) -> None:
        self.keepa, self.at = keepa, START

    def run(self, ours: int | None = None, *, main: int = 900, theirs: int | None = None):
        for asin, rank in ((OURS, ours), (THEIRS, theirs)):
            if rank is not None:
                self.keepa.set_ranks(asin, {KITCHEN: main, GADGETS: rank})
        summary = run_check(load_settings(), options=FULL_PASS, clock=lambda at=self.at: at)
        self.at += timedelta(minutes=1)
        return summary

    def ranks(self, *ranks: int, main: int = 900) -> None:
        for rank in ranks:
            self.run(rank, main=main)


def kinds(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT kind FROM bestseller_changes ORDER BY id")]


def test_entering_the_top_n_alerts_the_rule_that_asked_with_the_trajectory(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3")
    Passes(keepa).ranks(9, 6, 3)
    [message] = slack.messages(SLACK_CHANNEL)
    text = text_of(message)
    assert message.blocks[0]["text"]["text"] == "🎯 Closing in on #1"
    assert "#6 → #3" in text and "Rank, last 24 h: #9 → #6 → #3" in text
    assert kinds(conn) == ["entered_top_n"]


def test_leaving_the_top_n_alerts_once_and_moves_inside_it_are_quiet(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3", "--renotify-window", "0")
    Passes(keepa).ranks(5, 3, 2, 3, 8, 12)
    entered, left = slack.messages(SLACK_CHANNEL)
    assert entered.blocks[0]["text"]["text"] == "🎯 Closing in on #1"
    assert left.blocks[0]["text"]["text"] == "↩️ Falling back from #1" and "#3 → #8" in left.text
    assert kinds(conn) == ["entered_top_n", "left_top_n"]


def test_without_top_n_a_rule_hears_only_of_badges(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS)
    Passes(keepa).ranks(9, 2, 1)
    [message] = slack.messages(SLACK_CHANNEL)
    assert "#1 Best Seller gained" in message.text
    assert kinds(conn) == ["gained"]


def test_reaching_or_leaving_number_one_is_a_badge_change_not_closing_in(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3", "--renotify-window", "0")
    Passes(keepa).ranks(7, 1, 9)
    assert kinds(conn) == ["gained", "lost"]
    assert [m.blocks[0]["text"]["text"] for m in slack.messages(SLACK_CHANNEL)] == [
        "🏆 #1 Best Seller gained",
        "📉 #1 Best Seller lost",
    ]


def test_each_rule_hears_of_the_crossings_of_its_own_n(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3")
    watch(OURS, "--top", "10", client="globex", channel=OTHER_CHANNEL)
    Passes(keepa).ranks(12, 5, 2)
    [near] = slack.messages(SLACK_CHANNEL)
    [far] = slack.messages(OTHER_CHANNEL)
    assert "#5 → #2" in near.text and "#12 → #5" in far.text
    assert kinds(conn) == ["entered_top_n", "entered_top_n"]


def test_unknown_ranks_never_close_in(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    watch(OURS, "--top", "3")
    cli("asins", "add", THEIRS, "--client", "acme")
    passes = Passes(keepa)
    keepa.set_ranks(THEIRS, {KITCHEN: 900})
    passes.run(2)  # first seen at #2: a baseline
    passes.run(theirs=3)  # a category not reported before
    del keepa.world[("com", OURS)]  # Keepa has no data for it
    passes.run()
    assert kinds(conn) == [] and slack.messages() == []


def test_the_main_category_closes_in_only_for_rules_that_ask(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3")
    passes = Passes(keepa)
    passes.ranks(40, main=8)
    passes.ranks(40, main=2)
    assert kinds(conn) == [] and slack.messages() == []
    cli("clients", "rule", "acme", "--top-main")
    passes.ranks(40, main=9)
    [message] = slack.messages(SLACK_CHANNEL)
    assert message.blocks[0]["text"]["text"] == "↩️ Falling back from #1"
    assert "#2 → #9" in message.text


def test_enter_leave_enter_within_the_window_is_one_updated_message(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3")
    Passes(keepa).ranks(4, 3, 4, 2)
    [message] = slack.messages(SLACK_CHANNEL)
    assert message.edits == 2
    assert "Flapping: closing in → falling back → closing in" in text_of(message)
    statuses = [row[0] for row in conn.execute("SELECT status FROM notification_log ORDER BY id")]
    assert statuses == ["sent", "suppressed", "suppressed"]


def test_a_badge_gain_after_closing_in_is_its_own_message(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3")
    Passes(keepa).ranks(5, 2, 1)
    closing, gained = slack.messages(SLACK_CHANNEL)
    assert "Closing in on #1" in closing.text and "#1 Best Seller gained" in gained.text
    assert "Flapping" not in text_of(gained)


def test_an_hourly_digest_counts_closing_in_next_to_the_badges(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3", "--mode", "hourly")
    cli("asins", "add", THEIRS, "--client", "acme")
    passes = Passes(keepa)
    passes.run(6, theirs=2)
    passes.run(3, theirs=1)
    assert slack.messages() == []
    passes.at = START + timedelta(minutes=55)
    passes.run()
    [digest] = slack.messages(SLACK_CHANNEL)
    assert "🏆 1 gained · 📉 0 lost · 🎯 1 closing in" in digest.text
    assert OURS in text_of(digest) and THEIRS in text_of(digest)


def test_quiet_hours_hold_closing_in_until_they_end(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3", "--quiet", "22:00-07:00", "--timezone", "Europe/Berlin")
    passes = Passes(keepa)
    passes.at = datetime(2026, 11, 2, 21, 59, tzinfo=UTC)  # 22:59 in Berlin (CET)
    passes.ranks(7, 2)
    assert slack.messages() == []
    passes.at += timedelta(hours=8)
    passes.run()
    [message] = slack.messages(SLACK_CHANNEL)
    assert "Closing in on #1" in message.text


def test_the_report_and_the_check_count_closing_in(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3", "--renotify-window", "0")
    passes = Passes(keepa)
    passes.ranks(6, 3, 5)
    summary = passes.run(2)
    assert summary.counts == {"gained": 0, "lost": 0, "entered_top_n": 1, "left_top_n": 0,
                              "new_holder": 0, "list_top_n": 0}  # fmt: skip
    report = json.loads(cli("report", "--json", "--since", "2026-11-01"))
    counted = {kind: report["changes"][kind] for kind in summary.counts}
    assert counted == {"gained": 0, "lost": 0, "entered_top_n": 2, "left_top_n": 1,
                       "new_holder": 0, "list_top_n": 0}  # fmt: skip
    [row] = report["asins"]
    assert (row["entered_top_n"], row["left_top_n"]) == (2, 1)
    markdown = cli("report", "--markdown", "--since", "2026-11-01")
    assert "Badges: 0 gained, 0 lost, 2 closing in, 1 falling back;" in markdown


@pytest.mark.parametrize("size", ["1", "101", "-3"])
def test_a_top_n_outside_2_to_100_is_refused_with_the_option_named(
    env: dict[str, str], conn: psycopg.Connection, size: str
) -> None:
    result = CliRunner().invoke(app, ["clients", "add", "acme", "--top", size])
    assert result.exit_code == 2
    assert "--top takes a rank from 2 to 100 (0 turns it off)" in result.stderr
    assert conn.execute("SELECT count(*) FROM notification_rules").fetchone() == (0,)


def test_top_n_is_off_by_default_and_top_zero_turns_it_off(env: dict[str, str]) -> None:
    cli("clients", "add", "acme", "--channel", SLACK_CHANNEL)
    cli("clients", "add", "globex", "--channel", OTHER_CHANNEL, "--top", "3", "--top-main")
    acme, globex = json.loads(cli("clients", "list", "--json"))
    assert (acme["rules"][0]["top_n"], acme["rules"][0]["top_n_main"]) == (0, False)
    assert (globex["rules"][0]["top_n"], globex["rules"][0]["top_n_main"]) == (3, True)
    assert "top 3 incl. main category" in cli("clients", "rule", "globex", "--mode", "hourly")
    cli("clients", "rule", "globex", "--top", "0")
    _, globex = json.loads(cli("clients", "list", "--json"))
    assert globex["rules"][0]["top_n"] == 0


def test_the_global_defaults_can_ask_for_top_n_for_asins_no_client_covers(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    cli("asins", "add", OURS)
    passes = Passes(keepa)
    passes.ranks(9, 6)
    cli("settings", "set", "top_n", "3")
    cli("settings", "set", "renotify_window_minutes", "0")
    passes.ranks(3, 2, 5)
    entered, left = slack.messages(SLACK_CHANNEL)
    assert entered.blocks[0]["text"]["text"] == "🎯 Closing in on #1" and "#6 → #3" in entered.text
    assert left.blocks[0]["text"]["text"] == "↩️ Falling back from #1"
    assert json.loads(cli("settings", "show", "--json"))["top_n"] == 3


def test_closing_in_on_the_main_category_shows_its_trajectory_kept_per_check(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    watch(OURS, "--top", "3", "--top-main")
    cli("asins", "add", THEIRS, "--client", "acme")  # checked in the same batches, far behind
    passes = Passes(keepa)
    for main in (8, 6, 2):
        keepa.set_ranks(THEIRS, {KITCHEN: 70 + main, GADGETS: 50})
        passes.run(40, main=main)
    [message] = slack.messages(SLACK_CHANNEL)
    assert OURS in message.text
    assert "Rank, last 24 h: #8 → #6 → #2" in text_of(message)
