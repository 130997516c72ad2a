"""The one CSV writer: no cell a stranger wrote is ever run as a formula."""

from __future__ import annotations

import csv
import io

from smtpeter.csvfile import CSVWriter, cell, csvBytes


def test_a_csv_cell_is_never_a_formula():
    assert cell('=HYPERLINK("http://evil")') == '\'=HYPERLINK("http://evil")'
    assert cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    for text in ("+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert cell(text) == "'" + text
    assert cell(["=1", "b"]) == "'=1,b"


def test_other_cells_are_written_as_they_are():
    assert cell("plain") == "plain" and cell("a=b") == "a=b"
    assert cell(None) == "" and cell(3) == "3" and cell(-2) == "-2" and cell(1.5) == "1.5"
    assert cell(True) == "true" and cell(False) == "false"
    assert cell(("a", "b")) == "a,b"


def test_the_writer_and_the_stream_guard_every_cell():
    out = io.StringIO()
    CSVWriter(out).writerows([["email", "=x"], ["-y", 5]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["email", "'=x"], ["'-y", "5"]]
    assert csvBytes([["@z", 'a "b"']]) == b'\'@z,"a ""b"""\r\n'


def test_no_other_module_writes_csv_itself():
    """Every CSV producer (API log files, dashboard export, suppression export) uses this one."""
    from pathlib import Path

    import smtpeter

    root = Path(smtpeter.__file__).parent
    writers = ("csv.writer(", "csv.DictWriter(", "import writer", "text/csv")
    found = {
        str(path.relative_to(root)): [w for w in writers if w in path.read_text()]
        for path in root.rglob("*.py")
        if path.name != "csvfile.py"
    }
    assert {name: hits for name, hits in found.items() if any(w != "text/csv" for w in hits)} == {}
    producers = {name for name, hits in found.items() if "text/csv" in hits}
    assert producers, "the search found no CSV producer at all"
    for name in producers | {"admin/commands/_suppressions.py", "web/_logwriters.py"}:
        text = (root / name).read_text()
        assert "csvfile import" in text or "_logwriters import" in text, name
