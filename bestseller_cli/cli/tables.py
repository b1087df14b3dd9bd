"""Every table a command prints, laid out for the terminal's width in this one place.

A column holds identifiers, numbers, dates or free text. An identifier, a number or a date is
never cut and never wrapped: its column is as wide as its widest cell. Only free text wraps,
and a column may cap its text at a number of lines (a title at two), cut with an ellipsis:
titles are the only thing ever cut. When the columns do not fit, those of the highest
priority number are hidden first, and a footer line names them; `--wide` shows every column,
whole titles and full times, however wide that is (printed uncropped: the terminal wraps it).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bestseller_cli.escape import terminal_text

TEXT_MIN_WIDTH = 12  # a wrapping column narrower than this reads as a column of fragments
MAX_ROW_LINES = 3  # a taller row hides a column to make room, while one may be hidden
BORDERS = 3  # each column's padding and rule; one more for the table's right edge

WideOption = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every column, whole titles and full times (UTC), however wide that is.",
    ),
]


class Kind(StrEnum):
    ID = "id"  # ASINs, channel ids, names, states: shown whole on one line
    NUMBER = "number"  # counts, ranks, shares: whole, on one line, to the right
    DATE = "date"  # a datetime cell: "3 h ago" or "in 14 min"; the full time with --wide
    TEXT = "text"  # titles, category names, reasons: wrap (and may be capped in lines)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    priority: int = 1  # 1 is always shown; when narrow, the highest numbers are hidden first
    max_lines: int | None = None  # free text cut to this many lines, with an ellipsis
    style: str = ""

    @property
    def fixed(self) -> bool:
        return self.kind is not Kind.TEXT


# A cell: plain text (escaped here for the terminal), rich Text (already escaped by whoever
# styled it), a datetime in a DATE column, or None for "-".
Cell = str | Text | datetime | None


def compact_time(moment: datetime, now: datetime) -> str:
    """`in 14 min`, `3 h ago`, `2 d ago`, `now`."""
    seconds = (moment - now).total_seconds()
    minutes = round(abs(seconds) / 60)
    if minutes < 1:
        return "now"
    if minutes < 60:
        amount = f"{minutes} min"
    elif minutes < 36 * 60:
        amount = f"{round(minutes / 60)} h"
    else:
        amount = f"{round(minutes / 1440)} d"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def full_time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def build_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    width: int | None,
    now: datetime,
) -> RenderableType:
    """The table, fitted to `width` columns of terminal; `None` for --wide (everything)."""
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"{title}: a row's cells do not match its {len(columns)} columns")
    texts = [[_text(cell, now=now, wide=width is None) for cell in row] for row in rows]
    shown = list(range(len(columns)))
    widths = _widths(columns, texts, shown, width)
    while width is not None and _droppable(columns, shown):
        too_wide = _least_width(columns, texts, shown) > width
        if not too_wide and _tallest(columns, texts, widths) <= MAX_ROW_LINES:
            break
        shown.remove(_droppable(columns, shown)[-1])
        widths = _widths(columns, texts, shown, width)
    table = Table(
        title=title, title_justify="left", width=sum(widths.values()) + BORDERS * len(shown) + 1
    )
    for index in shown:
        column = columns[index]
        table.add_column(
            Text(column.name, no_wrap=False),  # a header wraps at its words, even over numbers
            width=widths[index],
            no_wrap=column.fixed or width is None,
            overflow="fold",
            justify="right" if column.kind is Kind.NUMBER else "left",
            style=column.style,
        )
    for row in texts:
        table.add_row(*(_capped(row[i], columns[i], widths[i], wide=width is None) for i in shown))
    hidden = [column.name for index, column in enumerate(columns) if index not in shown]
    if not hidden:
        return table
    plural = "column" if len(hidden) == 1 else "columns"
    footer = f"{len(hidden)} {plural} hidden: {', '.join(hidden)} (--wide)"
    return Group(table, Text(footer, style="dim"))


def _text(cell: Cell, *, now: datetime, wide: bool) -> Text:
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, datetime):
        return Text(full_time(cell) if wide else compact_time(cell, now))
    return Text.from_markup(terminal_text("-" if cell is None else cell))


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _natural(
    columns: Sequence[Column], texts: list[list[Text]], index: int, *, whole_header: bool = False
) -> int:
    """As wide as the widest cell on one line, and the header's longest word (or all of it)."""
    cells = (cell_len(line) for row in texts for line in row[index].plain.splitlines())
    name = columns[index].name
    whole_header = whole_header or not columns[index].fixed  # text takes the room it finds
    header = cell_len(name) if whole_header else _longest_word(name)
    return max(max(cells, default=1), header, 1)


