"""
C{/v1/messages}: a message's record and status per recipient, and what an
administrator does with held mail (release it, delete it).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.web.iweb import IRequest

from ..admin import IAdministration
from ..message import parseRecipientId, queueIdTime
from ..store import DELETE, RELEASE, IEventStore, MessageRecord, isoTime, recipientStatus
from ._bearer import Authenticated, Bearer
from ._parameters import Parameters
from ._resources import HTTPError, noBody, segment


class Messages(Authenticated):
    """
    C{GET /v1/messages/{id}}: a message's record, status per recipient, and
    for held mail (hold mode) its content; C{POST .../release} delivers held
    mail, C{DELETE} drops it.
    """

    notFound = "use /v1/messages/{messageid}"
    #: At most this much of a held message's content is shown.
    MAX_CONTENT = 1024 * 1024
    #: A queued message whose record is not written yet (the writer commits
    #: it within a tenth of a second of the 250 when it is not busy) is
    #: looked for again this often, for this long, before a 503.
    RECORD_POLL, RECORD_WAIT = 0.05, 2.0
    #: ... if it was accepted (its id says when) at most this many seconds
    #: ago: one older still in a spool without a record (queued, held or
    #: kept longer than --retention keeps records) is a 404 at once, with
    #: no look at the spools, which read its content.
    RECORD_RECENT = 300.0

    def __init__(
        self,
        events: IEventStore,
        bearer: Bearer,
        clock: IReactorTime,
        admin: IAdministration | None = None,
    ) -> None:
        super().__init__(events, bearer)
        self.clock, self.admin = clock, admin

    def allowedMethods(self, request: IRequest) -> tuple[bytes, ...]:  # type: ignore[override]
        parts = request.postpath
        if len(parts) == 1:
            return (b"DELETE", b"GET", b"HEAD") if self.admin is not None else (b"GET", b"HEAD")
        if len(parts) == 2 and parts[1] == b"release":
            return (b"POST",)
        return ()

    async def authenticated(self, request: IRequest) -> Any:
        Parameters(request, ())
        text = segment(request)
        try:
            # A recipient's id (POST /v1/send's answer) is its message's and its place.
            qid, index = parseRecipientId(text)
        except ValueError:
            raise HTTPError(
                400,
                "messageid: a message id is 20 hexadecimal characters (a recipient's id: the"
                " message id, '-', a number)",
                parameter="messageid",
            )
        if request.method in (b"POST", b"DELETE"):
            if index is not None:
                raise HTTPError(
                    400, "messageid: held mail is released or deleted whole", parameter="messageid"
                )
            return await self._holdAction(request, qid)
        record = await self._record(qid)
        events = await self.events.messageEvents(qid)
        status = recipientStatus(events)
        if index is not None and index >= len(record.recipients):
            raise HTTPError(404, f"message {qid} has {len(record.recipients)} recipient(s)")
        recipients = [
            {
                "email": r.address,
                "notify": list(r.notify),
                "orcpt": r.orcpt,
                **{k: v for k, v in status.get(r.address, {"status": "queued"}).items()},
            }
            for r in record.recipients
        ]
        return {
            **({} if index is None else {"id": text.upper(), "recipient": recipients[index]}),
            "messageid": record.qid,
            "received": isoTime(record.received),
            "envelope": {
                "sender": record.sender,
                "recipients": [r.address for r in record.recipients],
                "ret": record.ret,
                "envid": record.envid,
            },
            "message_id_header": record.options.get("message_id"),
            "subject": record.subject,
            "from": record.fromHeader,
            "size": record.size,
            "login": record.login,
            "tags": list(record.tags),
            "options": record.options,
            "dsn": record.isDSN,
            "recipients": recipients,
            **await self._held(qid),
        }

    async def _record(self, qid: str) -> MessageRecord:
        """
        C{qid}'s record. One accepted just now (its 250 or 202 came before
        the writer's commit) is in a queue already, or delivered and kept:
        its record is waited for, so that an id is usable as soon as it is
        given. Only one accepted just now (L{RECORD_RECENT}): a message
        whose record the retention purge dropped would be waited for in
        vain, after a read of its content, and told to ask again for ever.
        """
        record = await self.events.message(qid)
        if record is not None:
            return record
        recent = abs(self.clock.seconds() - queueIdTime(qid)) <= self.RECORD_RECENT
        if not recent or not await self._stored(qid):
            raise HTTPError(404, f"no message {qid} (unknown, or older than the retention period)")
        for _ in range(round(self.RECORD_WAIT / self.RECORD_POLL)):
            await deferLater(self.clock, self.RECORD_POLL, lambda: None)
            record = await self.events.message(qid)
            if record is not None:
                return record
        raise HTTPError(
            503,
            f"message {qid} is queued, and its record is not written yet; ask again shortly",
            retry_after=1,
        )

    async def _stored(self, qid: str) -> bool:
        """Whether a spool has C{qid}: queued, or finished and kept (C{--keep-sent})."""
        if self.admin is None:
            return False
        return await self.admin.queued(qid) is not None or await self.admin.sent(qid) is not None

    async def _held(self, qid: str) -> dict[str, Any]:
        if self.admin is None:
            return {"held": False}
        content = await self.admin.held(qid, self.MAX_CONTENT + 1)  # (+1: is there more?)
        if content is None:
            return {"held": False}
        return {
            "held": True,
            "content": content[: self.MAX_CONTENT].decode("utf-8", "replace"),
            "content_truncated": len(content) > self.MAX_CONTENT,
        }

    async def _holdAction(self, request: IRequest, qid: str) -> Any:
        noBody(request)
        action = RELEASE if request.method == b"POST" else DELETE
        requested = None if self.admin is None else await self.admin.requestHeldAction(qid, action)
        if requested is None:
            raise HTTPError(
                409,
                f"{qid} is not held mail (only a login in hold mode holds mail);"
                " a queued message is retried or deleted under /v1/queue",
            )
        request.setResponseCode(202)
        return requested
