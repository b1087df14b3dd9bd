"""The story lines of an alert (story.py): pure, so each rule is shown on plain values."""

from datetime import UTC, datetime, timedelta

from bestseller_cli.rules.story import (
    AlertStory,
    ListedHolder,
    OtherProduct,
    duration,
    flap_line,
    freshness_line,
    story_lines,
    trajectory,
)
from tests.slack.test_slack import DETECTED, change

RIVAL = OtherProduct("B0RIVAL001", "Rival Tongs Pro", own=False)


def test_a_trajectory_folds_repeated_ranks_and_names_gaps_unranked() -> None:
    assert trajectory([7, 7, 4, None, None, 1]) == "#7 → #4 → unranked → #1"


def test_a_trajectory_writes_large_ranks_with_thousands_separators() -> None:
    assert trajectory([12_345, 1]) == "#12,345 → #1"


def test_durations_show_the_two_largest_units_and_never_go_negative() -> None:
    assert duration(timedelta(days=3, hours=4, minutes=59)) == "3 d 4 h"
    assert duration(timedelta(hours=2)) == "2 h 0 min"
    assert duration(timedelta(seconds=119)) == "1 min"
    assert duration(timedelta(minutes=-5)) == "0 min"


def test_a_loss_names_the_tracked_product_that_holds_it_now() -> None:
    story = AlertStory(other=RIVAL, ranks=[1, 1, 3])
    assert story_lines(change("lost"), story) == [
        "Now #1: B0RIVAL001 Rival Tongs Pro (tracked competitor)",
        "Rank, last 24 h: #1 → #3",
    ]


def test_a_loss_nobody_explains_says_the_holder_is_not_known_yet() -> None:
    assert story_lines(change("lost"), AlertStory()) == [
        "Now #1: not known yet (no tracked product holds it)"
    ]


def test_a_loss_names_the_head_of_keepas_list_with_the_lists_own_update_time() -> None:
    listed = ListedHolder("B0OUTSIDER", datetime(2026, 11, 22, 6, 12, tzinfo=UTC))
    (line,) = story_lines(change("lost"), AlertStory(listed_holder=listed))
    assert line == "Now #1 per Keepa's best seller list, updated 2026-11-22 06:12 UTC: B0OUTSIDER"


def test_a_list_still_showing_the_product_that_lost_names_nobody() -> None:
    listed = ListedHolder(change("lost").asin, None)
    (line,) = story_lines(change("lost"), AlertStory(listed_holder=listed))
    assert line == "Now #1: holder unknown (Keepa's best seller list still shows this product)"


def test_a_loss_says_how_long_the_badge_was_held_at_least_when_it_predates_watching() -> None:
    since = DETECTED - timedelta(days=3, hours=4)
    exact = story_lines(change("lost"), AlertStory(other=RIVAL, badge_since=since))
    bound = AlertStory(other=RIVAL, badge_since=since, since_is_lower_bound=True)
    assert exact[-1] == "Held #1 for 3 d 4 h"
    assert story_lines(change("lost"), bound)[-1] == "Held #1 for at least 3 d 4 h"


def test_a_gain_names_whom_it_displaced_and_when_it_last_held_the_badge() -> None:
    until = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    story = AlertStory(other=OtherProduct("B0MINE0001", None, own=True), last_held_until=until)
    assert story_lines(change("gained"), story) == [
        "Displaced: B0MINE0001 (your product)",
        "Last held #1 until 2026-11-19 16:00 UTC",
    ]


def test_a_first_gain_says_so_and_a_single_rank_draws_no_trajectory() -> None:
    assert story_lines(change("gained"), AlertStory(ranks=[1])) == [
        "First time at #1 here since we started watching"
    ]


def test_keepa_data_up_to_an_hour_old_is_not_mentioned() -> None:
    assert freshness_line(change("gained", keepa_seen_at=DETECTED - timedelta(hours=1))) is None
    assert freshness_line(change("gained")) is None


def test_older_keepa_data_is_dated_in_the_alert() -> None:
    seen = DETECTED - timedelta(hours=4, minutes=52)
    lines = story_lines(change("gained", keepa_seen_at=seen), AlertStory())
    assert lines[-1] == (
        "Keepa last saw this product 2026-11-01 07:38 UTC (4 h 52 min before this check)"
    )


def test_a_flap_line_lists_the_kinds_in_order_and_the_window() -> None:
    line = flap_line(["gained", "lost", "gained"], window=timedelta(hours=2))
    assert line == "⚠️ Flapping: gained → lost → gained within 2 h 0 min; latest below"


def test_a_badge_that_came_and_went_between_two_checks_is_told_as_held_from_to() -> None:
    gained = DETECTED - timedelta(minutes=78)  # 11:12
    lost = change("lost", changed_at=DETECTED - timedelta(minutes=50))  # 11:40
    story = AlertStory(badge_since=gained, between_checks=[("gained", gained)])
    assert story_lines(lost, story) == [
        "Between two checks, per Keepa: held #1 from 11:12 to 11:40 UTC",
        "Now #1: not known yet (no tracked product holds it)",
        "Held #1 for 28 min",
    ]


def test_a_badge_lost_and_taken_back_between_two_checks_says_until_and_since() -> None:
    back = change("gained", changed_at=DETECTED - timedelta(minutes=10))
    story = AlertStory(between_checks=[("lost", DETECTED - timedelta(minutes=25))])
    assert story_lines(back, story)[0] == (
        "Between two checks, per Keepa: held #1 until 12:05, and since 12:20 UTC"
    )


def test_closing_in_and_falling_back_between_two_checks_are_told_in_turn() -> None:
    left = change("left_top_n", rank_before=3, rank_after=9, changed_at=DETECTED)
    story = AlertStory(between_checks=[("entered_top_n", DETECTED - timedelta(minutes=30))])
    assert story_lines(left, story)[0] == (
        "Between two checks, per Keepa: closed in on #1 at 12:00 → fell back from #1 at 12:30 UTC"
    )
