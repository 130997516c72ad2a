"""
The chain: a message's active features, in order, turned into a
L{Prepared} message once, and into each recipient's L{Copy} cheaply.

Once per message: parse the MIME structure (L{smtpeter.message.mime}), let each feature
work on it (C{prepareMessage}), then on every HTML and text part; each part
becomes a template whose slots are filled per recipient. Part results are
cached by content, options and click domain, so a mailing of many messages
with the same HTML does the HTML work once.

Per recipient: fill the slots, encode the changed parts, then let each
feature C{personalise} the copy (envelope sender, DKIM signature).

A feature that fails leaves its part (or the copy) as it was, and the
failure is logged with the queue id; mail is never held back by a feature.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

from attrs import define, field, frozen
from twisted.logger import Logger

from ..message import QueuedMessage, mime
from ._document import EncodedTemplate, HtmlDocument, Template, TextDocument
from ._tokens import TokenSigner
from .interfaces import IFeature, ImageHost, SigningKeys

log = Logger()

CLICK = "trackclicks"


@frozen
class Environment:
    """What features may use of the gateway."""

    signer: TokenSigner
    publicUrl: str
    bounceDomain: str
    images: ImageHost | None = None
    keys: SigningKeys | None = None


def _always(environment) -> bool:
    return True


@define(eq=False)
class Draft:
    """A message while the chain prepares it."""

    message: QueuedMessage
    root: mime.Part
    environment: Environment
    publicUrl: str
    features: tuple = ()
    state: dict = field(factory=dict)
    warnings: list[str] = field(factory=list)
    #: Content-ID to hosted URL, for images taken out of the MIME.
    cids: dict[str, str] = field(factory=dict)

    @property
    def qid(self) -> str:
        return self.message.qid

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        log.warn("{qid}: {text}; sent without that change", qid=self.qid, text=text)

    def parentOf(self, part: mime.Part) -> mime.Part | None:
        for candidate in self.root.walk():
            if any(child is part for child in candidate.children):
                return candidate
        return None

    def markChanged(self, part: mime.Part) -> None:
        current: mime.Part | None = part
        while current is not None:
            current.changed = True
            current = self.parentOf(current)

    def remove(self, part: mime.Part) -> None:
        """
        Take C{part} out of the message. A multipart/related left with one
        part is replaced by that part.
        """
        parent = self.parentOf(part)
        if parent is None:
            raise ValueError("the top level cannot be removed")
        index = next(i for i, child in enumerate(parent.children) if child is part)
        del parent.children[index]
        del parent.delimiters[index]
        self.markChanged(parent)
        if len(parent.children) == 1 and parent.contentType == "multipart/related":
            mime.collapse(parent, 0)
            self.markChanged(parent)

    def textParts(self, subtype: str) -> list[mime.Part]:
        """Inline C{text/<subtype>} leaves: the parts a reader sees."""
        return [
            part
            for part in self.root.walk()
            if not part.children and part.contentType == f"text/{subtype}" and not part.isAttachment
        ]


@define(eq=False)
class Copy:
    """One recipient's copy, as features personalise it."""

    qid: str
    index: int | None
    recipient: str | None
    sender: str
    content: bytes = field(repr=False)
    publicUrl: str
    links: dict[str, int]
    state: dict
    #: C{None} in the plain copy of a message that no feature acts on.
    environment: Environment | None


@define(eq=False)
class Prepared:
    """A message ready to be copied per recipient."""

    message: QueuedMessage
    pieces: list
    features: tuple = ()
    links: list[str] = field(factory=list)
    publicUrl: str = ""
    state: dict = field(factory=dict)
    warnings: list[str] = field(factory=list)
    #: Each link's index in C{links}, shared (read only) by every copy.
    linkIndex: dict[str, int] = field(init=False)

    @linkIndex.default
    def _indexLinks(self) -> dict[str, int]:
        return {url: i for i, url in enumerate(self.links)}

    @property
    def shared(self) -> bool:
        """Do all recipients get the same bytes (and so one transaction)?"""
        return not any(f.perRecipient for f in self.features) and all(
            isinstance(p, bytes) for p in self.pieces
        )


