"""
The dashboard's preview of a message's content (held, queued, or kept
after sending with C{--keep-sent}): its HTML in a sandboxed frame served
from its own URL under a strict Content-Security-Policy, its text part,
headers, source and attachments, and downloads of each attachment and of
the whole message as C{.eml}.

The frame is what keeps the HTML harmless, twice over: the C{<iframe>}'s
C{sandbox} attribute grants only that a link opens in a new tab (no
script, no form, no same origin, no navigation of the page), and the frame's own answer carries
L{framePolicy<smtpeter.dashboard._preview.framePolicy>} (no script, no
form, nothing fetched but the message's own inline images as C{data:}
URLs, until the user asks for remote C{https:} images). The page around it
keeps the dashboard's policy, which only adds C{frame-src 'self'}.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from attrs import field, frozen
from twisted.internet.defer import DeferredSemaphore, maybeDeferred
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool

from ..admin import IAdministration
from ._forms import arg
from ._html import path, row, table, tags
from ._preview import SANDBOX, Preview, framePolicy, part, preview

#: At most this much of the text part and of the source is shown on the page.
MAX_SHOWN = 256 * 1024
#: Messages parsed at once per worker (each may be up to MAX_PARSE, in memory).
_parsing = DeferredSemaphore(2)
#: What a download may do once opened in the browser: nothing.
_DOWNLOAD_POLICY = b"default-src 'none'; sandbox"


@frozen
class Served:
    """An answer served as it is, with its own headers (over the dashboard's)."""

    body: bytes
    contentType: bytes
    headers: dict[bytes, bytes] = field(factory=dict)


class PreviewViews:
    """A message's content; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    admin: IAdministration
    reactor: IReactorTime

    async def _content(self, qid: str) -> bytes | None:
        """The content of message C{qid}: in a spool (queued, held) or kept after sending."""
        queued = await self.admin.queued(qid)
        if queued is not None:
            return queued["content"]
        return await self.admin.sent(qid)

    async def _offReactor(self, f: Callable, *args):
        """C{f(*args)} in a thread of the reactor's pool (in tests on a Clock: here)."""

        def run():
            if IReactorThreads.providedBy(self.reactor):
                return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), f, *args)
            return maybeDeferred(f, *args)

        return await _parsing.run(run)

    async def contentSection(self, request, qid: str, content: bytes) -> list:
        """The message page's part about its content."""
        shown: Preview = await self._offReactor(preview, content)
        remote = arg(request, "images") == "remote"
        body: list = [
            tags.h2("Content, as received"),
            tags.p(class_="hint")(
                "Before the changes made per recipient (tracked links, DKIM signature). ",
                tags.a(href=path("messages", qid) + ".eml", download=f"{qid}.eml")(
                    f"Download the message (.eml, {_size(len(content))})"
                ),
            ),
        ]
        if shown.problem:
            body.append(tags.p(class_="problem")(shown.problem))
        if shown.html is not None:
            frame = path("messages", qid, "html") + ("?images=remote" if remote else "")
            images: list
            if remote:
                images = [
                    "Remote images (https) are shown: the sender may learn that the message was"
                    " opened, and from where. ",
                    tags.a(href=path("messages", qid))("Block them again"),
                ]
            else:
                images = [
                    "Scripts, forms and remote images are blocked; inline images are shown. ",
                    tags.a(href=path("messages", qid) + "?images=remote", class_="remote")(
                        "Load remote images"
                    ),
                ]
            body += [
                tags.h3("HTML"),
                tags.p(class_="hint")(*images),
                tags.iframe(
                    src=frame,
                    sandbox=SANDBOX,
                    referrerpolicy="no-referrer",
                    title="The message's HTML part",
                    class_="preview",
                ),
            ]
        if shown.text is not None:
            body += [tags.h3("Text"), tags.pre(class_="text")(_excerpt(shown.text))]
        if shown.attachments:
            body += [
                tags.h3("Attachments"),
                table(
                    ["Name", "Type", "Size"],
                    (
                        row(
                            tags.a(href=path("messages", qid, "parts", str(a.index)), download="")(
                                a.name
                            ),
                            a.type + (" (inline)" if a.inline else ""),
                            _size(a.size),
                        )
                        for a in shown.attachments
                    ),
                    class_="attachments",
                ),
            ]
        if shown.headers:
            body.append(
                tags.details(class_="headers")(
                    tags.summary(f"Headers ({len(shown.headers)})"),
                    table(
                        ["Name", "Value"], (row(n, v) for n, v in shown.headers), class_="headers"
                    ),
                )
            )
        source = tags.details(class_="source")(
            tags.summary("Source"),
            tags.pre(class_="content")(content[:MAX_SHOWN].decode("utf-8", "replace")),
            *(
                [tags.p(f"(the first {MAX_SHOWN // 1024} KiB of {len(content)} bytes)")]
                if len(content) > MAX_SHOWN
                else []
            ),
        )
        if shown.problem and shown.html is None and shown.text is None:
            source(open="open")
        body.append(source)
        return body

    async def messageFrame(self, request, session, qid: str):
        """The HTML part, for the message page's frame, under the frame's own policy."""
        content = await self._content(qid.upper())
        if content is None:
            return None
        shown = await self._offReactor(preview, content)
        if shown.html is None:
            return None
        return Served(
            shown.html.encode("utf-8", "replace"),
            b"text/html; charset=utf-8",
            {
                b"content-security-policy": framePolicy(arg(request, "images") == "remote"),
                b"x-frame-options": b"SAMEORIGIN",
                b"referrer-policy": b"no-referrer",
                b"x-dns-prefetch-control": b"off",
            },
        )

    async def messagePart(self, request, session, qid: str, index: str):
        """One attachment (or inline image), downloaded under its name and type."""
        content = await self._content(qid.upper())
        found = None if content is None else await self._offReactor(part, content, int(index))
        if found is None:
            return None
        data, kind, name = found
        return Served(data, kind.encode(), _download(name))

    async def messageSource(self, request, session, qid: str):
        """The whole message as it was received, as an .eml file."""
        content = await self._content(qid.upper())
        if content is None:
            return None
        return Served(content, b"message/rfc822", _download(f"{qid.upper()}.eml"))


def _download(name: str) -> dict[bytes, bytes]:
    """The headers of a download named C{name} (any text: quoted for the header)."""
    plain = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip() or "download"
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
    return {
        b"content-disposition": disposition.encode("ascii"),
        b"content-security-policy": _DOWNLOAD_POLICY,
    }


def _excerpt(text: str) -> str:
    if len(text) <= MAX_SHOWN:
        return text
    return text[:MAX_SHOWN] + f"\n\n(the first {MAX_SHOWN // 1024} Ki characters of {len(text)})"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


__all__ = ["PreviewViews", "Served"]
