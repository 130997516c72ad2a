"""
Exceptions of the submission side, rooted in one class that carries the reply
the client should see.
"""

from __future__ import annotations

from ._replies import Reply


class SMTPRefusal(Exception):
    """
    Raised by policy and storage to refuse a command; the protocol sends
    C{reply} and keeps serving.
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


class AddressSyntaxError(ValueError):
    """An envelope address or its parameters do not parse."""
