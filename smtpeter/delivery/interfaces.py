"""Interfaces of delivery."""

from zope.interface import Interface


class IDeliveryAgent(Interface):
    """Sends one message to some of its recipients."""

    def deliver(message, content: bytes, recipients: list, beforeDot=None):
        """
        Attempt delivery of C{content} (as stored) to each of C{recipients}.
        C{beforeDot}, if given, is asked (C{Deferred[bool]}) before the
        final dot of each transaction: C{False} abandons the transaction
        (the connection is closed, so the next hop discards the message)
        and its recipients' outcome is transient.

        @return: C{Deferred[list[Outcome]]}, one per recipient, in order.
            Never fails: every problem becomes an outcome.
        """

    def stop():
        """Close idle connections. @return: C{Deferred[None]}."""
