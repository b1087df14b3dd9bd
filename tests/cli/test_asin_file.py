"""Reading ASINs from a file: a plain list or a CSV export (pure parsing, no I/O)."""

import pytest

from bestseller_cli.cli.asin_file import asins_in_file


def test_a_plain_list_whose_first_line_has_a_typo_is_not_taken_for_a_header() -> None:
    text = "B0C-BROKEN, B0C1234567\nB0C7654321\n"
    assert asins_in_file(text) == ["B0C-BROKEN", "B0C1234567", "B0C7654321"]


def test_a_csv_cell_with_a_hash_is_not_a_comment() -> None:
    text = 'asin,title\nB0C1234567,"Lamp #2, brass"\n# skipped\nB0C7654321,Desk\n'
    assert asins_in_file(text) == ["B0C1234567", "B0C7654321"]


def test_a_header_only_csv_lists_nothing() -> None:
    assert asins_in_file("\ufeffASIN,Title\n") == []


def test_text_with_nul_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="not a text file"):
        asins_in_file("B0C1234567\x00\n")
