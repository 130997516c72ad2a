"""
C{inlinecss}: the rules of C{<style>} blocks copied into the C{style}
attributes of the elements they match, by the cascade.

The work is done by css-inline (Rust, maintained): on a 45 KB newsletter it
inlines about ten times faster than an lxml + cssutils inliner and forty
times faster than premailer (see bench/features.py), and it follows the
cascade: specificity, source order, C{!important}, an element's own style
winning over non-important rules. Rules it cannot inline (C{@media},
C{:hover} and other pseudo-classes) stay in a C{<style>} block; blocks left
empty are removed. Linked stylesheets are never fetched.
"""

from __future__ import annotations

import css_inline

from ._base import Feature

_INLINER = css_inline.CSSInliner(
    keep_style_tags=True,
    remove_inlined_selectors=True,
    load_remote_stylesheets=False,
    keep_link_tags=True,
)


class InlineCSS(Feature):
    name = "inlinecss"
    order = 200

    def prepareHTML(self, document, draft) -> None:
        text = document.text
        if "<style" not in text.lower():
            return
        document.text = _INLINER.inline(text)
        for style in list(document.tree.iter("style")):
            if not (style.text or "").strip() and len(style) == 0:
                style.drop_tree()
