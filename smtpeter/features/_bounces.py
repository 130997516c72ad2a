"""
C{trackbounces}: each copy's envelope sender becomes a signed address
C{b...@{bounce-domain}} naming the message and the recipient (VERP), so a
bounce tells which recipient failed even when it quotes nothing. The
message's own envelope (kept in the spool, and in the message record) says
where bounces are to be forwarded. C{MAIL FROM:<>} stays empty.
"""

from __future__ import annotations

from ._base import Feature


class TrackBounces(Feature):
    name = "trackbounces"
    order = 500
    perRecipient = True

    def personalise(self, copy) -> None:
        if copy.sender and copy.index is not None:
            local = copy.environment.signer.bounce(copy.qid, copy.index)
            copy.sender = f"{local}@{copy.environment.bounceDomain}"
