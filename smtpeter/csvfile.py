"""
Every CSV file smtpeter writes goes through here: the dashboard's activity
export, the REST API's log files (C{?format=csv}) and C{smtpeter suppression
export}. Their cells hold what strangers wrote (a clicker's User-Agent, a
subject, a bounce's text), and a spreadsheet runs a cell that begins with
C{=}, C{+}, C{-} or C{@} as a formula (CSV injection); so a text cell that
begins with one of those, a tab or a carriage return is written with a C{'}
in front, which spreadsheets show as text. Numbers are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TextIO

#: What a spreadsheet may take for the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """
    C{value} as a CSV cell: C{None} empty, booleans C{true}/C{false}, lists
    joined with commas; text that a spreadsheet would run, prefixed with C{'}.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        value = ",".join("" if v is None else str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def uncell(text: str) -> str:
    """A cell as L{cell} wrote it, back: its C{'} taken off (so an export can be imported)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


class CSVWriter:
    """C{csv.writer} over C{out}, each cell made safe with L{cell}."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow([cell(v) for v in values])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for values in rows:
            self.writerow(values)


def csvBytes(rows: Iterable[Iterable[object]]) -> bytes:
    """C{rows} as CSV lines in UTF-8, each cell made safe with L{cell}: a piece of a stream."""
    out = io.StringIO()
    CSVWriter(out).writerows(rows)
    return out.getvalue().encode()


__all__ = ["FORMULA_STARTS", "CSVWriter", "cell", "csvBytes", "uncell"]
