"""
The dashboard's resource: routes each path and method to its view, and
stands guard in front of them. Every page but the log-in form needs a
session; every POST needs the session's CSRF token and, unless it only logs
out, the admin role (a viewer sees everything and changes nothing). Log-in
failures are slowed down and then refused per client address, with the
SMTP side's throttle and counters. Every answer forbids framing and inline
script, and is never cached.
"""

from __future__ import annotations

import re
from importlib import resources
from urllib.parse import quote, unquote

from twisted.internet.defer import ensureDeferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.web.http import INSUFFICIENT_STORAGE_SPACE, parse_qs
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ..message import QUEUE_ID_PATTERN
from ..runtime import RepeatedErrors
from ..store import Exists, Missing, StoreError
from ..web import BoundedSite, clientAddress, storageError
from ._html import button, document, field, tags
from ._pages import BadInput, Download, Pages, Redirect, arg
from ._previewviews import Served
from ._sessions import LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions, Signed

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)

HEADERS = {
    b"content-security-policy": b"default-src 'none'; style-src 'self'; img-src 'self' data:;"
    b" frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"cache-control": b"no-store",
}
NOTICE_COOKIE = b"smtpeter_notice"
_QID = f"(?P<qid>{QUEUE_ID_PATTERN})"
_NAME = "(?P<name>[^/]+)"

#: (method, path pattern, view name, who may: "page" (anyone logged in),
#: "change" (an admin, with the form's token)).
ROUTES = [
    ("GET", "", "overview", "page"),
    ("GET", "activity", "activity", "page"),
    ("GET", r"activity\.csv", "activityCSV", "page"),
    ("GET", f"messages/{_QID}", "message", "page"),
    ("GET", f"messages/{_QID}/html", "messageFrame", "page"),
    ("GET", rf"messages/{_QID}/parts/(?P<index>\d{{1,4}})", "messagePart", "page"),
    ("GET", rf"messages/{_QID}\.eml", "messageSource", "page"),
    ("POST", f"messages/{_QID}/(?P<action>release|delete)", "heldAction", "change"),
    ("GET", "queue", "queue", "page"),
    ("POST", f"queue/{_QID}/(?P<action>retry|delete)", "queueAction", "change"),
    ("GET", "logins", "logins", "page"),
    ("POST", "logins", "createLogin", "change"),
    ("GET", f"logins/{_NAME}", "login", "page"),
    ("POST", f"logins/{_NAME}", "updateLogin", "change"),
    ("POST", f"logins/{_NAME}/password", "resetLoginPassword", "change"),
    ("POST", f"logins/{_NAME}/delete", "deleteLogin", "change"),
    ("GET", "domains", "domains", "page"),
    ("POST", "domains", "addDomain", "change"),
    ("GET", "domains/(?P<domain>[^/]+)", "domain", "page"),
    ("POST", "domains/(?P<domain>[^/]+)/rotate", "rotateDomain", "change"),
    ("POST", "domains/(?P<domain>[^/]+)/delete", "deleteDomain", "change"),
    ("GET", "webhooks", "webhooks", "page"),
    ("POST", "webhooks", "addWebhook", "change"),
    ("POST", r"webhooks/(?P<id>\d+)/(?P<action>test|enable|delete)", "webhookAction", "change"),
    ("GET", "tokens", "tokens", "page"),
    ("POST", "tokens", "createToken", "change"),
    ("POST", f"tokens/{_NAME}/delete", "deleteToken", "change"),
    ("GET", "links", "links", "page"),
]
_ROUTES = [(m, re.compile(p + r"/?\Z"), view, needs) for m, p, view, needs in ROUTES]
#: Where a log-in may send the browser: a path on this site, in printable
#: ASCII without backslashes (a browser reads C{/\\host} and C{/<tab>/host}
#: as another host, and C{//host} is one).
_SAME_SITE = re.compile(r"/(?![/\\])[!-\[\]-~]*\Z")


def sameSitePath(next: str) -> str:
    """C{next} if it is a path on this site that no browser reads as another site's, else C{/}."""
    return next if _SAME_SITE.match(next) else "/"


