"""
The dashboard's administration of who may send and who may call: SMTP
logins, REST API tokens, and webhooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import sendTest
from ..store import ADMIN_SCOPE, SEND_SCOPE
from ..store import EVENT_TYPES as TYPES
from ..store import READ_SCOPE as READ
from ._forms import (
    Page,
    Redirect,
    adding,
    arg,
    args,
)
from ._html import (
    button,
    checkbox,
    form,
    link,
    path,
    row,
    secret,
    select,
    status,
    table,
    tags,
    when,
)
from ._html import (
    field as inputField,
)
from ._limitviews import limitChanges, limitFacts, limitFields

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.iweb import IAgent

    from ..admin import IAdministration
    from ..config import Config


class AdminViews:
    """Logins, tokens and webhooks; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    admin: IAdministration
    reactor: IReactorTime
    config: Config
    features: list
    agent: IAgent | None

    # SMTP logins ------------------------------------------------------------------

    async def logins(self, request, session):
        logins = await self.admin.listLogins()
        listed = table(
            ["Name", "Enabled", "Hold", "Features", "Limits", "Click domain", "Last used (UTC)"],
            (
                row(
                    tags.a(href=path("logins", r["name"]))(r["name"]),
                    "yes" if r["enabled"] else "disabled",
                    "held" if r["hold"] else "",
                    ", ".join(r["features"]) or "–",
                    ", ".join(filter(None, (r["rate"], r["quota"]))) or "–",
                    r["public_url"] or "the gateway's",
                    when(r["last_used"]),
                    **{"data-login": r["name"]},
                )
                for r in logins
            ),
            empty="No SMTP logins yet.",
        )
        body = [listed]
        body += adding(
            session,
            "Create an SMTP login",
            "/logins",
            "Create login",
            inputField("Name", "name", required="required", placeholder="shop"),
            tags.fieldset(
                tags.legend("Features"),
                *(checkbox(f, "features", False, f) for f in self.features),
            ),
            checkbox("Hold mode: keep its mail here, deliver nothing", "hold", False),
        )
        return Page("SMTP logins", body, "/logins")

    async def createLogin(self, request, session):
        made = await self.admin.createLogin(
            arg(request, "name"), args(request, "features"), bool(arg(request, "hold"))
        )
        return Page(f"Login {made['name']} created", self._password(made), "/logins", 201)

    def _password(self, made: dict) -> list:
        smtp = [d.split(":")[1] for d in self.config.smtp if d.split(":")[1:2]]
        return [
            secret(
                "Password:",
                made["password"],
                "Copy it now: it is shown only this once, and kept only as a hash.",
            ),
            tags.p(
                f"Send with user name {made['name']} over STARTTLS to {self.config.hostname}"
                f" port {smtp[0] if smtp else 587}, for example:"
            ),
            tags.pre(
                f"swaks --server {self.config.hostname}:{smtp[0] if smtp else 587} --tls"
                f" --auth-user {made['name']} --auth-password '{made['password']}'"
                " --from you@example.com --to someone@example.net"
            ),
            tags.p(tags.a(href=path("logins", made["name"]))(f"Back to {made['name']}")),
        ]

    async def login(self, request, session, name: str):
        record = await self.admin.login(name)
        facts = tags.dl(class_="facts")(
            tags.dt("Enabled"),
            tags.dd("yes" if record["enabled"] else "no"),
            tags.dt("Hold mode"),
            tags.dd("yes" if record["hold"] else "no"),
            tags.dt("Features"),
            tags.dd(", ".join(record["features"]) or "–"),
            tags.dt("Click domain"),
            tags.dd(record["public_url"] or "the gateway's"),
            tags.dt("Created"),
            tags.dd(when(record["created"])),
            tags.dt("Last used"),
            tags.dd(when(record["last_used"])),
            *limitFacts(record, await self.admin.listDomains()),
        )
        body = [facts, tags.p(link("/activity", "Its messages", login=name))]
        if session.mayChange:
            body += [
                tags.h2("Change"),
                form(
                    path("logins", name),
                    session,
                    tags.fieldset(
                        tags.legend("Features"),
                        *(
                            checkbox(f, "features", f in record["features"], f)
                            for f in self.features
                        ),
                    ),
                    checkbox("Enabled", "enabled", record["enabled"]),
                    checkbox(
                        "Hold mode: keep its mail here, deliver nothing", "hold", record["hold"]
                    ),
                    inputField(
                        "Click domain (public URL; empty for the gateway's)",
                        "public_url",
                        record["public_url"] or "",
                        placeholder="https://click.example.com",
                    ),
                    *limitFields(record),
                    button("Save"),
                    class_="stacked",
                ),
                tags.h2("Password"),
                form(path("logins", name, "password"), session, button("Reset password")),
                tags.details(
                    tags.summary("Delete this login…"),
                    form(
                        path("logins", name, "delete"),
                        session,
                        button(f"Delete {name} for good", kind="danger"),
                    ),
                ),
            ]
        return Page(f"SMTP login {name}", body, "/logins")

    async def updateLogin(self, request, session, name: str):
        await self.admin.updateLogin(
            name,
            features=[f for f in args(request, "features") if f],
            enabled=bool(arg(request, "enabled")),
            hold=bool(arg(request, "hold")),
            publicUrl=arg(request, "public_url"),
            limits=limitChanges(request),
        )
        return Redirect(path("logins", name), f"Saved {name}.")

    async def resetLoginPassword(self, request, session, name: str):
        made = await self.admin.resetPassword(name)
        return Page(f"New password for {name}", self._password(made), "/logins")

    async def deleteLogin(self, request, session, name: str):
        await self.admin.deleteLogin(name)
        return Redirect("/logins", f"Deleted {name}.")

    # Webhooks ---------------------------------------------------------------------

    async def webhooks(self, request, session):
        hooks = await self.admin.listWebhooks()
        body: list = []
        for hook in hooks:
            state = "enabled" if hook["enabled"] else (hook["disabled_reason"] or "disabled")
            actions = []
            if session.mayChange:
                actions = [
                    form(
                        path("webhooks", str(hook["id"]), "test"),
                        session,
                        button("Send a test event"),
                    )
                ]
                if not hook["enabled"]:
                    actions.append(
                        form(path("webhooks", str(hook["id"]), "enable"), session, button("Enable"))
                    )
                actions.append(
                    form(
                        path("webhooks", str(hook["id"]), "delete"),
                        session,
                        button("Delete", kind="danger"),
                    )
                )
            body += [
                tags.h2(f"Webhook {hook['id']}: {hook['url']}"),
                tags.p(
                    f"Events: {', '.join(hook['events'])}. ",
                    state,
                    ". Last success: ",
                    when(hook["last_success"]),
                    ".",
                ),
                *actions,
                table(
                    ["Time (UTC)", "Event", "Attempt", "Result"],
                    (
                        row(
                            when(d["time"]),
                            f"{d['type']} {d['event']}",
                            str(d["attempt"]),
                            status("delivered") if d["delivered"] else d["error"],
                        )
                        for d in hook["deliveries"]
                    ),
                    empty="no deliveries yet",
                    class_="history",
                ),
            ]
        if not hooks:
            body.append(tags.p(class_="empty")("No webhooks yet."))
        body += adding(
            session,
            "Add a webhook",
            "/webhooks",
            "Add webhook",
            inputField(
                "URL",
                "url",
                required="required",
                kind="url",
                placeholder="https://app.example.com/hooks/mail",
            ),
            tags.fieldset(tags.legend("Events"), *(checkbox(t, "events", False, t) for t in TYPES)),
        )
        return Page("Webhooks", body, "/webhooks")

    async def addWebhook(self, request, session):
        made = await self.admin.addWebhook(arg(request, "url"), args(request, "events"))
        return Page(
            f"Webhook {made['id']} added",
            [
                secret(
                    "Signing secret:",
                    made["secret"],
                    "Copy it now: verify each POST with it (see docs/webhooks.md); it is not"
                    " shown again.",
                ),
                tags.p(tags.a(href="/webhooks")("Back to webhooks")),
            ],
            "/webhooks",
            201,
        )

    async def webhookAction(self, request, session, id: str, action: str):
        if action == "test":
            sent = await sendTest(self.admin, self.agent, self.reactor, int(id))
            answer = f"HTTP {sent['status']}" if sent["status"] else "no answer"
            if sent["delivered"]:
                return Redirect("/webhooks", f"Test event delivered to {sent['url']} ({answer}).")
            return Redirect("/webhooks", f"Test event not delivered: {sent['error']}.")
        if action == "enable":
            await self.admin.enableWebhook(int(id))
            return Redirect("/webhooks", f"Webhook {id} enabled.")
        await self.admin.deleteWebhook(int(id))
        return Redirect("/webhooks", f"Webhook {id} deleted.")

    # API tokens -------------------------------------------------------------------

    async def tokens(self, request, session):
        listed = table(
            ["Name", "Scope", "Created (UTC)", "Last used (UTC)", ""],
            (
                row(
                    t["name"],
                    f"{t['scope']} (login {t['login']})" if t.get("login") else t["scope"],
                    when(t["created"]),
                    when(t["last_used"]),
                    form(
                        path("tokens", t["name"], "delete"),
                        session,
                        button("Delete", kind="danger"),
                    )
                    if session.mayChange
                    else "",
                )
                for t in await self.admin.listTokens()
            ),
            empty="No API tokens yet.",
        )
        body = [listed]
        body += adding(
            session,
            "Create an API token",
            "/tokens",
            "Create token",
            inputField("Name", "name", required="required", placeholder="reporting"),
            select(
                "Scope",
                "scope",
                [
                    (READ, "read: look only"),
                    (ADMIN_SCOPE, "admin: change too"),
                    (SEND_SCOPE, "send: POST /v1/send only, as the login below"),
                ],
                READ,
            ),
            inputField("Login (send tokens)", "login", placeholder="app"),
        )
        return Page("API tokens", body, "/tokens")

    async def createToken(self, request, session):
        made = await self.admin.createToken(
            arg(request, "name"), arg(request, "scope") or READ, arg(request, "login") or None
        )
        return Page(
            f"Token {made['name']} created",
            [
                secret(
                    "Token:",
                    made["token"],
                    "Copy it now: it is shown only this once. Send it as"
                    " 'Authorization: Bearer TOKEN'.",
                ),
                tags.p(tags.a(href="/tokens")("Back to tokens")),
            ],
            "/tokens",
            201,
        )

    async def deleteToken(self, request, session, name: str):
        await self.admin.deleteToken(name)
        return Redirect("/tokens", f"Deleted token {name}.")
