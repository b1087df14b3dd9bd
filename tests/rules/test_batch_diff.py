"""The diff of a batch carries each product's chance of a #1 crossing from check to check,
and counts which answers Keepa served from its cache."""

from datetime import UTC, datetime, timedelta

from bestseller_cli.models import CategoryRank, ProductSnapshot, StoredState
from bestseller_cli.rules.batch_diff import DiffSettings, KnownAsin, RuleBook, diff_batch
from bestseller_cli.rules.likelihood import estimate
from bestseller_cli.rules.schedule import Cadence

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GADGETS = 289913
GIVEN = DiffSettings(rules=RuleBook(), cadence=Cadence(), stale_hours=24.0, missing_unknown_after=1)


def snapshot(
    asin: str, ranks: list[tuple[datetime, int]], *, last_update: datetime
) -> ProductSnapshot:
    return ProductSnapshot(
        asin=asin,
        marketplace="com",
        last_update=last_update,
        category_ranks={GADGETS: CategoryRank(category_id=GADGETS, rank=ranks[-1][1])},
        rank_series={GADGETS: ranks},
    )


def known(*, rank: int, checked_at: datetime, keepa_updated_at: datetime, rate: float) -> KnownAsin:
    state = StoredState(
        category_ranks={GADGETS: CategoryRank(category_id=GADGETS, rank=rank)},
        badges={GADGETS: checked_at} if rank == 1 else {},
        first_seen_at=checked_at - timedelta(days=3),
        checked_at=checked_at,
        series_until=checked_at,
    )
    return KnownAsin(
        previous=state, trackers=[None], keepa_updated_at=keepa_updated_at, crossing_rate=rate
    )


def test_each_product_carries_its_chance_estimated_from_the_rate_stored_before() -> None:
    before = NOW - timedelta(hours=1)
    entry = known(rank=2, checked_at=before, keepa_updated_at=before, rate=0.1)
    answer = snapshot(
        "B0RISING01", [(before, 2), (NOW - timedelta(minutes=30), 1)], last_update=NOW
    )
    outcome = diff_batch(
        "com", [answer], {"B0RISING01": entry}, names=[], observed_at=NOW, given=GIVEN
    )
    [product] = outcome.observed
    expected = estimate(answer, lately_before=0.1, checked_before=before, best_before=2, now=NOW)
    assert product.chance == expected
    assert product.chance.lately > 0.1  # the crossing it saw adds to the decayed rate
    assert product.next_check is not None
    assert "chance of a #1 change within the hour" in product.next_check.reason


def test_an_answer_no_newer_than_the_one_before_counts_as_cached() -> None:
    before = NOW - timedelta(minutes=15)
    updated = NOW - timedelta(minutes=40)  # Keepa's data then, and still
    far = known(rank=900, checked_at=before, keepa_updated_at=updated, rate=0.0)
    near = known(rank=3, checked_at=before, keepa_updated_at=updated, rate=0.0)
    answers = [
        snapshot("B0CACHED01", [(updated, 900)], last_update=updated),
        snapshot("B0FRESH001", [(NOW, 3)], last_update=NOW - timedelta(minutes=1)),
        snapshot("B0FIRST001", [(NOW, 50)], last_update=updated),  # never checked: fresh
    ]
    outcome = diff_batch(
        "com",
        answers,
        {
            "B0CACHED01": far,
            "B0FRESH001": near,
            "B0FIRST001": KnownAsin(previous=None, trackers=[None]),
        },
        names=[],
        observed_at=NOW,
        given=GIVEN,
    )
    assert (outcome.counts.fresh_answers, outcome.counts.cached_answers) == (2, 1)
