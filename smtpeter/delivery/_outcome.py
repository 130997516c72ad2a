"""What happened to one recipient in one delivery attempt."""

from __future__ import annotations

from attrs import frozen

DELIVERED = "delivered"
TRANSIENT = "transient"
PERMANENT = "permanent"


@frozen
class Outcome:
    """
    C{status} is L{DELIVERED}, L{TRANSIENT} (retry later) or L{PERMANENT}.
    C{code}, C{enhanced} and C{text} are the next hop's reply, or one we made
    up for failures before any reply (refused connections, DNS). C{state}
    names the protocol step it happened at (connect, greeting, MAIL, RCPT,
    DATA...). C{relayed} is true when the next hop took over DSN duties.
    """

    status: str
    code: int
    enhanced: str
    text: str
    state: str
    host: str = ""
    relayed: bool = False

    @classmethod
    def fromReply(cls, reply, state: str, host: str, relayed: bool = False) -> Outcome:
        if 200 <= reply.code < 300:
            status = DELIVERED
        elif 400 <= reply.code < 500:
            status = TRANSIENT
        else:
            status = PERMANENT
        enhanced = reply.enhanced or f"{str(reply.code)[0]}.0.0"
        return cls(status, reply.code, enhanced, reply.text, state, host, relayed)

    @classmethod
    def transient(cls, text: str, state: str, host: str = "", enhanced: str = "4.4.1") -> Outcome:
        return cls(TRANSIENT, 451, enhanced, text, state, host)

    @classmethod
    def permanent(cls, text: str, state: str, host: str = "", enhanced: str = "5.1.2") -> Outcome:
        return cls(PERMANENT, 550, enhanced, text, state, host)

    def describe(self) -> str:
        where = f" from {self.host}" if self.host else ""
        # A next hop's text usually starts with its enhanced code already.
        reply = self.text if self.text.startswith(self.enhanced) else f"{self.enhanced} {self.text}"
        return f"{self.code} {reply} (at {self.state}{where})"
