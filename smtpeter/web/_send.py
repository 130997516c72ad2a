"""
C{POST /v1/send}: a message submitted over HTTP, as an SMTP session of the
same login would submit it (L{smtpeter.smtp}'s submission step: the same
checks, limits, hold mode, sender domains, queue, and the answer only once
the message is durably queued).

 - Authentication: a token whose scope is C{send} (C{smtpeter token create
   NAME --scope send --login LOGIN}), as C{Authorization: Bearer TOKEN} or
   C{?access_token=TOKEN}; it sends as its login, which must exist and be
   enabled. Other tokens get C{403}.
 - The body (L{readSend}): every mistake a C{400} naming its field.
 - The answer: C{202} with an object mapping an id per recipient to its
   address; an id is the queue id, C{-}, the recipient's place from 1
   (C{GET /v1/messages/{id}} shows that message and recipient).
 - Over the login's rate or its quota: C{429} with C{Retry-After} (the
   seconds until the window over its limit ends: the minute, hour, UTC
   day or month the limits count in) and C{reason} C{rate} or C{quota};
   over a quota with C{--over-quota hold}, accepted and held instead. A
   sender outside its sender domains: C{403} naming C{from} or
   C{envelope}.
 - C{Idempotency-Key}: L{Idempotency}.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.web.iweb import IRequest

from ..message import Envelope, recipientId, splitHeader
from ..smtp import (
    OverLimit,
    SMTPRefusal,
    admitRecipient,
    checkEnvelopeSender,
    checkRecipient,
    senderFor,
    submit,
)
from ..store import TokenRecord
from ._bearer import Bearer
from ._proxies import clientAddress, isSecure
from ._resources import AsyncLeaf, HTTPError, readJSON
from ._sendrequest import SendRequest, readSend

if TYPE_CHECKING:
    from ..smtp import ServerSettings

log = Logger()

#: What C{--max-size} allows, as JSON: base64 makes a message 4/3 larger,
#: and the other fields of the body may take this much more.
SEND_OVERHEAD = 1024 * 1024
#: Bodies past this size are read and composed in a thread.
LARGE = 256 * 1024
#: A retry whose first request is still being answered waits this long for it.
WAIT_FOR_FIRST = 5.0
POLL = 0.2
#: The answers kept for a key's retries: the message was queued, or the
#: request itself is wrong. Any other (a limit, an error) frees the key.
KEPT_ANSWERS = (202, 400, 413)


def sendBodyLimit(maxSize: int) -> int:
    """The largest body C{POST /v1/send} takes, for C{--max-size} C{maxSize}."""
    return math.ceil(maxSize * 4 / 3) + SEND_OVERHEAD


class Send(AsyncLeaf):
    """C{POST /v1/send}."""

    methods = (b"POST",)
    notFound = "no such resource; send with POST /v1/send"

    def __init__(
        self,
        store: Any,
        bearer: Bearer,
        settings: ServerSettings,
        inThread: Callable[..., Deferred] | None = None,
    ) -> None:
        """
        @param store: the logins (L{ILoginStore<smtpeter.store.ILoginStore>})
            and the idempotency keys (L{IIdempotencyStore<smtpeter.store.
            IIdempotencyStore>}).
        @param inThread: runs a function in a thread (large bodies are read
            there); C{None}: here.
        """
        super().__init__()
        self.store = store
        self.bearer = bearer
        self.settings = settings
        self.inThread = inThread
        self.limit = sendBodyLimit(settings.maxSize)

    def allowedMethods(self, request: IRequest) -> tuple[bytes, ...]:  # type: ignore[override]
        return self.methods if request.postpath in ([], [b""]) else ()

    async def handle(self, request: IRequest) -> Any:
        record = await self.bearer.sender(request)
        key = _idempotencyKey(request)
        if key is None:
            code, body = await self._answer(request, record)
        else:
            if self._large(request):  # (hashed in a thread, as it is read)
                assert self.inThread is not None
                asked = await self.inThread(fingerprint, request)
            else:
                asked = fingerprint(request)
            code, body = await Idempotency(self.store, self.settings.clock).once(
                f"{record.name}:{record.created}",
                key,
                lambda: self._answer(request, record),
                asked,
            )
        request.setResponseCode(code)
        return body

    async def _answer(self, request: IRequest, record: TokenRecord) -> tuple[int, dict]:
        try:
            return 202, await self._send(request, record)
        except HTTPError as e:
            return e.code, e.body

    async def _send(self, request: IRequest, record: TokenRecord) -> dict:
        assert record.login is not None  # a send token has one (the store checks)
        login = await self.store.sendingLogin(record.login)
        if login is None:
            raise HTTPError(
                403,
                f"token {record.name!r} sends as login {record.login!r}, which is disabled or"
                " deleted",
            )
        if login.created > record.created:  # its login was deleted, and the name taken again
            raise HTTPError(
                403,
                f"token {record.name!r} was made for a login {record.login!r} since deleted;"
                " the login of that name now needs a token of its own",
            )
        sender = senderFor(login)
        settings = self.settings
        now = settings.clock.seconds()
        body = await self._read(request)
        parsed = await self._parse(request, body, now)
        if len(parsed.content) > settings.maxSize:
            raise HTTPError(
                413,
                f"the message is larger than the gateway's --max-size ({settings.maxSize} bytes)",
            )
        peer = clientAddress(request)
        try:
            checkEnvelopeSender(parsed.sender, sender.senderDomains)
        except SMTPRefusal as e:
            raise _refused(e, parsed.senderField) from None
        for recipient in parsed.recipients:
            try:
                checkRecipient(settings, recipient.address, f"{peer} {sender.login}")
            except SMTPRefusal as e:
                raise _refused(e, "recipients", 400) from None
        if settings.freeBytes is not None and (
            settings.freeBytes() < len(parsed.content) + settings.minFreeBytes
        ):
            raise HTTPError(507, "the gateway's spool is short of space; try again later")
        reserved: list = []
        overQuota = False
        try:
            for recipient in parsed.recipients:
                try:
                    admission = await admitRecipient(
                        settings, sender, parsed.sender, recipient.address
                    )
                except OverLimit as e:
                    raise _overLimit(e, now) from None
                reserved.extend(admission.keys)
                overQuota = overQuota or admission.held
            fields, rest = splitHeader(parsed.content)
            envelope = Envelope(
                parsed.sender,
                parsed.recipients,
                parsed.ret,
                parsed.envid,
                "8BITMIME" if parsed.eightBit else None,
            )
            received = self._received(request, peer, now)
            try:
                qid, _ = await submit(
                    settings,
                    sender,
                    envelope,
                    fields,
                    lambda kept: received + b"".join(kept) + rest,
                    reserved,
                    overQuota,
                    peer,
                )
            except SMTPRefusal as e:
                if e.reply.text.startswith("From:"):
                    raise _refused(e, "from") from None
                if "mime" in body:  # (the fields made from parts were read before)
                    raise _refused(e, "mime", 400) from None
                raise HTTPError(400, e.reply.text) from None
        finally:
            if reserved and settings.limits is not None:
                settings.limits.release(reserved)
        self.store.noteLoginUse(login.name)  # (as an SMTP AUTH does; nobody waits for it)
        return {
            recipientId(qid, index): recipient.address
            for index, recipient in enumerate(parsed.recipients)
        }

    async def _read(self, request: IRequest) -> dict:
        kind = _contentType(request)
        read = readRFC822 if kind == b"message/rfc822" else readJSON
        try:
            if self._large(request):
                assert self.inThread is not None
                return await self.inThread(read, request, self.limit)
            return read(request, self.limit)
        except HTTPError as e:
            # JSON sent as another type (curl -d) goes; anything else is named.
            notJSON = e.code == 400 and e.body["error"].startswith("the body is not JSON")
            if not notJSON or kind in (b"", b"application/json"):
                raise
            raise HTTPError(
                415,
                f"Content-Type: {kind.decode('latin-1')[:100]} is not taken here; send"
                " application/json (or the message itself as message/rfc822)",
                parameter="Content-Type",
            ) from None

    async def _parse(self, request: IRequest, body: dict, now: float) -> SendRequest:
        maxRecipients = self.settings.maxRecipients
        if self._large(request):
            assert self.inThread is not None
            return await self.inThread(readSend, body, maxRecipients, now)
        return readSend(body, maxRecipients, now)

    def _large(self, request: IRequest) -> bool:
        """Whether the request's body is worth a thread (to decode and compose)."""
        return self.inThread is not None and getattr(request, "received", 0) > LARGE

    def _received(self, request: IRequest, peer: str, now: float) -> bytes:
        protocol = "HTTPS" if isSecure(request) else "HTTP"
        literal = f"IPv6:{peer}" if ":" in peer else peer
        return (
            f"Received: from [{literal}]\r\n"
            f"\tby {self.settings.hostname} (smtpeter) with {protocol} (POST /v1/send);\r\n"
            f"\t{formatdate(now, localtime=False)}\r\n"
        ).encode("ascii", "replace")


