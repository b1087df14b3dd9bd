"""Slack Block Kit messages for badge changes and digests: pure functions of `Change`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bestseller_cli.escape import mrkdwn_text
from bestseller_cli.kinds import count, counts_text, kind_of
from bestseller_cli.models import Change
from bestseller_cli.shapes.report_models import Digest, DigestLine

MAX_BLOCKS = 50
MAX_TEXT = 3000  # a section's or context element's text
_MAX_HEADER = 150
_TITLE_CHARS = 150
_DIGEST_TITLE_CHARS = 80
_CATEGORY_CHARS = 100
REPORT_LINES = 15  # per section of the report's digest
_REPORT_SECTION_CHARS = 2900
_REPORT_TITLE_CHARS = 60
# A change seen this much after Keepa recorded it shows both times.
SEEN_LATER = timedelta(minutes=1)


@dataclass(frozen=True)
class SlackMessage:
    text: str  # notification and fallback text (mrkdwn)
    blocks: list[dict[str, Any]]


def truncate(text: str, limit: int) -> str:
    """Collapse whitespace and cut to `limit` characters, at a word boundary when one is near."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def amazon_url(asin: str, marketplace: str) -> str:
    return f"https://www.amazon.{marketplace}/dp/{asin}"


def rank_transition(change: Change) -> str:
    """`#4 → #1`, `#1 → no longer ranked`, `new in category → #1`."""
    before = "new in category" if change.rank_before is None else f"#{change.rank_before:,}"
    after = "no longer ranked" if change.rank_after is None else f"#{change.rank_after:,}"
    return f"{before} → {after}"


def alert_message(change: Change, *, extra_lines: Sequence[str] = ()) -> SlackMessage:
    """One change as a phone-readable message; `extra_lines` (plain text) go in small print."""
    url = amazon_url(change.asin, change.marketplace)
    title = _product_title(change, _TITLE_CHARS)
    category = _category_label(change)
    ranked = change.rank_before is not None or change.rank_after is not None
    fields = [
        f"*Category*\n{category}",
        *([f"*Rank in category*\n{rank_transition(change)}"] if ranked else []),
        f"*ASIN*\n<{url}|{change.asin}>",
        f"*Marketplace*\namazon.{change.marketplace}",
    ]
    if change.main_rank is not None:
        fields.append(f"*Main Best Sellers Rank*\n#{change.main_rank:,}")
    if change.detected_at - change.changed_at >= SEEN_LATER:
        fields.append(f"*Changed (per Keepa)*\n{_slack_date(change.changed_at)}")
    fields.append(f"*Detected*\n{_slack_date(change.detected_at)}")
    headline = _headline(change)
    blocks: list[dict[str, Any]] = [
        _header(headline),
        _section(f"*<{url}|{title}>*"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": field} for field in fields]},
    ]
    if extra_lines:
        blocks.append(_context("\n".join(mrkdwn_text(truncate(line, 500)) for line in extra_lines)))
    moved = f" {rank_transition(change)}" if ranked else ""
    text = (
        f"{mrkdwn_text(headline)}: {title} ({change.asin}, amazon.{change.marketplace})"
        f" — {category}{moved}"
    )
    return SlackMessage(text=text, blocks=blocks)


def digest_message(changes: Sequence[Change], *, title: str) -> SlackMessage:
    """Several changes in one message; past Slack's 50 blocks the rest become `…and N more`."""
    counts = count(change.kind for change in changes)
    summary = counts_text(counts, separator=" · ", emoji=True)
    blocks = [_header(title), _context(summary)]
    room = MAX_BLOCKS - len(blocks)
    shown = changes if len(changes) <= room else changes[: room - 1]
    blocks += [_section(_digest_line(change)) for change in shown]
    if len(shown) < len(changes):
        blocks.append(_context(f"…and {len(changes) - len(shown)} more"))
    text = f"{mrkdwn_text(truncate(title, _MAX_HEADER))}: {summary}"
    return SlackMessage(text=text, blocks=blocks)


def _digest_line(change: Change) -> str:
    url = amazon_url(change.asin, change.marketplace)
    line = (
        f"{kind_of(change.kind).emoji} *<{url}|{_product_title(change, _DIGEST_TITLE_CHARS)}>*\n"
        f"{_category_label(change)} {rank_transition(change)} · `{change.asin}`"
        f" · amazon.{change.marketplace}"
    )
    if change.main_rank is not None:
        line += f" · BSR #{change.main_rank:,}"
    return line


def _headline(change: Change) -> str:
    """`🏆 #1 Best Seller gained`; a watched category's change names it: `👑 New #1 in
    Küche`."""
    kind = kind_of(change.kind)
    if kind.of_category:
        name = change.category_name or f"category {change.category_id}"
        return f"{kind.emoji} {kind.label} {truncate(name, _CATEGORY_CHARS)}"
    return f"{kind.emoji} {kind.label}"


def _product_title(change: Change, limit: int) -> str:
    return mrkdwn_text(truncate(change.title or f"ASIN {change.asin}", limit))


def _category_label(change: Change) -> str:
    name = change.category_name or f"category {change.category_id}"
    return mrkdwn_text(truncate(name, _CATEGORY_CHARS))


def _slack_date(moment: datetime) -> str:
    """Shown in the reader's time zone by Slack; UTC where the token cannot be rendered."""
    moment = as_utc(moment)
    utc = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{utc}>"


def _header(text: str) -> dict[str, Any]:
    plain = {"type": "plain_text", "text": truncate(text, _MAX_HEADER), "emoji": True}
    return {"type": "header", "text": plain}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:MAX_TEXT]}}


def _context(mrkdwn: str) -> dict[str, Any]:
    if len(mrkdwn) > MAX_TEXT:  # whole lines only, so no entity or link is cut in half
        mrkdwn = mrkdwn[: max(mrkdwn.rfind("\n", 0, MAX_TEXT - 2), 0)] + "\n…"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def notice_message(text: str, status: str) -> SlackMessage:
    """An operations notice: what holds, then its status in small print."""
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn_text(text)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_text(status)}]},
    ]
    return SlackMessage(text=f"{mrkdwn_text(text)} ({mrkdwn_text(status)})", blocks=blocks)


def report_message(digest: Digest) -> SlackMessage:
    """The report's digest (`report --to-slack`): a header, the summary in small print, then
    a section per part with whole lines, within Slack's limits; the rest are counted."""
    title = truncate(digest.title, _MAX_HEADER)
    summary = "\n".join(map(mrkdwn_text, digest.summary))
    blocks = [_header(title), _context(summary)]
    for section in digest.sections:
        blocks.append(_report_section(section.title, [_report_line(x) for x in section.lines]))
    return SlackMessage(text=mrkdwn_text(f"{title}: {digest.counts}"), blocks=blocks)


def _report_line(line: DigestLine) -> str:
    label = mrkdwn_text(truncate(line.title or f"ASIN {line.asin}", _REPORT_TITLE_CHARS))
    link = f"<{amazon_url(line.asin, line.marketplace)}|{label}>"
    return f"{line.lead} {link}{mrkdwn_text(line.text)}"


def _report_section(title: str, lines: Sequence[str]) -> dict[str, Any]:
    text = f"*{title}*"
    for index, line in enumerate(lines):
        more = f"\n…and {len(lines) - index} more"
        if index == REPORT_LINES or len(text) + len(line) + 1 + len(more) > _REPORT_SECTION_CHARS:
            text += more
            break
        text += "\n" + line
    return _section(text)
