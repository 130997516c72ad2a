"""
The feature vocabulary, written once: each switchable feature's name (as a
login stores it), its C{x-smtpeter-*} header, the words that header takes,
and its default; and the one true/false grammar every switch is read with.

The SMTP server (reading a message's headers), the feature chain, the
stores (checking a login's features), the CLI, the REST API and the
dashboard all read this module through the C{smtpeter.features} face.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache

from attrs import frozen
from twisted.plugin import getPlugins

#: Every header that speaks to the gateway starts so; none is ever forwarded.
PREFIX = "x-smtpeter-"

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")


class FlagError(ValueError):
    """A switch's value is not one of the true/false words; says which are."""

    def __init__(self, value: str) -> None:
        super().__init__(
            f"{value[:100]!r} is not true or false (say {', '.join(TRUE)} or {', '.join(FALSE)})"
        )


def parseFlag(value: str) -> bool:
    """
    The one true/false grammar: C{true yes on 1} and C{false no off 0}, in
    any case, around white space. Anything else (C{maybe}, nothing) raises
    L{FlagError}, whose text a refusal can show as it is.
    """
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise FlagError(value)


@frozen
class FeatureSpec:
    """
    One switchable feature. C{words} are what its header says instead of
    true/false, when it has its own (C{x-smtpeter-images: hosted|inline});
    such a header also takes C{default} (which means C{default}) and the
    true/false words.
    """

    name: str
    default: bool = False
    header: str = ""
    words: tuple[str, str] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.header:
            object.__setattr__(self, "header", PREFIX + self.name)

    @property
    def option(self) -> str:
        """The header's name without L{PREFIX}, as a message's options keep it."""
        return self.header[len(PREFIX) :]

    def read(self, value: str) -> bool:
        """On or off, as this feature's header C{value} says; L{ValueError} if neither."""
        if self.words is None:
            return parseFlag(value)
        lowered = value.strip().lower()
        on, off = self.words
        if lowered == on:
            return True
        if lowered == off:
            return False
        if lowered == "default":
            return self.default
        try:
            return parseFlag(value)
        except FlagError:
            raise ValueError(f"use {on!r}, {off!r} or 'default'") from None


#: The built-in switchable features. (DKIM signing is built in too, but no
#: switch: it signs whenever the sender's domain has a key.)
BUILT_IN: tuple[FeatureSpec, ...] = (
    FeatureSpec("trackclicks"),
    FeatureSpec("trackopens"),
    FeatureSpec("trackbounces"),
    FeatureSpec("preventscam"),
    FeatureSpec("inlinecss"),
    FeatureSpec("hostedimages", header=PREFIX + "images", words=("hosted", "inline")),
    FeatureSpec("unsubscribe"),
)
#: Their names, as logins store them.
FEATURES: tuple[str, ...] = tuple(spec.name for spec in BUILT_IN)
#: Features that are always on, never a login's or a header's to switch.
ALWAYS_ON = frozenset({"dkim"})
#: A switch that is no feature: C{x-smtpeter-ignoresuppression: true}.
IGNORE_SUPPRESSION = FeatureSpec("ignoresuppression")

#: A value that is no switch: the sender's own unsubscribe address, which the
#: C{unsubscribe} feature lists beside its one-click URL (C{<mailto:...>}).
UNSUBSCRIBE_MAILTO = PREFIX + "unsubscribe-mailto"
#: An address a mailto URI carries as it is (RFC 6068): no percent-encoding needed.
_MAILTO = re.compile(
    r"[A-Za-z0-9!$&'*+=_~-]+(?:\.[A-Za-z0-9!$&'*+=_~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def readMailto(value: str) -> str:
    """
    The address of an C{x-smtpeter-unsubscribe-mailto} header (C{mailto:}
    and angle brackets allowed around it), or L{ValueError} saying what is wanted.
    """
    address = value.strip().strip("<>").strip()
    if address[:7].lower() == "mailto:":
        address = address[7:]
    if len(address) > 254 or not _MAILTO.fullmatch(address):
        raise ValueError(
            f"{value[:100]!r} is not an address a mailto: link can carry"
            " (letters, digits and .!$&'*+=_~- before the @, a domain name after it)"
        )
    return address


#: An instruction that is no switch: C{x-smtpeter-maxdelivertime: YYYY-MM-DD hh:mm:ss}
#: (UTC): the message is not delivered after it (its recipients fail, reason
#: C{expired}). The REST send API's C{maxdelivertime} field writes it.
MAX_DELIVER_TIME = "maxdelivertime"
#: The grammar of its value.
DELIVER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DELIVER_TIME_WHY = "a UTC time written YYYY-MM-DD hh:mm:ss, e.g. 2026-12-31 23:59:00"


def parseDeliverTime(value: str) -> float:
    """
    A L{MAX_DELIVER_TIME} as seconds since the epoch; L{ValueError} saying
    what it must be if it is not one.
    """
    try:
        moment = datetime.strptime(value.strip(), DELIVER_TIME_FORMAT)
    except ValueError:
        raise ValueError(f"{value[:100]!r} is not {DELIVER_TIME_WHY}") from None
    return moment.replace(tzinfo=UTC).timestamp()


_BY_NAME = {spec.name: spec for spec in BUILT_IN}


def featureSpec(name: str) -> FeatureSpec:
    """The built-in feature's spec, or that of a plugin's (C{x-smtpeter-<name>}, off)."""
    return _BY_NAME.get(name) or FeatureSpec(name)


def featureSpecs(plugins: Iterable[str] = ()) -> tuple[FeatureSpec, ...]:
    """The built-in features, then those the named plugins add (not L{ALWAYS_ON})."""
    added = sorted(set(plugins) - set(_BY_NAME) - ALWAYS_ON)
    return BUILT_IN + tuple(FeatureSpec(name) for name in added)


def discover() -> list:
    """Every feature installed: smtpeter's own and those of other distributions."""
    import smtpeter.plugins

    from .interfaces import IFeature

    return list(getPlugins(IFeature, smtpeter.plugins))


@cache
def installedSpecs() -> tuple[FeatureSpec, ...]:
    """
    The switchable features of this installation: the built-in ones and
    those of the plugins found (looked for once per process).
    """
    return featureSpecs(feature.name for feature in discover())


def knownFeatures() -> list[str]:
    """The names a login may have, sorted: the built-in features and the plugins'."""
    return sorted(spec.name for spec in installedSpecs())


def isBuiltIn(name: str) -> bool:
    return name in _BY_NAME
