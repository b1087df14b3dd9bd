"""Where alerts go: the few verbs delivery needs from a channel (the port).

The outbox, flap control, digests, quiet hours and reconciliation (`delivery.py`,
`operations.py`, `charts.py`) speak only to `AlertChannel`. Its implementations are the
adapters: Slack (`slack/channel.py`), signed webhooks (`webhook/channel.py`), the printer
and the router that sends each address to its adapter (`channels.py`, the one place that
wires them), and the demo's recorder (`demo/world.py`). `tests/alerts/contract.py` is the
contract suite each adapter's tests rerun; it says what an adapter that cannot keep history,
take pictures or update in place answers instead.

An address is what an outbox row's `channel` holds: a Slack channel id, a webhook
(`webhook:<rule id>`), or None for the default channel. Failures are `DeliveryError`s;
`DeliveryUnknown` when the message may have arrived without the channel saying so.
"""

from datetime import datetime
from typing import Protocol, runtime_checkable

from bestseller_cli.models import Outgoing, Picture


@runtime_checkable
class AlertChannel(Protocol):
    def live(self, channel: str | None) -> bool:
        """Messages to this address go out as they come and can be updated in place; False
        for a printer, whose alerts go out once, whole, when the pass ends."""
        ...

    def live_anywhere(self) -> bool:
        """Some address is live: a pass delivers batch by batch."""
        ...

    def takes_pictures(self, channel: str) -> bool:
        """A picture can be attached under a message to this address (charts)."""
        ...

    def post(self, *, channel: str, message: Outgoing) -> str:
        """Deliver a message; the reference to update it or attach to it later."""
        ...

    def update(self, *, channel: str, ref: str, message: Outgoing) -> None:
        """Replace a message posted earlier (or tell its receiver it changed)."""
        ...

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        """Outbox id -> reference of every message of ours the channel holds since `oldest`:
        empty where the channel keeps no history (it deduplicates instead)."""
        ...

    def attach(self, *, channel: str, ref: str, picture: Picture) -> None:
        """Put a picture under message `ref`; tried once, never again."""
        ...
