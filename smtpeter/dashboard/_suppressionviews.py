"""
The dashboard's Suppressions page: the addresses mail is not attempted to,
each with its scope (every login's mail, or one login's: a recipient's
one-click unsubscribe), why, since and until when, and the message that
caused it; narrowed to one login's with C{?login=}; an admin may take an
entry off. The list is the event store's (as C{GET /v1/suppressions}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ._forms import Page, Redirect, arg
from ._html import button, form, link, path, row, table, tags, when
from ._html import field as inputField

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from ..store import IEventStore, ISuppressionStore


class SuppressionViews:
    """The Suppressions page; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    events: IEventStore
    reactor: IReactorTime

    @property
    def _suppressions(self) -> ISuppressionStore:
        # The event store keeps the list (every store class has both).
        return cast("ISuppressionStore", self.events)

    async def suppressions(self, request, session):
        login = arg(request, "login") or None
        entries = await self._suppressions.suppressions(self.reactor.seconds(), login)
        filtering = form(
            "/suppressions",
            None,
            inputField("Login", "login", login or "", placeholder="every scope"),
            button("Show"),
            method="get",
        )
        listed = table(
            ["Address", "For", "Reason", "Since (UTC)", "Until (UTC)", "Message", ""],
            (
                row(
                    e.address,
                    f"login {e.login}" if e.login else "every login",
                    e.reason,
                    when(e.created),
                    when(e.expires) if e.expires is not None else "for ever",
                    link(path("messages", e.qid), e.qid) if e.qid else "–",
                    form(
                        "/suppressions/delete",
                        session,
                        tags.input(type="hidden", name="email", value=e.address),
                        tags.input(type="hidden", name="login", value=e.login or ""),
                        button("Delete", kind="danger"),
                    )
                    if session.mayChange
                    else "",
                    **{"data-suppression": e.address, "data-login": e.login or ""},
                )
                for e in entries
            ),
            empty="No suppressed addresses." if login is None else f"None for login {login}.",
            class_="stack",
        )
        why = tags.p(
            "Mail to these addresses is not attempted: a failure event says 'suppressed'"
            " (or 'unsubscribed', for one login's), unless the message says"
            " X-Smtpeter-IgnoreSuppression: true. Bounces and complaints suppress for every"
            " login; a recipient's one-click unsubscribe for the login it came from."
        )
        return Page("Suppressions", [why, filtering, listed], "/suppressions")

    async def deleteSuppression(self, request, session):
        address, login = arg(request, "email"), arg(request, "login") or None
        await self._suppressions.unsuppress(address, login)
        scope = f" for login {login}" if login else ""
        return Redirect("/suppressions", f"{address} is no longer suppressed{scope}.")
