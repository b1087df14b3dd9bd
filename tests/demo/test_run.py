"""`bestseller demo`: the real pass over the generated day, Keepa and Slack answered in this
process, then the day's report."""

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from bestseller_cli.demo.run import DemoPass, demo_settings, run_demo
from bestseller_cli.demo.scenario import CHANNEL, NEWCOMER, PRODUCTS
from bestseller_cli.kinds import count


@pytest.fixture
def passes(database_url: str, tmp_path: Path) -> tuple[list[DemoPass], object]:
    """The demo's day, on the test database."""
    settings = demo_settings(tmp_path / "home").model_copy(update={"database_url": database_url})
    seen: list[DemoPass] = []
    pictures = run_demo(settings, on_pass=seen.append)
    return seen, pictures


def texts(passes: list[DemoPass]) -> list[str]:
    """The alerts' texts, as posted."""
    return [e.message.text for done in passes for e in done.slack if e.chart is None]


def test_a_day_of_passes_checks_every_product_every_hour_but_two(passes: tuple) -> None:
    done, _ = passes
    assert len(done) == 22
    assert {d.summary.checked for d in done} == {len(PRODUCTS)}
    assert {d.summary.exit_code for d in done} == {0}


def test_the_alerts_tell_a_gain_a_loss_a_flip_and_a_competitor_taking_one(passes: tuple) -> None:
    done, _ = passes
    events = [event for d in done for event in d.slack]
    assert {event.channel for event in events} == {CHANNEL}
    alerts = texts(done)
    tongs = [t.split(":")[0] for t in alerts if "Acme Silicone Kitchen Tongs" in t]
    assert tongs == [
        "🏆 #1 Best Seller gained",
        "📉 #1 Best Seller lost",
        "🏆 #1 Best Seller gained",
    ]
    assert any("Closing in on #1: Acme Herb Scissors" in t for t in alerts)
    taken = [e for d in done for e in d.slack if "lost: Acme Garlic Press" in e.message.text]
    (lost,) = taken
    context = " ".join(lost.message.details)
    assert "Now #1: B0DEMORV01 Rival Garlic Press Pro (tracked competitor)" in context


def test_each_badge_alert_has_its_chart_in_its_thread(passes: tuple) -> None:
    done, _ = passes
    events = [event for d in done for event in d.slack]
    alerts = {e.ts: e for e in events if e.chart is None and "Best Seller" in e.message.text}
    charts = [e for e in events if e.chart is not None]
    assert sorted(chart.ts for chart in charts) == sorted(alerts)
    assert all(chart.chart.startswith(b"\x89PNG") for chart in charts)


def test_the_report_of_the_day_has_every_product_and_change(passes: tuple) -> None:
    done, pictures = passes
    report = pictures.report
    assert report.client == "acme"
    assert {a.asin for a in report.asins} == {p.asin for p in PRODUCTS}
    # The rival's scissors lose #1 to the newcomer: a change of a tracked product; the new #1
    # itself is the category's (its section below), not one of the client's products'.
    assert report.changes.counts == {**count(()), "gained": 4, "lost": 4, "entered_top_n": 1}
    posted = [e for d in done for e in d.slack if e.chart is None and not e.updated]
    assert report.alerts.sent == len(posted)  # a message updated in place is one alert
    (timeline,) = pictures.timelines
    assert timeline.name == "Garlic Presses"
    assert set(pictures.charts) == {(p.asin, "com") for p in PRODUCTS}


def test_an_untracked_newcomer_takes_number_one_in_the_watched_category(passes: tuple) -> None:
    done, pictures = passes
    [alert] = [t for t in texts(done) if t.startswith("👑 New #1 in Herb Scissors")]
    assert f"{NEWCOMER.title} ({NEWCOMER.asin}" in alert
    [event] = [e for d in done for e in d.slack if e.message.text == alert]
    context = " ".join(event.message.details)
    assert f"Now #1: {NEWCOMER.asin} {NEWCOMER.title} (untracked)" in context
    assert "Before: B0DEMORV02 Rival Herb Scissors (tracked competitor), now #2" in context
    assert "Per Keepa's best seller list (sub-category rank), updated" in context
    # The day's report says who held #1 there, and draws it.
    [scissors] = pictures.report.categories
    assert scissors.name == "Herb Scissors" and scissors.current.asin == NEWCOMER.asin
    assert [(s.asin, s.role) for s in scissors.stretches] == [
        ("B0DEMORV02", "competitor"),
        (NEWCOMER.asin, "untracked"),
    ]
    [timeline] = pictures.category_timelines
    assert [lane.note for lane in timeline.lanes] == [None, "untracked"]


def test_the_command_uses_its_own_database_whatever_the_environment_says(
    env: dict[str, str], conn: psycopg.Connection, tmp_path: Path
) -> None:
    target = tmp_path / "day.html"
    home = tmp_path / "demo-home"
    command = [sys.executable, "-m", "bestseller_cli", "demo", "--home", str(home)]
    result = subprocess.run(
        [*command, "--html", str(target), "--charts", str(tmp_path / "charts")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Piped, the alerts still read as they would look, not as log records.
    assert "ALERT 🏆 #1 Best Seller gained: Acme Garlic Press" in result.stdout
    assert '"event"' not in result.stdout
    assert f"The day's report: {target}" in result.stdout
    assert "ALERT 👑 New #1 in Herb Scissors: Snipwell Herb Scissors" in result.stdout
    assert target.read_text().startswith("<!DOCTYPE html>")
    # One SVG per product; the README's chart is the garlic press's, as the demo draws it.
    drawn = {path.name: path.read_text() for path in (tmp_path / "charts").iterdir()}
    assert len(drawn) == 5
    title = re.compile(r"<title[^>]*>([^<]*)</title>")
    readme_chart = (Path(__file__).parents[2] / "docs" / "demo-chart.svg").read_text()
    assert title.search(readme_chart)[1] == title.search(drawn["B0DEMOAC01.svg"])[1]
    # DATABASE_URL (the test database here) was not touched: the demo kept to its home.
    assert conn.execute("SELECT count(*) FROM tracked_asins").fetchone() == (0,)
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "give `--home` a new folder" in again.stderr


def test_charts_replace_links_planted_in_their_folder_without_following_them(
    passes: tuple, tmp_path: Path
) -> None:
    from bestseller_cli.cli.demo import write_charts

    _, pictures = passes
    victim = tmp_path / "victim.txt"
    victim.write_text("the operator's own file\n")
    folder = tmp_path / "charts"
    folder.mkdir()
    (folder / "B0DEMOAC01.svg").symlink_to(victim)
    (folder / ".B0DEMOAC01.svg.partial").symlink_to(victim)

    write_charts(pictures, folder)

    assert victim.read_text() == "the operator's own file\n"
    chart = folder / "B0DEMOAC01.svg"
    assert not chart.is_symlink() and chart.read_text().startswith("<svg")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{p.asin}.svg" for p in PRODUCTS)
