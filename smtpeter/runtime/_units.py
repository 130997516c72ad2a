"""
How the options write durations and sizes, read and written back (for the
help text): C{90s}, C{15m}, C{4h}, C{5d}; C{52428800}, C{50m}, C{512k}.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parseDuration(text: str) -> timedelta:
    """C{90}, C{90s}, C{15m}, C{4h}, C{5d}."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 4h or 5d")
    try:
        return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    except OverflowError:  # more days than a date holds
        raise ValueError(f"{text!r} is longer than any duration this can mean") from None


def numberWithin(kind: type, low: float, high: float = float("inf"), above: bool = False):
    """
    A parser of a C{kind} (int, float) from C{low} (or above it) to
    C{high}: a whole number is ASCII digits (not C{1_0}, C{+5} nor other
    scripts' digits), and C{inf} or C{nan} are no number.
    """

    def parse(text: str):
        text = text.strip()
        if kind is int and not (text.isascii() and text.isdigit()):
            raise ValueError(text)
        value = kind(text)
        if not (value > low if above else value >= low) or not value <= high:
            raise ValueError(text)  # (nan fails both; inf the second unless high is)
        if not math.isfinite(value):
            raise ValueError(text)
        return value

    return parse


def parsePositiveDuration(text: str) -> timedelta:
    """A duration above zero: a zero timeout or retry delay would fire at once, for ever."""
    duration = parseDuration(text)
    if duration <= timedelta(0):
        raise ValueError(f"{text!r}: give a duration above zero, like 90s, 15m, 4h or 5d")
    return duration


def formatDuration(duration: timedelta) -> str:
    """A duration as L{parseDuration} reads it, in its largest whole unit: C{5d}, C{30s}."""
    seconds = duration.total_seconds()
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def parseSize(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)b?", text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size like 52428800, 50m or 512k")
    return int(match[1]) * _SIZES[match[2]]


def formatSize(size: int) -> str:
    """A size as L{parseSize} reads it, in its largest whole unit: C{50m}."""
    for unit in ("g", "m", "k"):
        if size and size % _SIZES[unit] == 0:
            return f"{size // _SIZES[unit]}{unit}"
    return str(size)


def formatDays(days: float | timedelta) -> str:
    """A number of days as the options write it: C{30}, C{0.5}."""
    if isinstance(days, timedelta):
        days = days.total_seconds() / 86400
    return f"{days:g}"


def formatDelays(delays: tuple[float, ...]) -> str:
    return ",".join(f"{d:g}" for d in delays)
