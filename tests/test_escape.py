"""One escaping function per format (bestseller_cli/escape.py): a competitor's title or
category name reads as text wherever it lands, and never acts as a formula, markup, a link,
an image or a terminal command."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from rich.console import Console
from rich.text import Text

from bestseller_cli.escape import (
    csv_cell,
    html_text,
    markdown_text,
    mrkdwn_text,
    terminal_text,
    without_controls,
)

# Clears the screen, then plants a hyperlink (OSC 8) that says "click".
TERMINAL_ATTACK = "\x1b[2J\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"


def test_control_characters_go_and_a_line_break_or_tab_becomes_a_space() -> None:
    assert without_controls("a\x00b\x07c\x1bd\x7fe\x9bf") == "abcdef"
    assert without_controls("one\ntwo\tthree\r\nfour") == "one two three  four"
    assert without_controls("Café → 日本 ✓") == "Café → 日本 ✓"


@pytest.mark.parametrize(
    "formula",
    ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"],
)
def test_a_csv_cell_that_would_start_a_formula_starts_with_a_quote(formula: str) -> None:
    assert csv_cell(formula) == "'" + formula


def test_csv_numbers_stay_numbers_negative_ones_too_and_each_list_item_is_checked() -> None:
    assert csv_cell(-3) == -3 and csv_cell(-0.5) == -0.5 and csv_cell(None) is None
    assert csv_cell(True) == "true" and csv_cell(False) == "false"
    assert csv_cell(datetime(2026, 11, 23, 9, tzinfo=UTC)) == "2026-11-23T09:00:00.000000Z"
    assert csv_cell(["=cmd", "Tongs"]) == "'=cmd;Tongs"
    # A spreadsheet whose list separator is `;` splits the cell: each item is a cell start.
    assert csv_cell(["Tongs", "=cmd"]) == "Tongs;'=cmd"
    assert csv_cell("Tongs - 2 pack") == "Tongs - 2 pack"


def test_html_text_escapes_markup_and_quotes_and_drops_what_xml_cannot_hold() -> None:
    assert html_text("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert html_text("&lt;img src=x onerror=alert(1)&gt;") == (
        "&amp;lt;img src=x onerror=alert(1)&amp;gt;"
    )
    assert html_text("\"' onmouseover=x") == "&quot;&#x27; onmouseover=x"
    hostile = "Pads\x07\x00\x1b[2J\ufffe <b>"
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><title>{html_text(hostile)}</title></svg>'
    assert ET.fromstring(svg).find("{http://www.w3.org/2000/svg}title").text == "Pads[2J <b>"


def test_markdown_text_escapes_links_images_html_and_emphasis() -> None:
    assert markdown_text("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"
    assert markdown_text("![](http://tracker/p.png)") == "\\!\\[\\]\\(http://tracker/p.png\\)"
    assert markdown_text("<img src=x> a|b") == "\\<img src=x\\> a\\|b"
    assert markdown_text("*_#`\\&") == "\\*\\_\\#\\`\\\\\\&"
    assert markdown_text("two\nlines") == "two lines"


def test_terminal_text_prints_markup_literally_and_no_escape_sequence() -> None:
    console = Console(force_terminal=True, color_system="truecolor", width=200)
    title = f"[bold]Pads[/bold] [link=http://evil]x[/link] {TERMINAL_ATTACK}\x07\x9b"
    with console.capture() as captured:
        console.print(terminal_text(title), highlight=False)
    printed = captured.get()
    assert "[bold]Pads[/bold] [link=http://evil]x[/link]" in printed
    assert "\x1b]8" not in printed and "\x07" not in printed and "\x9b" not in printed
    # The console's own styling is the only escape sequence: none comes from the title.
    assert Text.from_ansi(printed).plain.rstrip("\n") == terminal_text(title).replace("\\[", "[")


def test_mrkdwn_text_escapes_slacks_three_characters_and_drops_controls() -> None:
    assert mrkdwn_text("<!channel> & <http://evil|click>") == (
        "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;"
    )
    assert mrkdwn_text(f"Pads{TERMINAL_ATTACK}\x07") == "Pads[2J]8;;http://evil\\click]8;;\\"
