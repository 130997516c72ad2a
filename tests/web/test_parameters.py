"""The date and time grammar of the API's and the dashboard's parameters."""

from __future__ import annotations

import pytest

from smtpeter.web import TIME_WHY, Moment, parseMoment
from smtpeter.web._parameters import LAST_SECOND, parseDay, parseLimit, parseTime

NOV_23 = 1795392000.0  # 2026-11-23T00:00:00Z


@pytest.mark.parametrize(
    "text, moment",
    [
        ("2026-11-23", Moment(NOV_23, True)),
        (" 2026-11-23 ", Moment(NOV_23, True)),
        # The dashboard's strptime took one-digit months and days.
        ("2026-1-5", Moment(1767571200.0, True)),
        ("2026-01- 5", Moment(1767571200.0, True)),
        ("1795392000", Moment(NOV_23, False)),
        ("1795392000.5", Moment(NOV_23 + 0.5, False)),
        ("2026-11-23T01:00:00Z", Moment(NOV_23 + 3600, False)),
        ("2026-11-23t01:00:00z", Moment(NOV_23 + 3600, False)),
        ("2026-11-23T02:00:00+01:00", Moment(NOV_23 + 3600, False)),
        ("2026-11-23T01:00", Moment(NOV_23 + 3600, False)),
        ("2026-11-23 01:00:00", Moment(NOV_23 + 3600, False)),
        ("0", Moment(0.0, False)),
        ("1970-01-01", Moment(0.0, True)),
        ("9999-12-31", Moment(LAST_SECOND - 86400, True)),
    ],
)
def test_what_is_a_time(text, moment):
    assert parseMoment(text) == moment
    assert parseTime(text) == moment.seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "24.11.2026",
        "2026-13-45",
        "2026-02-30",
        "1969-12-31",
        "-5",
        "253402300800",
        "1" + "0" * 400,
        "10000-01-01",
        "2026-11-23T25:00",
    ],
)
def test_what_is_not(text):
    with pytest.raises((ValueError, OverflowError)):
        parseMoment(text)


def test_a_day_ends_at_its_end_and_a_time_where_it_says():
    assert parseMoment("2026-11-23").dayEnd == NOV_23 + 86400
    assert parseMoment("2026-11-23T00:00:00Z").dayEnd == NOV_23


def test_a_day_parameter_is_the_day_form_only():
    assert parseDay("2026-11-23") == NOV_23
    for text in ("1795392000", "2026-11-23T01:00"):
        with pytest.raises(ValueError):
            parseDay(text)


def test_the_answer_says_what_to_give():
    assert "2026-11-23" in TIME_WHY and "ISO 8601" in TIME_WHY and "seconds" in TIME_WHY


@pytest.mark.parametrize("text", ["1_0", "+5", " 5", "5 ", "\uff15", "\u0665", "0x10", "05000"])
def test_a_limit_is_ascii_digits_only(text):
    # int() took all of these: "1_0" was a limit of 10.
    with pytest.raises(ValueError):
        parseLimit(text)
    assert parseLimit("0010") == 10 and parseLimit("1000") == 1000


@pytest.mark.parametrize("text", ["\u0661\u0667\u0669\u0665", "\u0662\u0660\u0662\u0666-11-23"])
def test_a_time_is_written_in_ascii_digits(text):
    with pytest.raises(ValueError):
        parseMoment(text)
