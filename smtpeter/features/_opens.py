"""
C{trackopens}: a 1x1 image C{{public-url}/o/{token}.gif} just before
C{</body>}; its token names the message and the recipient, signed.
"""

from __future__ import annotations

from lxml.html import Element

from ._base import Feature


class TrackOpens(Feature):
    name = "trackopens"
    order = 400
    perRecipient = True

    def prepareHTML(self, document, draft) -> None:
        tree = document.tree
        body = tree.find("body")
        pixel = Element(
            "img",
            src=document.slot(self.name, ""),
            width="1",
            height="1",
            alt="",
            border="0",
            style="display:block;width:1px;height:1px;border:0;margin:0;padding:0",
        )
        (body if body is not None else tree).append(pixel)

    def fill(self, slot, copy) -> str:
        return f"{copy.publicUrl}/o/{copy.environment.signer.open(copy.qid, copy.index)}.gif"
