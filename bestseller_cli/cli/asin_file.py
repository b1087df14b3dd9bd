"""ASINs listed in a file: a plain list, or a spreadsheet exported as CSV. Pure parsing."""

import csv

from bestseller_cli.models import parse_asin

_DELIMITERS = (",", "\t", ";")


def asins_in_file(text: str) -> list[str]:
    """The ASIN texts a file lists, unvalidated.

    A plain list has one or more ASINs per line (separated by spaces or commas) and `#`
    starts a comment. A CSV with a header row (columns, none of them an ASIN) gives its
    `asin` column, or else its first column. A UTF-8 byte order mark is ignored."""
    if "\x00" in text:
        raise ValueError("is not a text file")
    lines = [line for line in text.removeprefix("\ufeff").splitlines() if not line.startswith("#")]
    header = next((line for line in lines if line.strip()), "")
    delimiter = max(_DELIMITERS, key=header.count)
    cells = [cell.strip().lower() for cell in next(csv.reader([header], delimiter=delimiter))]
    if "asin" in cells:
        return csv_column(lines, delimiter=delimiter, index=cells.index("asin"))
    if len(cells) > 1 and not any(is_asin(cell) for cell in cells):
        return csv_column(lines, delimiter=delimiter, index=0)
    texts: list[str] = []
    for line in lines:
        line = line.split("#", 1)[0]
        texts.extend(line.replace(",", " ").split())
    return texts


def csv_column(lines: list[str], *, delimiter: str, index: int) -> list[str]:
    rows = list(csv.reader([line for line in lines if line.strip()], delimiter=delimiter))[1:]
    return [row[index].strip() for row in rows if len(row) > index and row[index].strip()]


def is_asin(text: str) -> bool:
    try:
        parse_asin(text)
    except ValueError:
        return False
    return True
