"""
C{hostedimages} (C{x-smtpeter-images: hosted}): images that the HTML shows
by C{cid:} reference are taken out of the message, stored content-addressed
in the data directory and shown from C{{public-url}/i/{hash}.{ext}}. A
multipart/related left with only the HTML is replaced by the HTML part.
Images the HTML does not reference stay where they are, as attachments.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ._base import Feature

_CID = re.compile(r"""[cC][iI][dD]:([^"'\s)>]+)""")  # ASCII case only, as lower() finds it


class HostedImages(Feature):
    name = "hostedimages"
    order = 100

    def prepareMessage(self, draft) -> None:
        store = draft.environment.images
        referenced: set[str] = set()
        for part in draft.textParts("html"):
            text = part.text()
            # The pattern scans slowly; most HTML has no cid: at all.
            if "cid:" in text.lower():
                referenced.update(unquote(m.group(1)) for m in _CID.finditer(text))
        if not referenced or store is None:
            return
        taken = []
        for part in draft.root.walk():
            cid = part.contentId
            if part.children or cid is None or cid not in referenced:
                continue
            if part.headers.get_content_maintype() != "image" or part is draft.root:
                continue
            name = store.put(part.decoded(), part.contentType)
            if name is not None:
                draft.cids[cid] = f"{draft.publicUrl}/i/{name}"
                taken.append(part)
        for part in taken:
            draft.remove(part)

    def prepareHTML(self, document, draft) -> None:
        if not draft.cids:
            return

        def replace(match: re.Match) -> str:
            return draft.cids.get(unquote(match.group(1)), match.group(0))

        text = document.text
        changed = _CID.sub(replace, text)
        if changed != text:
            document.text = changed
