"""The log files' writers: every event type has its CSV columns."""

from smtpeter.store import EVENT_TYPES
from smtpeter.web._logwriters import _CSV_COLUMNS, _CSVWriter


def test_every_event_type_has_csv_columns():
    # A type without them was a 500 for its log file (warning, then refused).
    assert set(_CSV_COLUMNS) == set(EVENT_TYPES)
    for kind in EVENT_TYPES:
        assert _CSVWriter(kind).start().startswith(b"id,time,type,messageid,email,tags")
