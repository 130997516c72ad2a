"""Exceptions of the store, rooted in L{StoreError}."""

from __future__ import annotations

from attrs import frozen

from ..features import FEATURES


@frozen
class Hint:
    """
    What to do about an error, named without the words of any front end:
    C{("list", KIND)} see the KIND(s) there are (KIND: login, token, webhook,
    domain, admin, queue); C{("rotate", DOMAIN)} give DOMAIN a new key.
    Each front end phrases it in its own terms (the command line its
    commands, the REST API its endpoints).
    """

    action: str
    subject: str


class StoreError(Exception):
    """
    Something the user asked of the store cannot be done; the text says why
    (in no front end's words), C{hint} what to do, if anything.
    """

    def __init__(self, *args, hint: Hint | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class Invalid(StoreError, ValueError):
    """
    A value the user gave is not one the store takes: C{field} names it as
    the REST API does (the command line maps it to its option), C{reason}
    says what it must be.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Missing(StoreError):
    """The thing named does not exist (the API's 404)."""


class Exists(StoreError):
    """The thing to be made exists already (the API's 409)."""


class NoSuchLogin(Missing):
    def __init__(self, name: str) -> None:
        super().__init__(f"no login named {name!r}", hint=Hint("list", "login"))


class LoginExists(Exists):
    def __init__(self, name: str) -> None:
        super().__init__(f"a login named {name!r} exists already; choose another name")


class UnknownFeature(Invalid):
    def __init__(self, unknown: list[str], valid=FEATURES) -> None:
        super().__init__(
            "features",
            f"unknown feature(s) {', '.join(u[:100] for u in unknown[:10])};"
            f" valid features: {', '.join(valid)}",
        )


class NoSuchDomain(Missing):
    def __init__(self, domain: str) -> None:
        super().__init__(f"no DKIM key for {domain!r}", hint=Hint("list", "domain"))


class DomainExists(Exists):
    def __init__(self, domain: str) -> None:
        super().__init__(f"{domain!r} already has a key", hint=Hint("rotate", domain))


class BadKey(StoreError):
    """A private key that cannot be used for DKIM."""
