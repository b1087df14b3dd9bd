"""The kinds of change an alert announces, each defined once: its label, emoji, verb, the
rule flag that turns it on, the report bucket that counts it, and its subject.

Code that treats kinds differently reads this table, or matches every kind and ends in
`typing.assert_never`, so that a new kind is one entry here plus the rules that detect it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


class ChangeKind(StrEnum):
    """Stored as its value in bestseller_changes.kind."""

    GAINED = "gained"
    LOST = "lost"
    ENTERED_TOP_N = "entered_top_n"  # "closing in on #1": into ranks 2..N of a rule's top N
    LEFT_TOP_N = "left_top_n"
    # A watched category (from Keepa's best seller list, not a tracked product's ranks):
    NEW_HOLDER = "new_holder"  # the list's #1 changed
    LIST_TOP_N = "list_top_n"  # products entered or left its top N: one digest per list


@dataclass(frozen=True)
class KindDefinition:
    label: str  # the alert's headline
    emoji: str
    verb: str  # what the product did, before "in <category>"
    rule_flag: str  # the notification rule's field that turns these alerts on
    bucket: str  # the words reports and summaries count it under ("3 gained")
    subject: str  # what changed; kinds of one subject flap into one message (story_store)
    colour: str  # in a terminal's tables and lines
    opt_in: bool = False  # off unless a rule asks: counted in text only when it happened
    # Of a watched category, told from its best seller list: the category is the subject
    # (a flip between two holders is one story, whichever product holds it), and watching
    # the category is what asks for it.
    of_category: bool = False


KINDS: dict[ChangeKind, KindDefinition] = {
    ChangeKind.GAINED: KindDefinition(
        label="#1 Best Seller gained",
        emoji="🏆",
        verb="gained #1",
        rule_flag="notify_gained",
        bucket="gained",
        subject="the #1 badge",
        colour="green",
    ),
    ChangeKind.LOST: KindDefinition(
        label="#1 Best Seller lost",
        emoji="📉",
        verb="lost #1",
        rule_flag="notify_lost",
        bucket="lost",
        subject="the #1 badge",
        colour="red",
    ),
    ChangeKind.ENTERED_TOP_N: KindDefinition(
        label="Closing in on #1",
        emoji="🎯",
        verb="closed in on #1",
        rule_flag="top_n",
        bucket="closing in",
        subject="the top N",
        colour="cyan",
        opt_in=True,
    ),
    ChangeKind.LEFT_TOP_N: KindDefinition(
        label="Falling back from #1",
        emoji="↩️",
        verb="fell back from #1",
        rule_flag="top_n",
        bucket="falling back",
        subject="the top N",
        colour="yellow",
        opt_in=True,
    ),
    ChangeKind.NEW_HOLDER: KindDefinition(
        label="New #1 in",
        emoji="👑",
        verb="took #1",
        rule_flag="active",
        bucket="new #1",
        subject="the category's #1",
        colour="magenta",
        opt_in=True,
        of_category=True,
    ),
    ChangeKind.LIST_TOP_N: KindDefinition(
        label="Top N moves in",
        emoji="📋",
        verb="moved in the top N",
        rule_flag="active",
        bucket="top moves",
        subject="the category's top N",
        colour="blue",
        opt_in=True,
        of_category=True,
    ),
}


# The kinds a tracked product's own ranks show: a product's rows in reports, a rule's alerts.
PRODUCT_KINDS: dict[ChangeKind, KindDefinition] = {
    kind: definition for kind, definition in KINDS.items() if not definition.of_category
}


def kind_of(kind: str) -> KindDefinition:
    """The definition of a kind, given as the enum or as its stored value."""
    return KINDS[ChangeKind(kind)]


def count(kinds: Iterable[str]) -> dict[str, int]:
    """Changes per kind, keyed by the kind's value: every kind present, in the table's order
    (the JSON keys of reports and summaries)."""
    counts = dict.fromkeys(map(str, KINDS), 0)
    for kind in kinds:
        counts[ChangeKind(kind).value] += 1
    return counts


def counts_text(counts: dict[str, int], *, separator: str = ", ", emoji: bool = False) -> str:
    """`3 gained, 1 lost`, in the table's order (`🏆 3 gained · 📉 1 lost`); an opt-in kind
    only when it happened."""
    return separator.join(
        f"{definition.emoji + ' ' if emoji else ''}{counts[kind]} {definition.bucket}"
        for kind, definition in KINDS.items()
        if counts[kind] or not definition.opt_in
    )


def no_changes() -> dict[str, int]:
    return count(())


class CountsByKind(BaseModel):
    """A model with `counts` (kinds.count): its JSON has one key per kind where `counts`
    stands, `"gained": 3, "lost": 1`, rather than a nested object."""

    @model_serializer(mode="wrap")
    def _counts_inline(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {
            key: value
            for name, field in handler(self).items()
            for key, value in (field.items() if name == "counts" else [(name, field)])
        }
