"""
A message, as every stage of its path reads it: the values a queued message
is made of (envelope, recipients, options), its header section split into
raw fields, its MIME tree kept byte for byte (L{mime}), and the transfer
encodings that make it fit for the next hop (long lines, 8-bit data), and
the grammar of its queue id.

The SMTP server, the queue, the features, delivery and the store all use
these; this package imports nothing else of smtpeter. Errors are
L{MessageError}s; each reader turns them into its own answer (the SMTP
server: C{550 5.6.0} with the error's text).
"""

from . import _mime as mime
from ._compose import (
    Attachment,
    ComposeError,
    MessageParts,
    compose,
    noBreaks,
    parseAddresses,
    rawField,
)
from ._encoding import (
    MAX_LINE,
    escapeSafeCut,
    fitLines,
    fitQP,
    foldField,
    printableQP,
    quotedPrintable,
    sevenBit,
)
from ._exceptions import AmbiguousMIME, HeaderError, MessageError, MIMEError, Unfit
from ._header import fieldName, fieldValue, splitHeader
from ._mime import Part
from ._queueid import (
    QUEUE_ID,
    QUEUE_ID_PATTERN,
    QUEUE_ID_TEXT,
    parseQueueId,
    parseRecipientId,
    queueIdTime,
    recipientId,
)
from ._values import Envelope, Options, QueuedMessage, Recipient

__all__ = [
    "Attachment",
    "ComposeError",
    "MessageParts",
    "compose",
    "noBreaks",
    "parseAddresses",
    "rawField",
    "MAX_LINE",
    "QUEUE_ID",
    "QUEUE_ID_PATTERN",
    "QUEUE_ID_TEXT",
    "AmbiguousMIME",
    "Envelope",
    "HeaderError",
    "MIMEError",
    "MessageError",
    "Options",
    "Part",
    "QueuedMessage",
    "Recipient",
    "Unfit",
    "escapeSafeCut",
    "fieldName",
    "fieldValue",
    "fitLines",
    "fitQP",
    "foldField",
    "mime",
    "parseQueueId",
    "parseRecipientId",
    "queueIdTime",
    "recipientId",
    "printableQP",
    "quotedPrintable",
    "sevenBit",
    "splitHeader",
]