class _LRU:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Chain:
    """The features, ordered, and the work of applying them."""

    def __init__(self, features: Sequence, environment: Environment, cacheSize: int = 512) -> None:
        names = [f.name for f in features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"more than one feature is named {', '.join(duplicated)}")
        for feature in features:
            if not IFeature.providedBy(feature):
                raise TypeError(f"{feature!r} does not provide IFeature")
        self.features = tuple(sorted(features, key=lambda f: (f.order, f.name)))
        self.environment = environment
        self._byName = {f.name: f for f in self.features}
        self.cache = _LRU(cacheSize)

    def active(self, message: QueuedMessage) -> tuple:
        return tuple(
            f
            for f in self.features
            if f.active(message.options) and getattr(f, "usable", _always)(self.environment)
        )

    def prepare(self, message: QueuedMessage, content: bytes) -> Prepared:
        """Do the once-per-message work. Blocking and CPU-heavy: call in a thread."""
        active = self.active(message)
        publicUrl = (message.options.publicUrl or self.environment.publicUrl).rstrip("/")
        if not active:
            return Prepared(message, [content], (), publicUrl=publicUrl)
        try:
            root = mime.parse(content)
            problem = None
        except mime.MIMEError as e:
            # Nothing inside it is changed; what only touches the header
            # (DKIM, the bounce address) still applies.
            problem = f"its MIME structure is ambiguous or broken ({e}); its body is unchanged"
            try:
                root = mime.opaque(content)
            except mime.MIMEError:
                prepared = Prepared(message, [content], (), publicUrl=publicUrl)
                prepared.warnings.append(f"the message cannot be parsed as MIME ({e})")
                log.warn("{qid}: {e}; sent unchanged", qid=message.qid, e=str(e))
                return prepared
        draft = Draft(message, root, self.environment, publicUrl, active)
        if problem is not None:
            draft.warn(problem)
        for feature in active:
            try:
                feature.prepareMessage(draft)
            except Exception as e:
                log.failure("{qid}: {feature} failed", qid=message.qid, feature=feature.name)
                draft.warn(f"{feature.name} failed: {e}")
        for kind, method in (("html", "prepareHTML"), ("plain", "prepareText")):
            if any(_overrides(f, method) for f in active):
                for part in draft.textParts(kind):
                    self._preparePart(draft, part, kind)
        pieces = mime.pieces(root)
        links: list[str] = []
        seen: set[str] = set()
        for piece in pieces:
            if isinstance(piece, EncodedTemplate):
                for slot in piece.template.slots:
                    if slot.feature == CLICK and slot.value not in seen:
                        seen.add(slot.value)
                        links.append(slot.value)
        return Prepared(message, pieces, active, links, publicUrl, draft.state, draft.warnings)

    def _preparePart(self, draft: Draft, part: mime.Part, kind: str) -> None:
        try:
            text = part.text()
        except mime.MIMEError as e:
            draft.warn(f"a text/{kind} part cannot be decoded ({e})")
            return
        key = (
            kind,
            hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(),
            tuple(f.name for f in draft.features),
            draft.publicUrl,
            tuple(sorted(draft.cids.items())),
        )
        cached = self.cache.get(key)
        if cached is None:
            try:
                cached = self._transform(draft, text, kind)
            except Exception as e:
                log.failure("{qid}: a text/{kind} part failed", qid=draft.qid, kind=kind)
                draft.warn(f"a text/{kind} part could not be transformed ({e})")
                return
            self.cache.put(key, cached)
        if cached is False:
            return
        template: Template = cached
        headers = part.headers
        headers.set_param("charset", "utf-8")
        ctype = f"Content-Type: {headers['content-type']}\r\n".encode()
        part.fields = mime.replaceFields(
            part.fields,
            {
                "content-type": ctype,
                "content-transfer-encoding": b"Content-Transfer-Encoding: quoted-printable\r\n",
            },
        )
        if part is draft.root and "mime-version" not in part.headers:
            # Content-Transfer-Encoding means nothing without it (RFC 2045 4).
            part.fields = mime.replaceFields(
                part.fields, {"mime-version": b"MIME-Version: 1.0\r\n"}
            )
        body = EncodedTemplate(template)
        part.replacement = [body if template.slots else body.render(_noSlots)]
        draft.markChanged(part)

    def _transform(self, draft: Draft, text: str, kind: str) -> Template | bool:
        """The part's template, or C{False} if no feature touched it."""
        if kind == "html":
            document = HtmlDocument(text)
            for feature in draft.features:
                feature.prepareHTML(document, draft)
            return document.template() if document.touched else False
        plain = TextDocument(text)
        for feature in draft.features:
            feature.prepareText(plain, draft)
        return plain.template() if plain.text != text else False

    def render(self, prepared: Prepared, index: int | None) -> Copy:
        """One recipient's copy (C{index} into the envelope), or the shared one for C{None}."""
        message = prepared.message
        recipient = None if index is None else message.envelope.recipients[index].address
        copy = Copy(
            message.qid,
            index,
            recipient,
            message.envelope.sender,
            b"",
            prepared.publicUrl,
            prepared.linkIndex,
            prepared.state,
            self.environment,
        )

        def fill(slot):
            return self._byName[slot.feature].fill(slot, copy)

        copy.content = b"".join(
            piece if isinstance(piece, bytes) else piece.render(fill) for piece in prepared.pieces
        )
        for feature in prepared.features:
            try:
                feature.personalise(copy)
            except Exception as e:
                log.failure("{qid}: {feature} failed", qid=message.qid, feature=feature.name)
                prepared.warnings.append(f"{feature.name} failed for a copy: {e}")
        return copy


def _overrides(feature, method: str) -> bool:
    """Might C{feature}'s C{method} change a part? (Not if it is L{Feature}'s no-op.)"""
    from ._base import Feature

    return not isinstance(feature, Feature) or (
        getattr(type(feature), method) is not getattr(Feature, method)
    )


def _noSlots(slot):
    raise AssertionError("a template without slots was asked to fill one")
