"""The contract of `AlertChannel` (alerts/port.py), after vdirsyncer's `StorageTests`: the
behaviours every adapter honours, written once and rerun by each adapter's test class:
Slack (tests/slack/test_channel.py, against the fake Slack), signed webhooks
(tests/webhook/test_channel.py, against a loopback receiver that verifies every signature),
the printer (tests/alerts/test_channels.py) and the demo's recorder (tests/demo/test_world.py).

An adapter's class inherits `ChannelContract` and gives three fixtures: `channel` (the
adapter), `address` (an address it delivers to) and `far_end` (a `FarEnd`: what arrived
where its messages go). What every adapter must do:

- `post` delivers the message and returns a non-empty reference of its own;
- `live_anywhere` is True when the adapter is live at its address;
- `delivered` never finds what the adapter did not post, another app's message included.

Where an adapter cannot do something, the contract says what it must answer instead:

- **Not live** (the printer: its alerts go out once, whole, when the pass ends): `live` is
  False, `live_anywhere` too, and `update` raises a permanent `DeliveryError`: delivery
  never asks, and if it did, no half-updated duplicate would follow.
- **No pictures** (`takes_pictures` False: the printer, webhooks): `attach` raises a
  permanent `DeliveryError`, never a silent success.
- **No history** (`REMEMBERS = False`: a webhook cannot be asked what it delivered, a
  printed line cannot be read back): `delivered` answers `{}`, without raising; reconciliation
  then sends the alert again. A channel that can lose an answer (`KEYED = True`: the webhook)
  must therefore send it again under the same reference (its `webhook-id`), so that the
  receiver deduplicates it; one that cannot lose an answer (the printer) has nothing to find.
- **Nothing to refuse** (the printer, the recorder: nothing outside the process): the
  refusal test is skipped, saying so.
"""

from datetime import UTC, datetime, timedelta
from typing import ClassVar, Protocol

import pytest

from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.errors import DeliveryError
from bestseller_cli.models import Change, Outgoing, Picture

ASIN, OTHER_ASIN = "B0C0NTRACT", "B0C0THER00"
TITLE, RENAMED = "Contract Tongs, 12 inch", "Contract Tongs, renamed"
NOTICE = "Keepa rejects the API key"
DETECTED = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
PICTURE = Picture(png=b"\x89PNG\r\n\x1a\n" + bytes(64), title="Rank, 30 days", alt="a chart")


def alert(outbox_id: int, *, asin: str = ASIN, title: str = TITLE) -> Outgoing:
    change = Change(
        asin=asin,
        marketplace="com",
        category_id=7,
        category_name="Kitchen Tongs",
        kind="gained",
        rank_before=4,
        rank_after=1,
        main_rank=1234,
        title=title,
        detected_at=DETECTED,
    )
    return Outgoing(outbox_ids=(outbox_id,), changes=(change,))


class FarEnd(Protocol):
    """Where an adapter's messages arrive, as its test reads them."""

    def arrived(self) -> dict[str, str]:
        """Reference -> the text the far end holds under it now (updates replace it)."""
        ...

    def pictures(self, ref: str) -> int:
        """How many pictures arrived under message `ref`."""
        ...

    def plant(self, outbox_id: int) -> None:
        """Put there a message this adapter did not post that claims to carry outbox row
        `outbox_id` (another app's), where the far end can hold one."""
        ...

    def refuse(self) -> bool:
        """Refuse every message from now on; False where nothing can refuse."""
        ...


