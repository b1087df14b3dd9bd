"""The printer honours the channel contract (contract.py): each alert is shown once, whole,
when it is posted; it is not live, takes no pictures, cannot be updated and keeps no history
(a printed line cannot be read back, and printing has no answer to lose)."""

import pytest

from bestseller_cli.alerts.channels import Printer
from bestseller_cli.models import Printed
from tests.alerts.contract import ChannelContract


class Terminal:
    """What the printer showed, in order; its references are `printed-1`, `printed-2`, …"""

    def __init__(self) -> None:
        self.shown: list[Printed] = []

    def show(self, printed: Printed) -> None:
        self.shown.append(printed)

    def arrived(self) -> dict[str, str]:
        return {
            f"printed-{number}": "\n".join((printed.text, *printed.details))
            for number, printed in enumerate(self.shown, start=1)
        }

    def pictures(self, ref: str) -> int:
        return 0

    def plant(self, outbox_id: int) -> None:
        pass

    def refuse(self) -> bool:
        return False


class TestPrinter(ChannelContract):
    REMEMBERS = False

    @pytest.fixture
    def far_end(self) -> Terminal:
        return Terminal()

    @pytest.fixture
    def channel(self, far_end: Terminal) -> Printer:
        return Printer(far_end.show)

    @pytest.fixture
    def address(self) -> str:
        return "C0ALERTS"