def _contentType(request: IRequest) -> bytes:
    return (request.getHeader(b"content-type") or b"").partition(b";")[0].strip().lower()


#: What the query of a message/rfc822 body may say.
RFC822_PARAMETERS = ("recipient", "recipients", "envelope", "access_token")


def readRFC822(request: IRequest, limit: int) -> dict:
    """
    A C{message/rfc822} body (the message itself, UTF-8 or ASCII) as the
    JSON body it stands for: C{mime}, with C{recipient}, C{recipients}
    (repeated, or comma-separated) and C{envelope} from the query.
    """
    content = request.content
    data = content.read(limit + 1) if content is not None else b""
    if len(data) > limit:
        raise HTTPError(413, f"the body is larger than {limit} bytes")
    try:
        mime = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "mime: the message is not UTF-8 (or ASCII) text", parameter="mime")
    body: dict[str, Any] = {"mime": mime}
    for raw, values in (request.args or {}).items():
        name = raw.decode("latin-1")
        if name not in RFC822_PARAMETERS:
            raise HTTPError(
                400,
                f"{name[:100]}: unknown parameter; a message/rfc822 body takes"
                f" {', '.join(RFC822_PARAMETERS)}",
                parameter=name[:100],
            )
        texts = [v.decode("utf-8", "replace") for v in values]
        if name == "recipients":
            body[name] = [a.strip() for t in texts for a in t.split(",") if a.strip()]
        elif name != "access_token":
            if len(texts) != 1:
                raise HTTPError(400, f"{name}: give it once", parameter=name)
            body[name] = texts[0]
    return body


