"""
The dashboard's door: logging in and out, and who a request comes from.
Log-in failures are slowed down and then refused per client address, with
the SMTP side's throttle and counters; a session is a signed cookie and a
row that logging out deletes (see L{_sessions}); every form a session posts
carries its CSRF token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from twisted.internet.task import deferLater
from twisted.logger import Logger, LogLevel
from twisted.web.server import Request

from ..runtime import RepeatedErrors
from ..store import IDashboardSessionStore
from ..web import clientAddress
from ._forms import arg
from ._html import button, document, field, tags
from ._respond import Refused, answer, redirect, setCookie
from ._routes import sameSitePath
from ._sessions import LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions, Signed

if TYPE_CHECKING:
    from ..smtp import AuthThrottle
    from ._pages import Pages

log = Logger()


class LoginGate:
    """Logs users in and out, and tells who a request comes from."""

    def __init__(self, pages: Pages, sessions: Sessions, throttle: AuthThrottle) -> None:
        self.pages = pages
        self.sessions = sessions
        self.throttle = throttle
        self.admin = pages.admin
        #: Where sessions are kept: the event store (every store class keeps both).
        self.store = cast(IDashboardSessionStore, pages.events)
        #: Refused log-ins: the first from an address at once, then counted for a minute.
        self.refused = RepeatedErrors(log, clock=pages.reactor)

    async def _signed(self, request: Request) -> tuple[Signed, str] | None:
        """The request's session cookie, read, and its value; if it is one and has not ended."""
        value = (request.getCookie(SESSION_COOKIE) or b"").decode("latin-1")
        signed = self.sessions.read(value) if value else None
        if signed is None:
            return None
        if not await self.store.dashboardSessionLive(signed.id, self.pages.reactor.seconds()):
            return None  # logged out
        return signed, value

    async def session(self, request: Request) -> Session | None:
        """The session the request comes from; C{None} if it has none (or it ended)."""
        found = await self._signed(request)
        if found is None:
            return None
        signed, value = found
        user = await self.admin.adminSession(signed.name)
        if user is None or user["generation"] != signed.generation:
            return None
        return Session(user["name"], user["role"], self.sessions.csrf(value))

    def checkToken(self, request: Request, session: Session) -> None:
        """Refuse a form posted without its session's CSRF token."""
        token = arg(request, "csrf")
        if not token or token != session.csrf:
            raise Refused(
                403,
                "Form expired",
                "This form came without its security token (or from another site)."
                " Open the page again and repeat what you did.",
            )

    async def login(self, request: Request, method: str) -> None:
        """C{/login}: the form (GET), or a log-in (POST)."""
        next = sameSitePath(arg(request, "next"))
        if method == "GET":
            if await self.session(request) is not None:
                return redirect(request, next)
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
            # Once a minute per address (and how many more): a line per refused
            # post would let anyone fill the log.
            self.refused.emit(
                LogLevel.warn,
                "dashboard log-in refused: too many failures from {ip}",
                key=address,
                ip=address,
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
        assert signed is not None  # just issued
        await self.store.startDashboardSession(
            signed.id, signed.name, signed.expires, self.pages.reactor.seconds()
        )
        setCookie(request, SESSION_COOKIE, cookie)
        setCookie(request, LOGIN_COOKIE, "", maxAge=0)
        return redirect(request, next)

    def _loginForm(self, request: Request, next: str, code: int, problem: str = "") -> None:
        cookie = self.sessions.loginCookie()
        setCookie(request, LOGIN_COOKIE, cookie)
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
        return answer(request, code, body)

    async def logout(self, request: Request, method: str) -> None:
        """C{/logout} (POST only): ends the session, on the server too."""
        found = await self._signed(request)
        if found is not None:
            signed, value = found
            if not self.sessions.checkCSRF(value, arg(request, "csrf")):
                return answer(
                    request,
                    403,
                    document(
                        "Form expired",
                        tags.p("Log out from a page of the dashboard."),
                        session=await self.session(request),
                    ),
                )
            # Ended on the server: the cookie, replayed, is no session anywhere.
            await self.store.endDashboardSession(signed.id)
            log.info("dashboard log-out: {name}", name=signed.name)
        setCookie(request, SESSION_COOKIE, "", maxAge=0)
        return redirect(request, "/login")
