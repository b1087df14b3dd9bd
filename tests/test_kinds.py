"""A kind of change is one definition (kinds.py): every place that treats kinds differently
reads the table or handles every kind, so no kind falls through as another."""

from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest

from bestseller_cli.kinds import KINDS, ChangeKind, count, counts_text
from bestseller_cli.models import Change
from bestseller_cli.rules.routing import Rule, applies
from bestseller_cli.rules.story import AlertStory, awaits_other_side, flap_line, story_lines
from bestseller_cli.shapes.report_models import Changes
from bestseller_cli.slack.messages import alert_message, digest_message

DETECTED = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def change(kind: ChangeKind) -> Change:
    return Change(
        asin="B0C1234567",
        marketplace="com",
        category_id=7,
        category_name="Kitchen Tongs",
        kind=kind,
        rank_before=4,
        rank_after=2,
        main_rank=1234,
        title="Steel Kitchen Tongs",
        detected_at=DETECTED,
    )


def test_every_kind_has_one_definition_with_its_own_label_emoji_and_bucket() -> None:
    assert list(KINDS) == list(ChangeKind)
    for attribute in ("label", "emoji", "bucket"):
        values = [getattr(definition, attribute) for definition in KINDS.values()]
        assert len(set(values)) == len(values), attribute


def test_every_kinds_rule_flag_is_a_field_of_the_notification_rule() -> None:
    rule_fields = {field.name for field in fields(Rule)}
    for definition in KINDS.values():
        assert definition.rule_flag in rule_fields


@pytest.mark.parametrize("kind", list(ChangeKind))
def test_a_rule_with_the_kinds_flag_off_does_not_hear_of_it(kind: ChangeKind) -> None:
    flag = KINDS[kind].rule_flag
    asking = Rule(client_id=1, channel="C0ON", top_n=3)  # badges are on by default
    off = replace(asking, **{flag: type(getattr(asking, flag))()})  # False, 0
    assert applies(asking, change(kind)) and not applies(off, change(kind))


@pytest.mark.parametrize("kind", list(ChangeKind))
def test_every_kind_has_a_message_a_story_and_a_flap_line(kind: ChangeKind) -> None:
    message = alert_message(change(kind), extra_lines=story_lines(change(kind), AlertStory()))
    headline = f"{KINDS[kind].emoji} {KINDS[kind].label}"
    if KINDS[kind].of_category:  # "New #1 in Kitchen Tongs": a category's change names it
        headline += f" {change(kind).category_name}"
    assert message.blocks[0]["text"]["text"] == headline
    assert digest_message([change(kind)], title="digest").blocks
    assert isinstance(awaits_other_side(change(kind), AlertStory()), bool)
    assert KINDS[kind].bucket in flap_line([kind, kind], window=DETECTED - DETECTED)


def test_counts_name_every_kind_even_when_none_happened() -> None:
    counts = count([ChangeKind.LOST, "lost"])
    assert counts == {kind.value: 2 if kind is ChangeKind.LOST else 0 for kind in ChangeKind}


def test_counts_in_words_leave_out_opt_in_kinds_that_did_not_happen() -> None:
    assert counts_text(count(["lost"])) == "0 gained, 1 lost"
    assert counts_text(count(["left_top_n"])) == "0 gained, 0 lost, 1 falling back"


def test_the_report_json_has_one_key_per_kind_where_the_counts_stand() -> None:
    dumped = Changes(counts=count(["gained"])).model_dump(mode="json")
    assert list(dumped) == [*(kind.value for kind in ChangeKind), "events"]
    assert dumped["gained"] == 1