def _idempotencyKey(request: IRequest) -> str | None:
    raw = request.getHeader(b"idempotency-key")
    if raw is None:
        return None
    key = raw.decode("latin-1").strip()
    if not 0 < len(key) <= 255 or not all(" " <= c <= "~" for c in key):
        raise HTTPError(
            400,
            "Idempotency-Key: 1 to 255 printable ASCII characters (a UUID, say)",
            parameter="Idempotency-Key",
        )
    return key


def fingerprint(request: IRequest) -> str:
    """What a request with an C{Idempotency-Key} asks: its body, type and query, hashed."""
    digest = hashlib.sha256(_contentType(request) + b"\n")
    args = sorted((k, v) for k, v in (request.args or {}).items() if k != b"access_token")
    digest.update(repr(args).encode() + b"\n")
    content = request.content
    if content is not None:
        content.seek(0)
        for chunk in iter(lambda: content.read(1 << 16), b""):
            digest.update(chunk)
        content.seek(0)
    return digest.hexdigest()


def _refused(error: SMTPRefusal, field: str, code: int = 403) -> HTTPError:
    """An SMTP refusal of the submission step, as the API says it (naming C{field})."""
    return HTTPError(code, f"{field}: {error.reply.text}", parameter=field)


def _overLimit(error: OverLimit, now: float) -> HTTPError:
    admission = error.admission
    wait = max(1, math.ceil((admission.resets or now + 60) - now))
    return HTTPError(
        429,
        error.reply.text,
        reason=admission.refused,
        limit=str(admission.limit),
        retry_after=wait,
    )


class Idempotency:
    """
    The first request with an C{Idempotency-Key} (per token) is answered,
    and its answer kept 24 hours (if it is one L{KEPT_ANSWERS} keeps); its
    retries get that answer and queue nothing; a retry whose body is not the
    first's (its L{fingerprint}) gets C{422}. The key is reserved in the
    shared database before anything is queued, so that retries at once in
    other workers or nodes find it; one that comes while the first is
    still worked on waits up to L{WAIT_FOR_FIRST} for its answer, else gets
    C{409} with C{Retry-After}.
    """

    def __init__(self, store: Any, clock) -> None:
        self.store = store
        self.clock = clock

    async def once(self, token: str, key: str, answer, fingerprint: str = "") -> tuple[int, dict]:
        waited = 0.0
        while True:
            state = await self.store.reserveIdempotencyKey(token, key, self.clock.seconds())
            if state is None:
                break
            if state.status is not None:
                kept = json.loads(state.body)
                if kept.get("request", fingerprint) != fingerprint:
                    return 422, {
                        "error": "Idempotency-Key: this key was used with a different body"
                        " (or query) within 24 hours; a new message needs a new key",
                        "parameter": "Idempotency-Key",
                    }
                return state.status, kept.get("answer", kept)
            if waited >= WAIT_FOR_FIRST:
                return 409, {
                    "error": "a request with this Idempotency-Key is still being answered;"
                    " retry shortly for its answer",
                    "retry_after": 1,
                }
            await deferLater(self.clock, POLL, lambda: None)
            waited += POLL
        try:
            code, body = await answer()
        except BaseException:
            await self.store.freeIdempotencyKey(token, key)
            raise
        if code in KEPT_ANSWERS:
            kept = {"request": fingerprint, "answer": body}
            await self.store.finishIdempotencyKey(token, key, code, json.dumps(kept))
        else:
            await self.store.freeIdempotencyKey(token, key)
        return code, body


__all__ = ["Send", "sendBodyLimit"]
