"""
C{unsubscribe}: one-click unsubscribe (RFC 8058, RFC 2369). Each
recipient's copy gets

    List-Unsubscribe: <{public-url}/u/{token}>, <mailto:{address}>
    List-Unsubscribe-Post: List-Unsubscribe=One-Click

where the token seals the message, the recipient's index and address and
the login (L{TokenSigner.unsubscribe<smtpeter.features.TokenSigner.unsubscribe>}),
and the mailto is the sender's own, when C{X-Smtpeter-Unsubscribe-Mailto}
gave one. Posting to the URL suppresses that address for that login
(L{smtpeter.web}). A message with a C{List-Unsubscribe} of its own keeps
it, and whatever C{List-Unsubscribe-Post} it has, untouched.

It runs after the features that change the body and before DKIM signing
(order 1000), which covers both fields (L{_dkimsign}).
"""

from __future__ import annotations

from ._base import Feature
from ._registry import PREFIX, UNSUBSCRIBE_MAILTO

#: Where the message's options keep the sender's mailto address.
MAILTO = UNSUBSCRIBE_MAILTO[len(PREFIX) :]
ONE_CLICK = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"


class Unsubscribe(Feature):
    name = "unsubscribe"
    order = 900
    perRecipient = True

    def prepareMessage(self, draft) -> None:
        if "list-unsubscribe" in draft.root.headers:
            return  # the sender's own: kept as it is
        options = draft.message.options
        draft.state[self.name] = (options.login, options.extra.get(MAILTO))

    def personalise(self, copy) -> None:
        found = copy.state.get(self.name)
        if found is None or copy.index is None or copy.recipient is None:
            return
        login, mailto = found
        token = copy.environment.signer.unsubscribe(copy.qid, copy.index, login, copy.recipient)
        value = f"<{copy.publicUrl}/u/{token}>"
        if mailto:
            value += f",\r\n <mailto:{mailto}>"
        header = f"List-Unsubscribe: {value}\r\n".encode("ascii")
        copy.content = header + ONE_CLICK + copy.content
