"""Interfaces of the event record."""

from zope.interface import Interface


class IEventSink(Interface):
    """Where what happens to each recipient is written down."""

    def record(event):
        """Record an L{Event}. @return: C{Deferred[None]}; never fails the caller's work."""
