"""
What can be wrong with a message's bytes, rooted in L{MessageError}. The
layers that read a message translate these into their own answers (the
SMTP server into a C{550 5.6.0} with the error's text).
"""

from __future__ import annotations


class MessageError(Exception):
    """A message that cannot be read or made fit as asked; the text says why."""


class HeaderError(MessageError):
    """A header section that does not parse as RFC 5322 fields; the text says where."""


class MIMEError(MessageError):
    """A part whose structure or encoding cannot be read."""


class AmbiguousMIME(MIMEError):
    """A multipart structure that readers may split differently."""


class Unfit(MessageError):
    """The message cannot be made fit; the text says why, for a 550 5.6.0."""
