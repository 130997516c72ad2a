"""
The values a queued message is made of: envelope, recipients with their DSN
requests, and the options the feature chain will read.
"""

from __future__ import annotations

from attrs import field, frozen


@frozen
class Recipient:
    """
    One envelope recipient with its RFC 3461 parameters. C{notify} is empty
    when the client asked nothing (the default, failure only, applies).
    """

    address: str
    notify: tuple[str, ...] = ()
    orcpt: str | None = None

    def wants(self, kind: str) -> bool:
        """Does this recipient's sender want a DSN of C{kind}?"""
        if "NEVER" in self.notify:
            return False
        if not self.notify:
            return kind in ("FAILURE", "DELAY")
        return kind in self.notify

    def toJSON(self) -> dict:
        return {"address": self.address, "notify": list(self.notify), "orcpt": self.orcpt}

    @classmethod
    def fromJSON(cls, data: dict) -> Recipient:
        return cls(data["address"], tuple(data["notify"]), data["orcpt"])


@frozen
class Envelope:
    """
    The SMTP envelope. C{sender} is C{""} for the null reverse-path
    (C{MAIL FROM:<>}), which never receives a DSN.
    """

    sender: str
    recipients: tuple[Recipient, ...]
    ret: str | None = None
    envid: str | None = None
    body: str | None = None

    def toJSON(self) -> dict:
        return {
            "sender": self.sender,
            "recipients": [r.toJSON() for r in self.recipients],
            "ret": self.ret,
            "envid": self.envid,
            "body": self.body,
        }

    @classmethod
    def fromJSON(cls, data: dict) -> Envelope:
        return cls(
            data["sender"],
            tuple(Recipient.fromJSON(r) for r in data["recipients"]),
            data["ret"],
            data["envid"],
            data["body"],
        )


@frozen
class Options:
    """
    The features in force for one message (the login's set, overridden by
    C{x-smtpeter-*} headers) and its tags. The feature chain reads these.
    """

    #: The names of the features in force (the registry's, L{smtpeter.features}).
    features: frozenset[str] = frozenset()
    tags: tuple[str, ...] = ()
    login: str | None = None
    extra: dict[str, str] = field(factory=dict, hash=False)
    #: The login's click domain, when it has its own (else the gateway's).
    publicUrl: str | None = None
    #: The C{Message-ID} header's value, as sent or as the gateway added it.
    messageId: str | None = None
    #: Sent by a login in hold mode: kept, not delivered, until released.
    hold: bool = False
    #: Not delivered after this moment (seconds since the epoch), if set:
    #: C{x-smtpeter-maxdelivertime}, the REST API's C{maxdelivertime}.
    maxDeliverTime: float | None = None

    @property
    def ignoresSuppression(self) -> bool:
        """Did the message say C{X-Smtpeter-IgnoreSuppression: true}?"""
        return self.extra.get("ignoresuppression") == "true"

    def toJSON(self) -> dict:
        return {
            "features": sorted(self.features),
            "tags": list(self.tags),
            "login": self.login,
            "extra": dict(self.extra),
            "public_url": self.publicUrl,
            "message_id": self.messageId,
            "hold": self.hold,
            "max_deliver_time": self.maxDeliverTime,
        }

    @classmethod
    def fromJSON(cls, data: dict) -> Options:
        return cls(
            frozenset(data["features"]),
            tuple(data["tags"]),
            data["login"],
            data["extra"],
            data.get("public_url"),
            data.get("message_id"),
            data.get("hold", False),
            data.get("max_deliver_time"),
        )


@frozen
class QueuedMessage:
    """A message as the spool keeps it: immutable once written."""

    qid: str
    envelope: Envelope
    options: Options
    received: float
    #: C{bytes}, or a L{Spilled} body while it is being stored.
    content: bytes = field(repr=False)
    isDSN: bool = False
