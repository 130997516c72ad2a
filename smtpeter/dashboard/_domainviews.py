"""
The dashboard's sender domains: DKIM keys, the DNS records to publish and
their check, key rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..admin import recordsToPublish
from ._forms import (
    Page,
    Redirect,
    adding,
    arg,
)
from ._html import (
    button,
    form,
    path,
    row,
    status,
    table,
    tags,
    when,
)
from ._html import (
    field as inputField,
)

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from ..admin import IAdministration
    from ..config import Config


class DomainViews:
    """Sender domains; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    admin: IAdministration
    config: Config
    checkDomain: Callable[[dict], Deferred] | None

    # Sender domains ---------------------------------------------------------------

    async def domains(self, request, session):
        keys = await self.admin.listDomains()
        listed = table(
            ["Domain", "Selector", "Active", "Created (UTC)"],
            (
                row(
                    tags.a(href=path("domains", k["domain"]))(k["domain"]),
                    k["selector"],
                    "signing" if k["active"] else "retired",
                    when(k["created"]),
                )
                for k in keys
            ),
            empty="No sender domains yet: mail goes out without a DKIM signature.",
        )
        body = [listed]
        body += adding(
            session,
            "Add a sender domain",
            "/domains",
            "Add domain",
            inputField("Domain", "domain", required="required", placeholder="example.com"),
            inputField("Selector (optional)", "selector"),
        )
        return Page("Sender domains", body, "/domains")

    async def addDomain(self, request, session):
        made = await self.admin.addDomain(arg(request, "domain"), arg(request, "selector") or None)
        return Redirect(
            path("domains", made["domain"]), "Added. Publish the records below, then check them."
        )

    async def domain(self, request, session, domain: str):
        found = await self.admin.domain(domain)
        config = self.config
        wanted = recordsToPublish(found, config.hostname, config.bounceDomain, config.publicUrl)
        body = [
            tags.h2("Records to publish"),
            table(
                ["Purpose", "Name", "Type", "Value"],
                (row(r["kind"], r["name"], r["type"], tags.code(r["value"])) for r in wanted),
                class_="records stack",
            ),
        ]
        if arg(request, "check") and self.checkDomain is not None:
            checked = await self.checkDomain(found)
            body += [
                tags.h2("Live check: ", status("ok" if checked["ok"] else "failed")),
                table(
                    ["Purpose", "Name", "Found", "Result"],
                    (
                        row(
                            r["kind"],
                            r["name"],
                            ", ".join(r["found"]) or "nothing",
                            status("ok")
                            if r["ok"]
                            else tags.span(status("failed"), " ", r["problem"] or ""),
                            **{"data-kind": r["kind"]},
                        )
                        for r in checked["records"]
                    ),
                    class_="check",
                ),
            ]
        else:
            body.append(
                form(
                    path("domains", domain),
                    None,
                    tags.input(type="hidden", name="check", value="1"),
                    button("Check DNS now"),
                    method="get",
                )
            )
        body += [
            tags.h2("Keys"),
            table(
                ["Selector", "State", "Created (UTC)"],
                (
                    row(k["selector"], "signing" if k["active"] else "retired", when(k["created"]))
                    for k in found["keys"]
                ),
            ),
        ]
        if session.mayChange:
            body += [
                form(path("domains", domain, "rotate"), session, button("Rotate the key")),
                tags.details(
                    tags.summary("Delete this domain…"),
                    form(
                        path("domains", domain, "delete"),
                        session,
                        button(f"Delete {domain} and its keys", kind="danger"),
                    ),
                ),
            ]
        return Page(f"Domain {found['domain']}", body, "/domains")

    async def rotateDomain(self, request, session, domain: str):
        made = await self.admin.rotateDomain(domain)
        return Redirect(
            path("domains", domain),
            f"New key {made['selector']}: publish its record; the old key signs nothing more.",
        )

    async def deleteDomain(self, request, session, domain: str):
        await self.admin.deleteDomain(domain)
        return Redirect("/domains", f"Deleted {domain}.")
