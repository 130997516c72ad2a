"""
The dashboard's paths, and what a request to one may bring: each path and
method with its view and who may use it (L{ROUTES}), the form fields of a
POST (read from its body only, in UTF-8), and where a log-in may send the
browser afterwards.
"""

from __future__ import annotations

import re

from twisted.web.http import parse_qs
from twisted.web.iweb import IRequest

from ..message import QUEUE_ID_PATTERN
from ._forms import BadInput

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
    ("GET", "nodes", "nodes", "page"),
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
    ("GET", "suppressions", "suppressions", "page"),
    ("POST", "suppressions/delete", "deleteSuppression", "change"),
]
#: L{ROUTES}, their patterns compiled to match a whole path (C{\\d}: ASCII digits only,
#: so that /webhooks/\u0663/delete is not webhook 3's).
COMPILED_ROUTES = [
    (m, re.compile(p + r"/?\Z", re.ASCII), view, needs) for m, p, view, needs in ROUTES
]
#: Where a log-in may send the browser: a path on this site, in printable
#: ASCII without backslashes (a browser reads C{/\\host} and C{/<tab>/host}
#: as another host, and C{//host} is one).
_SAME_SITE = re.compile(r"/(?![/\\])[!-\[\]-~]*\Z")


def routesFor(where: str) -> list[tuple[str, re.Match[str], str, str]]:
    """The routes whose pattern matches the path C{where}, of any method, with the match."""
    matched = [(m, r.match(where), view, needs) for m, r, view, needs in COMPILED_ROUTES]
    return [(m, found, view, needs) for m, found, view, needs in matched if found]


#: The POST routes as the channel judges a path, decoded whole: a name's
#: C{%2F} is a slash there (the form of the login a/b is POST /logins/a/b).
_FORMS = [
    re.compile(p.replace("[^/]+", ".+") + r"/?\Z", re.ASCII) for m, p, _, _ in ROUTES if m == "POST"
]


def takesForm(where: str) -> bool:
    """Whether a POST to C{where} (the decoded path without its first slash) goes to a form."""
    return where.rstrip("/") in ("login", "logout") or any(r.match(where) for r in _FORMS)


def sameSitePath(next: str) -> str:
    """C{next} if it is a path on this site that no browser reads as another site's, else C{/}."""
    return next if _SAME_SITE.match(next) else "/"


def formFields(request: IRequest) -> dict[bytes, list[bytes]]:
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
    # UTF-8 (see requireUTF8).
    fields: dict[bytes, list[bytes]] = parse_qs(body, keep_blank_values=True)
    return fields


def requireUTF8(request: IRequest) -> None:
    """Refuse a form with a field that is not UTF-8 (a browser sends nothing else)."""
    for name, values in request.args.items():
        for value in values:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                field = name.decode("utf-8", "replace")[:100]
                raise BadInput(f"{field}: not UTF-8 text") from None
