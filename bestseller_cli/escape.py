"""Text from Keepa is written by competitors: each place it lands has one function here.

It is stored as Keepa sent it, minus control characters (`without_controls`), and escaped
where it is written, one function per format:

- CSV (`csv_cell`): a text cell that a spreadsheet would read as a formula starts with `'`;
- HTML and SVG (`html_text`): markup escaped, and what XML cannot hold removed;
- Markdown (`markdown_text`): every character Markdown acts on backslash-escaped;
- a terminal (`terminal_text`): no control character (ESC, C0, C1, DEL), rich markup escaped;
- Slack mrkdwn (`mrkdwn_text`): Slack's `&`, `<` and `>` escaped, no control character.

JSON is written exactly, with JSON's own escaping. Nothing else escapes by hand.
"""

import html
import re
from datetime import datetime
from typing import Any

from rich.markup import escape as rich_escape

from bestseller_cli.output import utc_timestamp

# C0 (tab and line breaks too), DEL and C1: a terminal acts on them, XML refuses most.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LINE_SPACE = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85")
# What XML 1.0 cannot hold even as a character reference, beside the controls.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN = re.compile(r"([\\`*_\[\]()<>#|!&])")


def without_controls(text: str) -> str:
    """`text` without control characters: a tab or line break becomes a space, the rest go."""
    return _CONTROL.sub(lambda found: " " if found[0] in _LINE_SPACE else "", text)


def csv_cell(value: Any) -> Any:
    """A CSV cell: numbers as numbers, booleans `true`/`false`, times UTC with `Z`, lists
    joined with `;`; text that would start a formula starts with `'` (OWASP), and so does
    each item of a list (a spreadsheet whose separator is `;` splits it into cells)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return utc_timestamp(value)
    if isinstance(value, list):
        value = ";".join(str(csv_cell(item)) for item in value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def html_text(text: str) -> str:
    """Text for HTML or SVG, in an element or a quoted attribute: `& < > " '` escaped,
    controls and what XML refuses removed (a chart with one would not draw)."""
    return html.escape(_NOT_XML.sub("", without_controls(text)), quote=True)


def markdown_text(text: str) -> str:
    """Text for Markdown (a table cell, a line): every character Markdown acts on
    (`\\ * _ [ ] ( ) < > # | !`, backticks and `&` of entities) backslash-escaped, one line."""
    return _MARKDOWN.sub(r"\\\1", without_controls(text))


def terminal_text(text: str) -> str:
    """Text for a rich terminal line or table cell (markup on): no control character, so no
    escape sequence reaches the terminal, and rich markup (`[bold]`, `[link=…]`) escaped."""
    return rich_escape(without_controls(text))


def mrkdwn_text(text: str) -> str:
    """Text for Slack mrkdwn: its three control characters escaped (`& < >`), so a title
    links nowhere and pings no one, and no control character."""
    plain = without_controls(text)
    return plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
