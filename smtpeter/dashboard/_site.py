"""
The dashboard's resource: routes each path and method to its view
(L{ROUTES<smtpeter.dashboard._routes.ROUTES>}), and stands guard in front of
them. Every page but the log-in form needs a session (L{LoginGate}); every
POST needs the session's CSRF token and, unless it only logs out, the admin
role (a viewer sees everything and changes nothing). Every answer forbids
framing and inline script, and is never cached.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import INSUFFICIENT_STORAGE_SPACE
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from ..runtime import RepeatedErrors
from ..store import Exists, Missing, StoreError
from ..web import BoundedSite, storageError
from ._forms import BadInput, Download, Page, Redirect
from ._html import document, tags
from ._login import LoginGate
from ._pages import Pages
from ._previewviews import Served
from ._respond import HEADERS, NOTICE_COOKIE, Refused, answer, notAllowed, redirect, setCookie
from ._routes import formFields, requireUTF8, routesFor, takesForm
from ._sessions import Session, Sessions

if TYPE_CHECKING:
    from ..smtp import AuthThrottle

log = Logger()
#: Errors that come again and again (a damaged database): once a minute, counted.
repeated = RepeatedErrors(log)


def _stylesheet() -> bytes:
    return (resources.files(__package__) / "dashboard.css").read_bytes()


class Dashboard(Resource):
    isLeaf = True

    def __init__(self, pages: Pages, sessions: Sessions, throttle: AuthThrottle) -> None:
        super().__init__()
        self.pages = pages
        self.gate = LoginGate(pages, sessions, throttle)
        self.css = _stylesheet()

    def render(self, request: Request) -> object:
        for name, value in HEADERS.items():
            request.setHeader(name, value)
        finished: list[object] = []
        request.notifyFinish().addBoth(finished.append)

        def failed(failure: Failure) -> None:
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
                return answer(request, code, document(title, tags.p(text)))
            return answer(
                request,
                500,
                document("Something went wrong", tags.p("The gateway's log says what.")),
            )

        d = ensureDeferred(self._handle(request))
        d.addErrback(failed)
        d.addErrback(lambda f: log.failure("the error page failed", f))
        d.addBoth(lambda _: finished or request.finish())
        return NOT_DONE_YET

    async def _handle(self, request: Request) -> None:
        # Twisted has percent-decoded each segment once; a slash or a percent
        # sign inside one (a login named a/b) stays escaped here, so that
        # POST /logins/x%2Fdelete updates the login x/delete and does not
        # delete x. The views get their parts unescaped (L{_unescaped}).
        parts = [p.decode("utf-8", "replace") for p in request.postpath or ()]
        where = "/".join(quote(p, safe="") if "/" in p or "%" in p else p for p in parts)
        method = "GET" if request.method == b"HEAD" else request.method.decode("latin-1")
        if method == "POST":
            # Twisted declares Request.args None, for the class.
            request.args = formFields(request)  # type: ignore[assignment]
        if where == "static/dashboard.css" and method == "GET":
            request.setHeader(b"cache-control", b"max-age=3600")
            return answer(request, 200, self.css, b"text/css; charset=utf-8")
        if where in ("login", "logout"):
            allowed = ("GET", "POST") if where == "login" else ("POST",)
            if method not in allowed:
                return notAllowed(request, allowed)
            if where == "login":
                return await self.gate.login(request, method)
            return await self.gate.logout(request, method)
        matched = routesFor(where)
        if not matched:
            return answer(
                request,
                404,
                document(
                    "Not found",
                    tags.p("There is no such page. ", tags.a(href="/")("Go to the overview.")),
                ),
            )
        chosen = [x for x in matched if x[0] == method]
        if not chosen:
            return notAllowed(request, sorted({m for m, *_ in matched}))
        _, found, view, needs = chosen[0]
        try:
            session = await self.gate.session(request)
            if session is not None:
                setattr(request, LOGGED_AS, session.name)  # (for the access log)
            if session is None:
                if method != "GET":
                    raise Refused(403, "Not logged in", "Log in first; your session has ended.")
                return redirect(
                    request, "/login?next=" + quote(request.uri.decode("latin-1"), safe="")
                )
            if method == "POST":
                self.gate.checkToken(request, session)
                if needs == "change" and not session.mayChange:
                    raise Refused(
                        403,
                        "Read only",
                        "Your role is viewer: you can see everything and change"
                        " nothing. Ask an admin.",
                    )
                requireUTF8(request)
            page = await getattr(self.pages, view)(request, session, **_unescaped(found))
        except Refused as e:
            return answer(
                request,
                e.code,
                document(e.title, tags.p(e.text), session=await self.gate.session(request)),
            )
        except Missing as e:
            return answer(request, 404, document("Not found", tags.p(str(e)), session=session))
        except (Exists, StoreError, BadInput, ValueError) as e:
            back = tags.a(href="/" + parts[0] if parts else "/")("Back")
            return answer(
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
        return self._show(request, session, page)

    def _show(
        self, request: Request, session: Session, page: Page | Redirect | Download | None
    ) -> None:
        if page is None:
            return answer(
                request,
                404,
                document(
                    "Not found",
                    tags.p("Nothing by that id: unknown, or older than the retention period."),
                    session=session,
                ),
            )
        if isinstance(page, Redirect):
            if page.notice:
                setCookie(request, NOTICE_COOKIE, quote(page.notice), maxAge=60)
            return redirect(request, page.location)
        if isinstance(page, Download):
            request.setHeader(
                b"content-disposition", f'attachment; filename="{page.filename}"'.encode()
            )
            return answer(request, 200, page.body, page.contentType)
        if isinstance(page, Served):
            for name, value in page.headers.items():
                request.setHeader(name, value)
            return answer(request, 200, page.body, page.contentType)
        notice = ""
        cookie = request.getCookie(NOTICE_COOKIE)
        if cookie:
            notice = unquote(cookie.decode("latin-1"))[:500]
            setCookie(request, NOTICE_COOKIE, "", maxAge=0)
        body = document(
            page.title, *page.body, session=session, section=page.section, notice=notice
        )
        return answer(request, page.code, body)


def _unescaped(found: re.Match[str]) -> dict[str, str]:
    """A route's named parts, with what L{Dashboard._handle} escaped in them unescaped."""
    return {k: unquote(v) if v else v for k, v in found.groupdict().items()}


#: The request attribute that names the user a request came from, once its session is checked.
LOGGED_AS = "smtpeterDashboardUser"


class DashboardSite(BoundedSite):
    """
    Forms are small: a body is 64 KiB at most, refused before it is read;
    a body sent anywhere but to a form is never read. The access log has
    the requests of logged-in users only: anyone who reaches the listener
    could fill the disk with lines of requests without a session (their
    log-ins are logged, a refused one once a minute per address).
    """

    maxBody = 64 * 1024

    def log(self, request) -> None:
        if getattr(request, LOGGED_AS, None) is not None:
            super().log(request)

    def takesBody(self, method: bytes, path: str) -> bool:
        """Only the forms' POSTs take a body: elsewhere it is never read."""
        return method == b"POST" and takesForm(path[1:])

    def refusal(self, code: int, message: str) -> tuple[bytes, bytes]:
        return b"text/plain; charset=utf-8", message.encode() + b"\n"


def makeDashboard(pages: Pages, sessions: Sessions, throttle: AuthThrottle) -> DashboardSite:
    return DashboardSite(Dashboard(pages, sessions, throttle))


__all__ = ["Dashboard", "DashboardSite", "makeDashboard"]