def _minimum(columns: Sequence[Column], texts: list[list[Text]], index: int) -> int:
    column, natural = columns[index], _natural(columns, texts, index)
    if column.fixed:
        return natural
    words = max((_longest_word(row[index].plain) for row in texts), default=1)
    floor = TEXT_MIN_WIDTH if column.max_lines else max(TEXT_MIN_WIDTH, words)
    return min(natural, max(floor, _longest_word(column.name)))


def _least_width(columns: Sequence[Column], texts: list[list[Text]], shown: list[int]) -> int:
    return sum(_minimum(columns, texts, i) for i in shown) + BORDERS * len(shown) + 1


def _droppable(columns: Sequence[Column], shown: list[int]) -> list[int]:
    """Hidden first last: the highest priority number, the rightmost of equals."""
    candidates = [i for i in shown if columns[i].priority > 1]
    return sorted(candidates, key=lambda i: (columns[i].priority, i))


def _widths(
    columns: Sequence[Column], texts: list[list[Text]], shown: list[int], width: int | None
) -> dict[int, int]:
    """Fixed columns at their natural width; the room left shared by the text columns, each
    up to its natural width, the narrowest served first; what is still left unwraps the
    headers of fixed columns."""
    if width is None:
        return {i: _natural(columns, texts, i, whole_header=True) for i in shown}
    natural = {i: _natural(columns, texts, i) for i in shown}
    widths = {i: natural[i] for i in shown if columns[i].fixed}
    text = sorted((i for i in shown if not columns[i].fixed), key=natural.__getitem__)
    room = width - sum(widths.values()) - BORDERS * len(shown) - 1
    for position, index in enumerate(text):
        share = room // (len(text) - position)
        widths[index] = max(_minimum(columns, texts, index), min(natural[index], share))
        room -= widths[index]
    for index in (i for i in shown if columns[i].fixed):  # room to spare: whole headers
        grown = max(widths[index], min(cell_len(columns[index].name), widths[index] + room))
        room -= grown - widths[index]
        widths[index] = grown
    return widths


def _tallest(columns: Sequence[Column], texts: list[list[Text]], widths: dict[int, int]) -> int:
    """The most lines a row takes: free text wrapped at its width, a title at its cap."""

    def lines(text: Text, index: int) -> int:
        wrapped = len(text.wrap(_MEASURE, widths[index], overflow="fold"))
        return min(wrapped, columns[index].max_lines or wrapped)

    free = [i for i in widths if not columns[i].fixed]
    return max((lines(row[i], i) for row in texts for i in free), default=1)


def _capped(text: Text, column: Column, width: int, *, wide: bool) -> Text:
    """Free text cut to the column's lines, the last ending in an ellipsis."""
    if wide or column.max_lines is None:
        return text
    lines = text.wrap(_MEASURE, width, overflow="fold")
    if len(lines) <= column.max_lines:
        return text
    kept = list(lines)[: column.max_lines]
    last = kept[-1]
    last.truncate(width - 1)
    last.rstrip()
    last.append("…")
    return Text("\n").join(kept)


_MEASURE = Console(width=1000)  # only measures and wraps text; never prints
