"""
The queue id grammar, written once: what the gateway calls a message in its
C{250} reply, its events, the API's and the dashboard's URLs and the spool.
"""

from __future__ import annotations

import re

#: A queue id as the gateway makes it: 20 upper-case hexadecimal digits,
#: the first 12 its arrival in milliseconds (so ids sort by arrival).
QUEUE_ID = re.compile(r"[0-9A-F]{20}")
#: A queue id as a reader may write it (any case), for URL routes.
QUEUE_ID_PATTERN = r"[0-9A-Fa-f]{20}"
#: What a queue id is, for the answer to one that is not.
QUEUE_ID_TEXT = "20 hexadecimal characters, as in the 250 reply"

_ANY_CASE = re.compile(QUEUE_ID_PATTERN)


def parseQueueId(text: str) -> str:
    """
    A queue id a reader gave (a query parameter, a URL, a form), in any
    case: the id as the gateway writes it (upper case). L{ValueError}, whose
    text says what a queue id is, for anything else.
    """
    if not _ANY_CASE.fullmatch(text):
        raise ValueError(QUEUE_ID_TEXT)
    return text.upper()


def queueIdTime(qid: str) -> float:
    """When the message C{qid} (a L{QUEUE_ID}) was accepted: its first 12 digits, in seconds."""
    return int(qid[:12], 16) / 1000


#: One recipient of a queued message, as the REST send API names it: the
#: queue id, a hyphen, and the recipient's place in the envelope (from 1).
RECIPIENT_ID = re.compile(r"([0-9A-Fa-f]{20})-([1-9][0-9]{0,5})")


def recipientId(qid: str, index: int) -> str:
    """The id of the recipient at C{index} (from 0) of the message C{qid}."""
    return f"{qid}-{index + 1}"


def parseRecipientId(text: str) -> tuple[str, int | None]:
    """
    A message's queue id, or a recipient's id (L{RECIPIENT_ID}): the queue
    id and the recipient's index (from 0; C{None} for a message's id).
    L{ValueError}, saying what the ids are, for anything else.
    """
    found = RECIPIENT_ID.fullmatch(text)
    if found is not None:
        return found[1].upper(), int(found[2]) - 1
    try:
        return parseQueueId(text), None
    except ValueError:
        raise ValueError(f"{QUEUE_ID_TEXT}, or a recipient's id (the queue id, '-', a number)")
