"""
What a dashboard view reads from its request (query strings and forms,
each mistake a L{BadInput} saying what to change) and what it answers: a
L{Page}, a L{Redirect} after a change, or a L{Download}.
"""

from __future__ import annotations

from attrs import frozen

from ..message import parseQueueId
from ..store import MESSAGE_STATUSES as STATUSES
from ..store import MessageQuery
from ..web import TIME_WHY, Moment, parseMoment
from ._html import (
    button,
    form,
    tags,
)

_SEARCH = ("messageid", "recipient", "sender", "subject", "tag", "login", "status", "start", "end")


@frozen
class Page:
    title: str
    body: list
    section: str = ""
    code: int = 200


@frozen
class Redirect:
    location: str
    notice: str = ""


@frozen
class Download:
    body: bytes
    contentType: bytes
    filename: str


class BadInput(Exception):
    """A form or query the dashboard cannot take; the text says what to change."""


def arg(request, name: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace").strip() if values else ""


def args(request, name: str) -> list[str]:
    return [v.decode("utf-8", "replace") for v in request.args.get(name.encode(), [])]


def _moment(text: str, name: str) -> Moment:
    try:
        return parseMoment(text)
    except (ValueError, OverflowError):
        raise BadInput(f"{name}: a date as YYYY-MM-DD, or {TIME_WHY}") from None


def _searchQuery(request, limit: int, before=None) -> MessageQuery:
    values = {name: arg(request, name) or None for name in _SEARCH}
    if values["messageid"] is not None:
        try:
            values["messageid"] = parseQueueId(values["messageid"])
        except ValueError as e:
            raise BadInput(f"message id: {e}") from None
    if values["status"] is not None and values["status"] not in STATUSES:
        raise BadInput(f"status: one of {', '.join(STATUSES)}")
    start, end = values.pop("start"), values.pop("end")
    return MessageQuery(
        **values,
        start=None if start is None else _moment(start, "from").seconds,
        # A day given as the end is searched to its end.
        end=None if end is None else _moment(end, "to").dayEnd,
        before=before,
        limit=limit,
    )


def _before(text: str):
    received, _, qid = text.partition(":")
    try:
        return (float(received), qid) if qid else None
    except ValueError:
        return None


def adding(session, heading: str, action: str, label: str, *fields) -> list:
    """For an admin, a form that adds one more of what a page lists; nothing for a viewer."""
    if not session.mayChange:
        return []
    return [tags.h2(heading), form(action, session, *fields, button(label), class_="stacked")]
