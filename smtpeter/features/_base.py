"""A base class for features: every L{IFeature} method, doing nothing."""

from __future__ import annotations

from twisted.plugin import IPlugin
from zope.interface import implementer

from ._registry import FlagError, featureSpec, parseFlag
from .interfaces import IFeature


@implementer(IPlugin, IFeature)
class Feature:
    """
    Subclass this and override what the feature needs. C{header} is the
    registry's (C{x-smtpeter-<name>} for a plugin's feature); C{active}
    defaults to "the message's options name me".
    """

    name: str = ""
    order: int = 500
    perRecipient: bool = False

    @property
    def header(self) -> str:
        return featureSpec(self.name).header

    def active(self, options) -> bool:
        # A plugin's own header arrives among the instructions, read already.
        if self.name in options.extra:
            try:
                return parseFlag(options.extra[self.name])
            except FlagError:
                # Only in a message queued before such a value was refused.
                return False
        return self.name in options.features

    def usable(self, environment) -> bool:
        """
        Whether this feature can act at all with the gateway's C{environment}
        (DKIM: only once some domain has a key). Optional for plugins; when
        no active feature is usable, a message skips the chain entirely.
        """
        return True

    def prepareMessage(self, draft) -> None:
        pass

    def prepareHTML(self, document, draft) -> None:
        pass

    def prepareText(self, document, draft) -> None:
        pass

    def fill(self, slot, copy) -> str:
        raise NotImplementedError(f"{self.name} puts no slots in documents")

    def personalise(self, copy) -> None:
        pass

    def __repr__(self) -> str:
        return f"<feature {self.name} (order {self.order})>"