def formFields(request) -> dict[bytes, list[bytes]]:
    """
    A POST's form fields, from its body only: Twisted's C{request.args}
    mixes in the query string, where a link on another site can put a
    field (the CSRF token among them).
    """
    kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if kind != b"application/x-www-form-urlencoded" or request.content is None:
        return {}
    request.content.seek(0)
    body = request.content.read()
    request.content.seek(0)
    # Twisted's parse_qs, on bytes: urllib's, given bytes, decodes and
    # encodes them again as ASCII (a 500 for any non-ASCII value); these
    # bytes are decoded by arg(); a view never sees a field that is not
    # UTF-8 (see _utf8).
    return parse_qs(body, keep_blank_values=True)


def _utf8(request) -> None:
    """Refuse a form with a field that is not UTF-8 (a browser sends nothing else)."""
    for name, values in request.args.items():
        for value in values:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                field = name.decode("utf-8", "replace")[:100]
                raise BadInput(f"{field}: not UTF-8 text") from None


class Refused(Exception):
    def __init__(self, code: int, title: str, text: str) -> None:
        super().__init__(text)
        self.code, self.title, self.text = code, title, text


def _stylesheet() -> bytes:
    return (resources.files(__package__) / "dashboard.css").read_bytes()


class Dashboard(Resource):
    isLeaf = True

    def __init__(self, pages: Pages, sessions: Sessions, throttle) -> None:
        super().__init__()
        self.pages = pages
        self.sessions = sessions
        self.throttle = throttle
        self.admin = pages.admin
        #: Where sessions are kept (an IDashboardSessionStore): the event store.
        self.store = pages.events
        self.css = _stylesheet()

    def render(self, request):
        for name, value in HEADERS.items():
            request.setHeader(name, value)
        finished: list = []
        request.notifyFinish().addBoth(finished.append)

        def failed(failure):
            # A full disk or a damaged database: said as the API says it.
            storage = storageError(failure.value)
            if storage is None or storage[0] != INSUFFICIENT_STORAGE_SPACE:
                repeated.failure(
                    "{method} {uri} failed", failure, method=request.method, uri=request.uri
                )
            if finished or request.startedWriting:
                return None
            if storage is not None:
                code, text = storage
                title = "The disk is full" if code == INSUFFICIENT_STORAGE_SPACE else "Unavailable"
                return self._answer(request, code, document(title, tags.p(text)))
            return self._answer(
                request,
                500,
                document("Something went wrong", tags.p("The gateway's log says what.")),
            )

        d = ensureDeferred(self._handle(request))
        d.addErrback(failed)
        d.addErrback(lambda f: log.failure("the error page failed", f))
        d.addBoth(lambda _: finished or request.finish())
        return NOT_DONE_YET

    def _answer(self, request, code: int, body: bytes, contentType=b"text/html; charset=utf-8"):
        request.setResponseCode(code)
        request.setHeader(b"content-type", contentType)
        request.setHeader(b"content-length", b"%d" % len(body))
        if request.method != b"HEAD":
            request.write(body)

    async def _handle(self, request):
        parts = [unquote(p.decode("utf-8", "replace")) for p in request.postpath]
        where = "/".join(parts)
        method = "GET" if request.method == b"HEAD" else request.method.decode("latin-1")
        if method == "POST":
            request.args = formFields(request)
        if where == "static/dashboard.css" and method == "GET":
            request.setHeader(b"cache-control", b"max-age=3600")
            return self._answer(request, 200, self.css, b"text/css; charset=utf-8")
        if where in ("login", "logout"):
            allowed = ("GET", "POST") if where == "login" else ("POST",)
            if method not in allowed:
                return self._notAllowed(request, allowed)
            return await getattr(self, f"_{where}")(request, method)
        matched = [(m, r.match(where), view, needs) for m, r, view, needs in _ROUTES]
        matched = [(m, found, view, needs) for m, found, view, needs in matched if found]
        if not matched:
            return self._answer(
                request,
                404,
                document(
                    "Not found",
                    tags.p("There is no such page. ", tags.a(href="/")("Go to the overview.")),
                ),
            )
        chosen = [x for x in matched if x[0] == method]
        if not chosen:
            return self._notAllowed(request, sorted({m for m, *_ in matched}))
        _, found, view, needs = chosen[0]
        try:
            session = await self._session(request)
            if session is None:
                if method != "GET":
                    raise Refused(403, "Not logged in", "Log in first; your session has ended.")
                return self._redirect(
                    request, "/login?next=" + quote(request.uri.decode("latin-1"), safe="")
                )
            if method == "POST":
                self._checkToken(request, session)
                if needs == "change" and not session.mayChange:
                    raise Refused(
                        403,
                        "Read only",
                        "Your role is viewer: you can see everything and change"
                        " nothing. Ask an admin.",
                    )
                _utf8(request)
            answer = await getattr(self.pages, view)(request, session, **found.groupdict())
        except Refused as e:
            return self._answer(
                request,
                e.code,
                document(e.title, tags.p(e.text), session=await self._session(request)),
            )
        except Missing as e:
            return self._answer(
                request, 404, document("Not found", tags.p(str(e)), session=session)
            )
        except (Exists, StoreError, BadInput, ValueError) as e:
            back = tags.a(href="/" + parts[0] if parts else "/")("Back")
            return self._answer(
                request,
                400,
                document("That did not work", tags.p(str(e)), tags.p(back), session=session),
            )
        if method == "POST":
            log.info(
                "dashboard: {name} ({role}) {view} {where}",
                name=session.name,
                role=session.role,
                view=view,
                where=where,
            )
        return self._show(request, session, answer)

    def _show(self, request, session, answer) -> None:
        if answer is None:
            return self._answer(
                request,
                404,
                document(
                    "Not found",
                    tags.p("Nothing by that id: unknown, or older than the retention period."),
                    session=session,
                ),
            )
        if isinstance(answer, Redirect):
            if answer.notice:
                self._cookie(request, NOTICE_COOKIE, quote(answer.notice), maxAge=60)
            return self._redirect(request, answer.location)
        if isinstance(answer, Download):
            request.setHeader(
                b"content-disposition", f'attachment; filename="{answer.filename}"'.encode()
            )
            return self._answer(request, 200, answer.body, answer.contentType)
        if isinstance(answer, Served):
            for name, value in answer.headers.items():
                request.setHeader(name, value)
            return self._answer(request, 200, answer.body, answer.contentType)
        notice = ""
        cookie = request.getCookie(NOTICE_COOKIE)
        if cookie:
            notice = unquote(cookie.decode("latin-1"))[:500]
            self._cookie(request, NOTICE_COOKIE, "", maxAge=0)
        body = document(
            answer.title, *answer.body, session=session, section=answer.section, notice=notice
        )
        return self._answer(request, answer.code, body)

    def _notAllowed(self, request, allowed) -> None:
        request.setHeader(b"allow", ", ".join(allowed).encode())
        return self._answer(
            request,
            405,
            document("Method not allowed", tags.p(f"This page takes {' and '.join(allowed)}.")),
        )

    def _redirect(self, request, location: str) -> None:
        request.setResponseCode(303)
        request.setHeader(b"location", location.encode())
        request.setHeader(b"content-length", b"0")

    def _cookie(self, request, name: bytes, value: str, maxAge: int | None = None) -> None:
        request.addCookie(
            name,
            value.encode(),
            path=b"/",
            httpOnly=True,
            secure=request.isSecure(),
            sameSite="strict",
            max_age=None if maxAge is None else str(maxAge).encode(),
        )

    async def _signed(self, request) -> tuple[Signed, str] | None:
        """The request's session cookie, read, and its value; if it is one and has not ended."""
        value = (request.getCookie(SESSION_COOKIE) or b"").decode("latin-1")
        signed = self.sessions.read(value) if value else None
        if signed is None:
            return None
        if not await self.store.dashboardSessionLive(signed.id, self.pages.reactor.seconds()):
            return None  # logged out
        return signed, value

    async def _session(self, request) -> Session | None:
        found = await self._signed(request)
        if found is None:
            return None
        signed, value = found
        user = await self.admin.adminSession(signed.name)
        if user is None or user["generation"] != signed.generation:
            return None
        return Session(user["name"], user["role"], self.sessions.csrf(value))

    def _checkToken(self, request, session: Session) -> None:
        token = arg(request, "csrf")
        if not token or token != session.csrf:
            raise Refused(
                403,
                "Form expired",
                "This form came without its security token (or from another site)."
                " Open the page again and repeat what you did.",
            )

    # Logging in and out ---------------------------------------------------------------

    async def _login(self, request, method: str) -> None:
        next = sameSitePath(arg(request, "next"))
        if method == "GET":
            if await self._session(request) is not None:
                return self._redirect(request, next)
            return self._loginForm(request, next, 200)
        cookie = (request.getCookie(LOGIN_COOKIE) or b"").decode("latin-1")
        if not self.sessions.checkCSRF(cookie, arg(request, "csrf")):
            return self._loginForm(request, next, 403, "The form expired; log in again.")
        address = clientAddress(request)
        user = delay = None
        if not await self.throttle.isBanned(address, scope="dashboard"):
            user = await self.admin.checkAdmin(arg(request, "name"), arg(request, "password"))
            # Counted before anyone acts on it: of any number of posts at
            # once, to whichever worker, no more failures are told than the
            # limit; those after it are refused, the right password too.
            delay = await self.throttle.settle(address, user is not None, scope="dashboard")
        if delay is None:
            log.warn(
                "dashboard log-in refused: too many failures from {ip}", ip=clientAddress(request)
            )
            return self._loginForm(
                request, next, 429, "Too many failed log-ins from your address; wait ten minutes."
            )
        if user is None:
            log.info(
                "dashboard log-in failed for {name!r} from {ip}",
                name=arg(request, "name")[:100],
                ip=clientAddress(request),
            )
            if delay:
                await deferLater(self.pages.reactor, delay, lambda: None)
            return self._loginForm(request, next, 401, "Wrong user name or password.")
        # Only now is it a log-in: a right password the throttle refused
        # above leaves the user's last log-in as it was.
        await self.admin.noteAdminLogin(user["name"])
        log.info(
            "dashboard log-in: {name} ({role}) from {ip}",
            name=user["name"],
            role=user["role"],
            ip=clientAddress(request),
        )
        cookie = self.sessions.issue(user["name"], user["generation"])
        signed = self.sessions.read(cookie)
        await self.store.startDashboardSession(
            signed.id, signed.name, signed.expires, self.pages.reactor.seconds()
        )
        self._cookie(request, SESSION_COOKIE, cookie)
        self._cookie(request, LOGIN_COOKIE, "", maxAge=0)
        return self._redirect(request, next)

    def _loginForm(self, request, next: str, code: int, problem: str = "") -> None:
        cookie = self.sessions.loginCookie()
        self._cookie(request, LOGIN_COOKIE, cookie)
        body = document(
            "Log in",
            tags.p(class_="problem")(problem) if problem else "",
            tags.form(method="post", action="/login", class_="stacked login")(
                tags.input(type="hidden", name="csrf", value=self.sessions.csrf(cookie)),
                tags.input(type="hidden", name="next", value=next),
                field("User name", "name", autocomplete="username", required="required"),
                field(
                    "Password",
                    "password",
                    kind="password",
                    autocomplete="current-password",
                    required="required",
                ),
                button("Log in"),
            ),
            tags.p(class_="hint")(
                "No user yet? On the gateway's machine: smtpeter admin create NAME"
            ),
        )
        return self._answer(request, code, body)

    async def _logout(self, request, method: str) -> None:
        found = await self._signed(request)
        if found is not None:
            signed, value = found
            if not self.sessions.checkCSRF(value, arg(request, "csrf")):
                return self._answer(
                    request,
                    403,
                    document(
                        "Form expired",
                        tags.p("Log out from a page of the dashboard."),
                        session=await self._session(request),
                    ),
                )
            # Ended on the server: the cookie, replayed, is no session anywhere.
            await self.store.endDashboardSession(signed.id)
            log.info("dashboard log-out: {name}", name=signed.name)
        self._cookie(request, SESSION_COOKIE, "", maxAge=0)
        return self._redirect(request, "/login")


class DashboardSite(BoundedSite):
    """
    Forms are small: a body is 64 KiB at most, refused before it is read;
    a body sent anywhere but to a form is never read.
    """

    maxBody = 64 * 1024

    def takesBody(self, method: bytes, path: str) -> bool:
        """Only the forms' POSTs take a body: elsewhere it is never read."""
        where = path[1:]
        return method == b"POST" and (
            where.rstrip("/") in ("login", "logout")
            or any(m == "POST" and r.match(where) for m, r, _, _ in _ROUTES)
        )

    def refusal(self, code: int, message: str) -> tuple[bytes, bytes]:
        return b"text/plain; charset=utf-8", message.encode() + b"\n"


def makeDashboard(pages: Pages, sessions: Sessions, throttle) -> DashboardSite:
    return DashboardSite(Dashboard(pages, sessions, throttle))


__all__ = ["Dashboard", "DashboardSite", "makeDashboard"]
