"""Interfaces of delivery."""

from zope.interface import Interface


class IDeliveryAgent(Interface):
    """Sends one message to some of its recipients."""

    def deliver(message, content: bytes, recipients: list):
        """
        Attempt delivery of C{content} (as stored) to each of C{recipients}.

        @return: C{Deferred[list[Outcome]]}, one per recipient, in order.
            Never fails: every problem becomes an outcome.
        """

    def stop():
        """Close idle connections. @return: C{Deferred[None]}."""
