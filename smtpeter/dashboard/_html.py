"""
The dashboard's HTML: the page around every view, and the few pieces views
are built of (tables, forms, buttons, times), as twisted.web.template tags,
which escape every text and attribute they are given.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

from twisted.python.failure import Failure
from twisted.web.template import Tag, flattenString

from .. import __version__


class _Tags:
    """C{tags.main(...)}: like twisted.web.template's C{tags}, for every HTML5 element."""

    def __getattr__(self, name: str) -> Tag:
        return Tag(name)


tags = _Tags()

#: The sections, in the order the navigation shows them: (path, title).
SECTIONS = (
    ("/", "Overview"),
    ("/activity", "Activity"),
    ("/queue", "Queue"),
    ("/nodes", "Nodes"),
    ("/logins", "SMTP logins"),
    ("/domains", "Domains"),
    ("/webhooks", "Webhooks"),
    ("/suppressions", "Suppressions"),
    ("/tokens", "API tokens"),
    ("/links", "Top links"),
)


def render(tag) -> bytes:
    """A whole document, flattened (nothing in the dashboard's tags waits)."""
    found: list = []
    flattenString(None, tag).addBoth(found.append)
    if isinstance(found[0], Failure):
        found[0].raiseException()
    return b"<!DOCTYPE html>\n" + found[0]


def document(title: str, *body, session=None, section: str = "", notice: str = "") -> bytes:
    """The page: navigation (when logged in), a notice, then C{body}."""
    header = [tags.a(class_="brand", href="/")("smtpeter")]
    if session is not None:
        header.append(
            tags.nav(
                *(
                    tags.a(href=path, class_="current" if path == section else "")(name)
                    for path, name in SECTIONS
                )
            )
        )
        header.append(
            tags.div(class_="who")(
                tags.span(session.name),
                " ",
                tags.span(class_="badge")(session.role),
                form("/logout", session, button("Log out", kind="link")),
            )
        )
    return render(
        tags.html(lang="en")(
            tags.head(
                tags.meta(charset="utf-8"),
                tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
                tags.title(f"{title} · smtpeter"),
                tags.link(rel="stylesheet", href="/static/dashboard.css"),
            ),
            tags.body(
                tags.header(*header),
                tags.main(
                    tags.h1(title),
                    tags.p(class_="notice", role="status")(notice) if notice else "",
                    *body,
                ),
                tags.footer(f"smtpeter {__version__}"),
            ),
        )
    )


def form(action: str, session, *content, method: str = "post", class_: str = "inline") -> Tag:
    """A form; a POST carries the session's CSRF token."""
    hidden = []
    if method == "post" and session is not None:
        hidden.append(tags.input(type="hidden", name="csrf", value=session.csrf))
    return tags.form(method=method, action=action, class_=class_)(*hidden, *content)


def button(label: str, kind: str = "", **attributes) -> Tag:
    return tags.button(type="submit", class_=kind, **attributes)(label)


def field(label: str, name: str, value: str = "", kind: str = "text", **attributes) -> Tag:
    return tags.label(label, tags.input(type=kind, name=name, value=value, **attributes))


def checkbox(label: str, name: str, checked: bool, value: str = "on") -> Tag:
    box = tags.input(type="checkbox", name=name, value=value)
    if checked:
        box(checked="checked")
    return tags.label(class_="check")(box, " ", label)


def select(label: str, name: str, choices, chosen: str = "") -> Tag:
    """C{choices}: (value, text) pairs."""
    options = []
    for value, text in choices:
        option = tags.option(value=value)(text)
        if value == chosen:
            option(selected="selected")
        options.append(option)
    return tags.label(label, tags.select(name=name)(*options))


def table(headings, rows, empty: str = "nothing yet", **attributes) -> Tag:
    """
    A table in a box that scrolls sideways when the table is wider than the
    screen (the page itself never does). Each cell carries its column's
    heading as C{data-label}, which a table of class C{stack} shows beside
    the cell when a narrow screen stacks each row into a block.
    """
    rows = list(rows)
    if not rows:
        return tags.p(class_="empty")(empty)
    for tr in rows:
        cells = [c for c in tr.children if isinstance(c, Tag) and c.tagName == "td"]
        for heading, cell in zip(headings, cells, strict=False):
            if heading and isinstance(heading, str):
                cell(**{"data-label": heading})
    return tags.div(class_="scroll")(
        tags.table(**attributes)(
            tags.thead(tags.tr(*(tags.th(h) for h in headings))),
            tags.tbody(*rows),
        )
    )


def row(*cells, **attributes) -> Tag:
    return tags.tr(**attributes)(*(tags.td(c) for c in cells))


def when(seconds: float | None) -> str:
    """A time as the dashboard shows it (UTC), or a dash."""
    if seconds is None:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def status(text: str) -> Tag:
    return tags.span(class_=f"status {text}")(text)


def link(path: str, text: str, **query) -> Tag:
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return tags.a(href=path + ("?" + urlencode(query) if query else ""))(text)


def path(*parts: str) -> str:
    """A dashboard path with each part escaped: C{path("logins", name)}."""
    return "/" + "/".join(quote(p, safe="") for p in parts)


def secret(label: str, value: str, why: str) -> Tag:
    """A password or token shown this once."""
    return tags.div(class_="secret")(
        tags.p(tags.strong(label), " ", tags.span(why)),
        tags.code(class_="once", id="secret")(value),
    )
