"""What the dashboard's views do with what users type."""

from __future__ import annotations

import pytest

from smtpeter.dashboard._pages import BadInput, _searchQuery


class Request:
    def __init__(self, **args: str) -> None:
        self.args = {k.encode(): [v.encode()] for k, v in args.items()}


def test_search_dates_take_the_apis_times_too():
    """The API's grammar: times and seconds as well as days (an end time is exact)."""
    query = _searchQuery(Request(start="1795392000", end="2026-11-23T12:00:00Z"), 50)
    assert (query.start, query.end) == (1795392000.0, 1795392000.0 + 12 * 3600)
    # The dashboard's old form: one-digit months and days.
    assert _searchQuery(Request(start="2026-1-5"), 50).start == 1767571200.0


def test_search_fields_are_checked_and_dates_cover_whole_days():
    query = _searchQuery(
        Request(messageid="01a20be38ce707f488a6", start="2026-11-01", end="2026-11-02"), 50
    )
    assert query.messageid == "01A20BE38CE707F488A6"
    assert query.end - query.start == 2 * 86400
    assert _searchQuery(Request(subject="", login=""), 50).subject is None
    for bad, says in (
        ({"messageid": "123"}, "message id"),
        ({"messageid": "01A20BE38CE707F488AZ"}, "message id"),
        ({"status": "lost"}, "status"),
        ({"start": "24.11.2026"}, "from: a date as YYYY-MM-DD"),
        ({"end": "2026-02-30"}, "to: a date as YYYY-MM-DD, or a date"),
    ):
        with pytest.raises(BadInput, match=says):
            _searchQuery(Request(**bad), 50)