class ChannelContract:
    """Every `AlertChannel` adapter's behaviour; see the module docstring."""

    REMEMBERS: ClassVar[bool] = True  # `delivered` finds what it posted
    KEYED: ClassVar[bool] = False  # a message sent again keeps its reference

    def test_it_is_an_alert_channel(self, channel: AlertChannel) -> None:
        assert isinstance(channel, AlertChannel)

    def test_a_post_delivers_the_message_and_returns_its_reference(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        ref = channel.post(channel=address, message=alert(41))
        assert isinstance(ref, str) and ref
        assert TITLE in far_end.arrived()[ref]

    def test_each_message_gets_a_reference_of_its_own(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        first = channel.post(channel=address, message=alert(41))
        second = channel.post(channel=address, message=alert(42, asin=OTHER_ASIN))
        assert first != second
        arrived = far_end.arrived()
        assert ASIN in arrived[first] and OTHER_ASIN in arrived[second]

    def test_an_operations_notice_is_delivered_too(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        notice = Outgoing(outbox_ids=(), notice=NOTICE, status="open since 12:30 UTC")
        ref = channel.post(channel=address, message=notice)
        assert NOTICE in far_end.arrived()[ref]

    def test_live_anywhere_when_live_at_its_address(
        self, channel: AlertChannel, address: str
    ) -> None:
        assert channel.live_anywhere() == channel.live(address)

    def test_a_live_channel_updates_a_message_in_place(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        if not channel.live(address):
            pytest.skip("not live: its alerts are never updated")
        ref = channel.post(channel=address, message=alert(41))
        channel.post(channel=address, message=alert(42, asin=OTHER_ASIN))
        channel.update(channel=address, ref=ref, message=alert(41, title=RENAMED))
        arrived = far_end.arrived()
        assert len(arrived) == 2
        assert RENAMED in arrived[ref]
        assert RENAMED not in "".join(text for key, text in arrived.items() if key != ref)

    def test_a_channel_that_is_not_live_refuses_updates_for_good(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        if channel.live(address):
            pytest.skip("live: it updates in place")
        ref = channel.post(channel=address, message=alert(41))
        with pytest.raises(DeliveryError) as refused:
            channel.update(channel=address, ref=ref, message=alert(41, title=RENAMED))
        assert refused.value.permanent
        assert not channel.live(None) and not channel.live_anywhere()
        assert RENAMED not in "".join(far_end.arrived().values())

    def test_delivered_finds_a_message_it_posted(self, channel: AlertChannel, address: str) -> None:
        if not self.REMEMBERS:
            pytest.skip("keeps no history: see the next test")
        since = datetime.now(UTC) - timedelta(minutes=1)
        ref = channel.post(channel=address, message=alert(41))
        other = channel.post(channel=address, message=alert(42, asin=OTHER_ASIN))
        found = channel.delivered(channel=address, oldest=since)
        assert (found.get(41), found.get(42)) == (ref, other)

    def test_without_history_delivered_finds_nothing_and_a_resend_keeps_its_reference(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        if self.REMEMBERS:
            pytest.skip("keeps history: found again, never sent twice")
        since = datetime.now(UTC) - timedelta(minutes=1)
        ref = channel.post(channel=address, message=alert(41))
        assert channel.delivered(channel=address, oldest=since) == {}
        if self.KEYED:
            assert channel.post(channel=address, message=alert(41)) == ref
            assert list(far_end.arrived()) == [ref]

    def test_delivered_does_not_find_what_it_did_not_post(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        since = datetime.now(UTC) - timedelta(minutes=1)
        channel.post(channel=address, message=alert(41))
        far_end.plant(43)
        found = channel.delivered(channel=address, oldest=since)
        assert 42 not in found and 43 not in found

    def test_a_picture_goes_under_its_message_where_pictures_are_taken(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        if not channel.takes_pictures(address):
            pytest.skip("takes no pictures: see the next test")
        ref = channel.post(channel=address, message=alert(41))
        channel.attach(channel=address, ref=ref, picture=PICTURE)
        assert far_end.pictures(ref) == 1

    def test_a_channel_without_pictures_refuses_them_for_good(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        if channel.takes_pictures(address):
            pytest.skip("takes pictures")
        ref = channel.post(channel=address, message=alert(41))
        with pytest.raises(DeliveryError) as refused:
            channel.attach(channel=address, ref=ref, picture=PICTURE)
        assert refused.value.permanent
        assert far_end.pictures(ref) == 0

    def test_a_refusal_is_a_permanent_delivery_error(
        self, channel: AlertChannel, address: str, far_end: FarEnd
    ) -> None:
        if not far_end.refuse():
            pytest.skip("nothing outside the process to refuse")
        with pytest.raises(DeliveryError) as refused:
            channel.post(channel=address, message=alert(41))
        assert refused.value.permanent
