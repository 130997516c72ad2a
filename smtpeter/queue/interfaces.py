"""Interfaces of the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from ..message import Envelope, Options, QueuedMessage
    from ._incoming import IncomingContent, Spilled


class ISpool(Interface):
    """
    Durable storage of accepted messages and of what happened to each
    recipient. Every method that writes returns only once the write is on
    disk (fsynced): the caller may then tell someone it is safe.
    """

    def incoming() -> IncomingContent:
        """
        A new L{IncomingContent} for a message while it is received: large
        bodies go to a file of this spool as they arrive.
        """

    def store(message: QueuedMessage) -> Deferred[None]:
        """
        Write a L{QueuedMessage}, whose content is C{bytes} or a
        L{Spilled} body from L{incoming}. @return: C{Deferred[None]}.
        """

    def readContent(qid: str) -> Deferred[bytes]:
        """@return: C{Deferred[bytes]}, the message content as stored."""

    def recordStates(qid: str, states: dict[int, dict]) -> Deferred[None]:
        """
        Record the new state of some recipients (index -> state), in one
        write. @return: C{Deferred[None]}.
        """

    def remove(qid: str) -> Deferred[None]:
        """
        Forget a finished message (a spool may keep it a while as sent).
        @return: C{Deferred[None]}, which may fire before this is on disk:
        a spool on disk writes it with its next write (a crash before that
        only repeats the message's deliveries, never loses one).
        """

    def load() -> Deferred[list[tuple[QueuedMessage, dict[int, dict]]]]:
        """
        Everything stored and not removed, for resuming after a start.

        @return: C{Deferred[list[tuple[QueuedMessage, dict[int, dict]]]]}:
            each message (with empty content; read it with L{readContent})
            and the last recorded state of each recipient.
        """


class IQueue(Interface):
    """Where the submission server hands accepted mail."""

    def incoming() -> IncomingContent:
        """Where the content of a message being received goes (L{ISpool.incoming})."""

    def enqueue(envelope: Envelope, options: Options, content: bytes | Spilled) -> Deferred[str]:
        """
        Store a message durably and schedule its delivery. C{content} is
        C{bytes} or what L{incoming} gave.

        @return: C{Deferred[str]}, the queue id, fired only once the message
            is on disk. Fails with L{SMTPRefusal} carrying a 4xx reply when
            it cannot be stored.
        """


class IClaimingSpool(ISpool):
    """
    A spool shared by several workers (of several nodes), where a worker
    works only on what it has claimed. L{ISpool.load} gives nothing; a
    stored message is its storing worker's (unless held); a message still
    pending after an attempt is released for any worker (L{release}).
    Writes about a message whose claim no longer holds fail with
    L{smtpeter.queue.ClaimLost}.
    """

    def claim(limit: int):
        """
        Up to C{limit} due messages nobody holds, now this worker's.
        @return: C{Deferred[list[tuple[QueuedMessage, dict[int, dict]]]]}.
        """

    def claimOne(qid: str, held: bool = False):
        """
        C{qid}, now this worker's, if nobody holds it; with C{held}, only if
        it is held. @return: C{Deferred} of the message and its states, or
        C{None}.
        """

    def release(qid: str, states: dict, due: float | None):
        """
        Record C{states} and give the message up, due again at C{due}
        (C{None}: held). @return: C{Deferred[None]}.
        """

    def claimHeld(before: float, limit: int):
        """
        Up to C{limit} held messages received before C{before} (epoch
        seconds), now this worker's: to be dropped as held too long.
        @return: like L{claim}.
        """

    def renew():
        """Extend this worker's leases. @return: C{Deferred[list[str]]}, the ids it lost."""

    def holds(qid: str):
        """@return: C{Deferred[bool]}, whether this worker's claim on C{qid} still holds."""

    def holding() -> int:
        """How many messages this worker holds now."""
