"""
The REST API's query parameters, checked: each problem is a 400 naming the
parameter (L{Parameters}), and the grammar of each kind of value (days,
times, message ids, addresses, tags, event types, limits, cursors).

The date and time grammar (L{parseMoment}) is the dashboard's too.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime

from attrs import frozen

from ..message import parseQueueId
from ..store import EVENT_TYPES as TYPES
from ._resources import HTTPError

MAX_LIMIT = 1000
#: What a time parameter may be, for its 400 (and the dashboard's answer).
TIME_WHY = "a date (2026-11-23), an ISO 8601 time or seconds since 1970, before the year 10000"
#: What a day parameter may be.
DAY_WHY = "a date like 2026-11-23"
#: The first second of the year 10000: times are before it.
LAST_SECOND = 253402300800.0


class Parameters:
    """The query string, checked: each problem is a 400 naming the parameter."""

    def __init__(self, request, allowed: tuple[str, ...]) -> None:
        self.values: dict[str, str] = {}
        for raw, values in request.args.items():
            name = raw.decode("utf-8", "replace")
            if name not in allowed:
                raise HTTPError(
                    400,
                    f"{name}: unknown parameter; allowed: {', '.join(allowed) or 'none'}",
                    parameter=name,
                )
            if len(values) > 1:
                raise HTTPError(400, f"{name}: give it once", parameter=name)
            try:
                self.values[name] = values[0].decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPError(400, f"{name}: not UTF-8", parameter=name)

    def get(self, name: str, parse=None, why: str = "") -> object:
        value = self.values.get(name)
        if value is None or parse is None:
            return value
        try:
            return parse(value)
        except (ValueError, OverflowError):
            raise HTTPError(400, f"{name}: {why} (got {value[:100]!r})", parameter=name)


# A day: YYYY-MM-DD; the month and the day may have one digit (and the
# day a space before it), as the dashboard's strptime("%Y-%m-%d") took them.
_DAY = re.compile(r"([0-9]{4})-([0-9]{1,2})-( ?[0-9]{1,2})")
_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")
# (Digits are ASCII's: int() and \d take "1_0", "+5", "\uff15" and "\u0665" too.)
_LIMIT = re.compile(r"[0-9]{1,4}")


@frozen
class Moment:
    """A time parameter read: C{seconds} since the epoch, and whether it named a whole C{day}."""

    seconds: float
    day: bool

    @property
    def dayEnd(self) -> float:
        """Where a range that ends with this parameter ends: after the whole day it names."""
        return self.seconds + 86400 if self.day else self.seconds


def parseDay(text: str) -> float:
    """C{YYYY-MM-DD}: its midnight, UTC, in seconds since the epoch."""
    match = _DAY.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    day = date(*(int(group) for group in match.groups()))
    return datetime.combine(day, datetime.min.time(), UTC).timestamp()


def parseMoment(text: str) -> Moment:
    """
    The date and time grammar of the API's and the dashboard's parameters:
    seconds since the epoch, a date (its midnight), or an ISO 8601 date-time
    (UTC unless it says); from 1970 to the end of 9999, the years an answer
    can write. L{ValueError} for anything else; L{TIME_WHY} says what to give.
    """
    text = text.strip()
    day = False
    if _SECONDS.fullmatch(text):
        seconds = float(text)
    elif _DAY.fullmatch(text):
        seconds, day = parseDay(text), True
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    if not 0 <= seconds < LAST_SECOND:
        raise ValueError(text)
    return Moment(seconds, day)


def parseTime(text: str) -> float:
    """L{parseMoment}'s seconds."""
    return parseMoment(text).seconds


#: A message id parameter: L{smtpeter.message.parseQueueId}.
parseQid = parseQueueId


def parseEmail(text: str) -> str:
    if "@" not in text or len(text) > 320 or any(c.isspace() for c in text):
        raise ValueError(text)
    return text


def parseTag(text: str) -> str:
    text = text.strip()
    if not text or len(text) > 200:
        raise ValueError(text)
    return text


def parseType(text: str) -> str:
    if text not in TYPES:
        raise ValueError(text)
    return text


def parseLimit(text: str) -> int:
    if not _LIMIT.fullmatch(text):
        raise ValueError(text)
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(text)
    return value


def encodeCursor(eventId: int) -> str:
    return base64.urlsafe_b64encode(f"e{eventId}".encode()).rstrip(b"=").decode()


def parseCursor(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(text)
    if not re.fullmatch(r"e[0-9]{1,18}", raw):
        raise ValueError(text)
    return int(raw[1:])
