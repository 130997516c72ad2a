"""The seam between the feature chain and each feature, built in or plugged in."""

from typing import Protocol

from zope.interface import Attribute, Interface


class IFeature(Interface):
    """
    One transformation of outgoing mail. Features are found with
    C{twisted.plugin.getPlugins(IFeature, smtpeter.plugins)} and run in
    ascending C{order}. The expensive work belongs in the C{prepare*}
    methods, which run once per message (and whose HTML and text results are
    cached by content); C{fill} and C{personalise} run per recipient's copy.
    All methods run in a worker thread, never on the reactor.
    """

    name = Attribute("The feature's name, as stored in a login's features (e.g. 'trackclicks').")
    header = Attribute("The x-smtpeter-* header that switches it per message.")
    order = Attribute("An int: features run in ascending order (DKIM signing last, at 1000).")
    perRecipient = Attribute(
        "True if each recipient's copy differs (then each is sent in its own transaction)."
    )

    def active(options):
        """
        Does this feature act on a message with these
        L{smtpeter.queue.Options}? Usually C{self.name in options.features}.
        """

    def prepareMessage(draft):
        """
        Once per message, before any part is transformed: work on the MIME
        structure (L{smtpeter.features.Draft}) or look things up.
        """

    def prepareHTML(document, draft):
        """
        Once per distinct HTML part: change the L{HtmlDocument} (its
        C{.tree} or its C{.text}); put per-recipient values in with
        C{document.slot(self.name, value)}.
        """

    def prepareText(document, draft):
        """Once per distinct text/plain part, as L{prepareHTML}."""

    def fill(slot, copy):
        """The text for one of this feature's slots in one recipient's L{Copy}."""

    def personalise(copy):
        """Change one recipient's L{Copy} (its C{sender} or C{content}) before sending."""


class ITransformer(Interface):
    """What the queue asks of the chain, without blocking the reactor."""

    def prepare(message, content: bytes):
        """
        The once-per-message work for a L{smtpeter.queue.QueuedMessage}.
        Never fails for a feature's sake (the message goes out unchanged).
        @return: C{Deferred[Prepared]}
        """

    def render(prepared, index):
        """
        The copy for the recipient at C{index} in the envelope, or the one
        copy all share (C{index=None}, when C{prepared.shared}).
        @return: C{Deferred[Copy]}
        """


class ImageHost(Protocol):
    """Where the images feature keeps a message's inline images (the store's C{ImageStore})."""

    def put(self, data: bytes, contentType: str) -> str | None:
        """Keep C{data}; its name, or C{None} for a type that is not hosted."""


class SigningKey(Protocol):
    """One sender domain's DKIM key (the store's C{DomainKey})."""

    @property
    def domain(self) -> str: ...

    @property
    def selector(self) -> str: ...

    @property
    def privateKey(self) -> bytes: ...


class SigningKeys(Protocol):
    """The active DKIM keys, as the signer looks them up (the store's C{DomainKeys})."""

    def hasKeys(self) -> bool:
        """Whether any domain has an active key."""

    def keyFor(self, domain: str) -> SigningKey | None:
        """The key for C{domain} or, failing that, for the nearest parent domain."""
