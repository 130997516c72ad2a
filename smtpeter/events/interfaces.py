"""Interfaces of the event record."""

from zope.interface import Interface


class IEventSink(Interface):
    """Where what happens to each recipient is written down."""

    def accepted(message):
        """
        Record an accepted L{QueuedMessage<smtpeter.queue.QueuedMessage>} and
        an attempt event per recipient; nothing if it was recorded before
        (a message resumed after a restart is offered again).
        @return: C{Deferred}; never fails the caller's work.
        """

    def record(event):
        """Record an L{Event}. @return: C{Deferred[None]}; never fails the caller's work."""
