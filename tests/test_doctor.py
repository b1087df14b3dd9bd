"""`bestseller doctor`: a green table when all is well, a red row and exit 1 when not."""

from typer.testing import CliRunner

from bestseller_cli import store
from bestseller_cli.cli import app
from tests.conftest import KEEPA_TEST_KEY
from tests.keepa_server import FakeKeepa
from tests.slack_server import FakeSlack

runner = CliRunner()


def test_all_green_when_every_part_works(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    store.add_tracked(conn, asins=["B0AAAAAAAA"], marketplace="com", client=None)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "fail" not in result.output
    for part in ("database", "run lock", "Keepa key", "Keepa budget", "Slack token", "C0ALERTS"):
        assert part in result.output


def test_a_rejected_keepa_key_is_a_red_row_without_the_key(
    keepa: FakeKeepa, slack: FakeSlack
) -> None:
    keepa.fail_next = [400]
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "fail" in result.output and "KEEPA_API_KEY" in result.output
    assert KEEPA_TEST_KEY not in result.output


def test_a_bot_outside_its_channel_is_red(keepa: FakeKeepa, slack: FakeSlack) -> None:
    slack.not_member_of.add("C0ALERTS")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "/invite" in result.output


def test_a_plan_too_small_for_the_watch_list_is_red(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    original = keepa.answer

    def tiny_plan(path: str, query: dict) -> tuple[int, dict]:
        status, body = original(path, query)
        return status, {**body, "refillRate": 0}

    keepa.answer = tiny_plan  # type: ignore[method-assign]
    store.add_tracked(conn, asins=["B0AAAAAAAA"], marketplace="com", client=None)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "1 tracked" in result.output


def test_missing_keepa_key_is_red_and_named(slack: FakeSlack, monkeypatch) -> None:
    monkeypatch.delenv("KEEPA_API_KEY")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "KEEPA_API_KEY" in result.output
