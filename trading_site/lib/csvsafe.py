"""CSV writing for every export: cells that a spreadsheet would run as a formula are neutralised.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula (or starts
one) in Excel, LibreOffice and Google Sheets: an audit reason ``=HYPERLINK(...)`` would become a
live link in the reader's spreadsheet (CSV injection). Such a cell is written with a leading ``'``,
which spreadsheets show as text. Numbers stay numbers: non-string values and strings in the strict
number grammar (``-12.50``) are written as they are. Every CSV export goes through
:func:`csv_writer`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

from trading_site.lib.money import DecimalInputError, to_decimal

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` as safe to put in a CSV cell (see the module docstring)."""
    if not isinstance(value, str):
        value = "" if value is None else value
        if not isinstance(value, int | float) and not hasattr(value, "as_tuple"):
            value = str(value)  # dicts, lists, dates...: their text is what gets written
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        try:
            to_decimal(value)
        except DecimalInputError:
            return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose ``writerow``/``writerows`` neutralise formula cells."""

    def __init__(self, fileobj, **kwargs) -> None:
        self._writer = csv.writer(fileobj, **kwargs)

    def writerow(self, row: Iterable[object]):
        return self._writer.writerow([csv_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fileobj, **kwargs) -> SafeCsvWriter:
    return SafeCsvWriter(fileobj, **kwargs)
