"""`bestseller report --html`: one self-contained page with the report's numbers, a table by
badge share, a chart per product, who held #1 and the changes, over seeded compact history."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from fakes.slack_server import FakeSlack
from tests.conftest import SLACK_CHANNEL
from tests.report.conftest import OWN, RIVAL, at, run


class Page(HTMLParser):
    """What a browser would fetch, run or show of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def html_page(tmp_path: Path, *args: str) -> Page:
    target = tmp_path / "report.html"
    result = run("report", "--html", str(target), *args)
    assert result.exit_code == 0, result.stderr
    assert f"wrote the report to {target}" in result.stderr
    return Page(target.read_text())


def test_the_page_fetches_and_runs_nothing(history: psycopg.Connection, tmp_path: Path) -> None:
    page = html_page(tmp_path)
    assert page.all("script") == [] and page.all("img") == [] and page.all("link") == []
    assert not re.search(r"@import|url\(", " ".join(page.text))
    for attrs in page.all("a"):
        assert attrs["href"].startswith(("https://www.amazon.com/dp/", "#chart-")), attrs
    assert [a for _, attrs in page.tags for a in attrs if a in {"src", "srcset"}] == []


def test_the_head_has_the_numbers_of_the_json_report(
    history: psycopg.Connection, tmp_path: Path
) -> None:
    page = html_page(tmp_path)
    report = json.loads(run("report", "--json").stdout)
    assert f"Badges: {report['changes']['gained']} gained, {report['changes']['lost']} lost" in (
        page.words
    )
    assert f"{len(report['holders'])} ASIN(s) hold #1 now" in page.words
    assert f"Alerts: {report['alerts']['sent']} sent" in page.words


def test_the_table_is_sorted_by_badge_share_with_streaks_and_holders(
    history: psycopg.Connection, tmp_path: Path
) -> None:
    page = html_page(tmp_path)
    report = {a["asin"]: a for a in json.loads(run("report", "--json").stdout)["asins"]}
    words = page.words
    rival_share = f"{report[RIVAL]['badge_share']:.0%}"
    own_share = f"{report[OWN]['badge_share']:.0%}"
    assert report[RIVAL]["badge_share"] > report[OWN]["badge_share"]
    assert words.index(f"Rival Press & Co {RIVAL} · amazon.com {rival_share}") < words.index(
        f"Acme Garlic Press <Pro> {OWN} · amazon.com {own_share}"
    )
    assert f"Garlic Presses since {at(15):%Y-%m-%d %H:%M} UTC" in words  # RIVAL's #1 now
    assert "#419" in words  # OWN's last main rank in the period


def test_each_product_has_a_chart_of_its_categories_that_matter(
    history: psycopg.Connection, tmp_path: Path
) -> None:
    page = html_page(tmp_path)
    figures = [attrs["id"] for attrs in page.all("figure") if attrs.get("id")]
    assert figures == [f"chart-{RIVAL}-com", f"chart-{OWN}-com"]
    assert "Garlic Presses: best #1" in page.words
    assert "Kitchen & Dining (main): best #400" in page.words
    assert "Gadgets" not in page.words  # never near #1
    bands = [r["class"] for r in page.all("rect") if float(r.get("height") or 0) > 100]
    # RIVAL's two stretches at #1, OWN's one cut in two by the hours no pass saw
    assert bands.count("at1") == 4
    assert bands.count("unobserved") == 4  # each chart: before the first pass, none at 8-10
    titles = [attrs.get("aria-labelledby") for attrs in page.all("svg")]
    assert all(titles)


def test_who_held_one_shows_each_product_and_when(
    history: psycopg.Connection, tmp_path: Path
) -> None:
    page = html_page(tmp_path)
    assert "Who held #1 in Garlic Presses (amazon.com)" in page.words
    bars = [r["data-asin"] for r in page.all("rect") if r.get("class") == "tenure"]
    assert sorted(bars) == [OWN, RIVAL, RIVAL]
    assert f"{OWN} held #1 from {at(5):%Y-%m-%d %H:%M} UTC to {at(15):%Y-%m-%d %H:%M} UTC" in (
        page.words
    )


def test_the_changes_are_listed_and_times_follow_the_timezone(
    history: psycopg.Connection, tmp_path: Path
) -> None:
    page = html_page(tmp_path, "--timezone", "Asia/Tokyo")
    tokyo = at(5).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo:%Y-%m-%d %H:%M} Asia/Tokyo gained Acme Garlic Press <Pro>" in page.words
    assert "Changes (4)" in page.words


def test_html_to_stdout_and_the_options_it_refuses(history: psycopg.Connection) -> None:
    result = run("report", "--html", "-", "--since", "2d")
    assert result.exit_code == 0 and result.stdout.startswith("<!DOCTYPE html>")
    both = run("report", "--html", "-", "--json")
    assert both.exit_code == 2 and "choose one of" in both.stderr
    zone = run("report", "--html", "-", "--timezone", "Mars/Olympus")
    assert zone.exit_code == 2 and "unknown timezone 'Mars/Olympus'" in zone.stderr
    unwritable = run("report", "--html", "/proc/no/such/dir/report.html")
    assert unwritable.exit_code == 2 and "cannot write it" in unwritable.stderr


def test_a_report_posted_to_slack_carries_its_overview_chart_in_its_thread(
    history: psycopg.Connection, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CHARTS", "true")
    result = run("report", "--to-slack")
    assert result.exit_code == 0, result.stderr
    # Without --html the terminal gets the report's tables, not the page its chart came from.
    assert "<html" not in result.stdout and "Badges:" in result.stdout
    [message] = slack.messages(SLACK_CHANNEL)
    [shared] = slack.files(SLACK_CHANNEL)
    assert shared.thread_ts == message.ts
    assert shared.title == "Who held #1 in Garlic Presses (amazon.com)"
    assert f"{OWN} held #1 from" in shared.alt_txt
    slack.scopes.remove("files:write")
    again = run("report", "--to-slack")
    assert again.exit_code == 0  # the report went out; its chart could not
    assert "no chart under the report" in again.stderr and "missing_scope" in again.stderr
    assert len(slack.messages(SLACK_CHANNEL)) == 2 and len(slack.files()) == 1
    logged = history.execute("SELECT count(*) FROM error_log WHERE kind = 'chart'").fetchone()
    assert logged == (1,)
