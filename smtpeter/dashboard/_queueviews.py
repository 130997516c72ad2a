"""
The dashboard's queue: what waits, by next hop, what is held, and the
actions on them (retry, delete, release) asked of the node that holds each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.web.template import Tag

from ..store import DELETE, RELEASE, RETRY
from ._forms import (
    BadInput,
    Page,
    Redirect,
    arg,
)
from ._html import (
    button,
    form,
    path,
    row,
    status,
    table,
    tags,
    when,
)

if TYPE_CHECKING:
    from ..admin import IAdministration
    from ..config import Config


class QueueViews:
    """The queue and its actions; a part of L{Pages<smtpeter.dashboard.Pages>}."""

    # What it uses of the Pages it is part of:
    admin: IAdministration
    config: Config

    def _queueState(self, session, qid: str, queued: dict, asked: str | None, wasHeld) -> Tag:
        """
        Where a message in the queue stands: held (with Release and Delete for
        an admin), or queued. A release or delete asked for and not yet carried
        out (a node does it within a second) shows as done: the page a button
        leads to never offers that button again.
        """
        if asked == DELETE:
            return tags.p(class_="state")(
                status("deleting"), " Deleted: it leaves the queue within a second or two."
            )
        if queued.get("held") and asked != RELEASE:
            return tags.div(class_="held")(
                tags.p(
                    tags.strong("Held. "),
                    "This login is in hold mode: the message is"
                    " kept here and not delivered until you release it.",
                ),
                *(
                    [
                        form(path("messages", qid, "release"), session, button("Release")),
                        form(
                            path("messages", qid, "delete"),
                            session,
                            button("Delete", kind="danger"),
                        ),
                    ]
                    if session.mayChange
                    else []
                ),
            )
        if asked == RELEASE or wasHeld:
            text = " Released from hold: delivered now, retried if it must wait."
        else:
            text = " In the queue: each attempt shows in the timeline below."
        return tags.p(class_="state")(status("queued"), text)

    async def heldAction(self, request, session, qid: str, action: str):
        action = RELEASE if action == "release" else DELETE
        done = await self.admin.requestHeldAction(qid.upper(), action)
        if done is None:
            raise BadInput(f"{qid} is not held mail")
        verb = "released: it is delivered" if action == RELEASE else "deleted"
        # From the queue's list, back to the queue; from its page, to its page.
        back = "/queue" if arg(request, "back") == "queue" else path("messages", qid.upper())
        return Redirect(back, f"Message {qid.upper()} {verb} within a second or two.")

    # The queue --------------------------------------------------------------------

    async def queue(self, request, session):
        entries = await self.admin.queue()
        asked = await self.admin.pendingActions() if entries else {}
        held = [e for e in entries if e.get("held")]
        waiting = [e for e in entries if not e.get("held")]
        relay = self.config.relay
        hops: dict[str, list] = {}
        for entry in waiting:
            for recipient in entry["recipients"]:
                if recipient["status"] in ("delivered", "failed"):
                    continue
                hop = (
                    f"relay {relay.host}:{relay.port}"
                    if relay
                    else recipient["address"].rpartition("@")[2].lower()
                )
                hops.setdefault(hop, []).append((entry, recipient))
        body: list = []
        if not entries:
            body.append(
                tags.p(class_="empty")(
                    "The queue is empty: every message is delivered or has failed for good."
                )
            )
        for hop in sorted(hops):
            body.append(tags.h2(f"Next hop: {hop}", tags.span(class_="badge")(str(len(hops[hop])))))
            body.append(
                table(
                    [
                        "Message",
                        "Received (UTC)",
                        "Sender",
                        "Recipient",
                        "Attempts",
                        "Next attempt",
                        "Last error",
                        "",
                    ],
                    (self._queueRow(session, e, r, asked) for e, r in hops[hop]),
                    class_="queue stack",
                )
            )
        if held:
            body.append(tags.h2("Held (hold mode)"))
            body.append(
                table(
                    ["Message", "Received (UTC)", "Login", "Sender", "Recipients", ""],
                    (
                        row(
                            tags.a(href=path("messages", e["qid"]))(e["qid"]),
                            when(e["received"]),
                            e["login"],
                            e["sender"] or "<>",
                            ", ".join(r["address"] for r in e["recipients"]),
                            self._actions(
                                session, "messages", e["qid"], ("release", "delete"), asked
                            ),
                            **{"data-qid": e["qid"]},
                        )
                        for e in held
                    ),
                    class_="holding stack",
                )
            )
        return Page("Queue", body, "/queue")

    def _queueRow(self, session, entry, recipient, asked) -> Tag:
        return row(
            tags.a(href=path("messages", entry["qid"]))(entry["qid"]),
            when(entry["received"]),
            entry["sender"] or "<>",
            recipient["address"],
            str(recipient["attempts"]),
            when(recipient["next_attempt"]),
            recipient["last"] or "",
            self._actions(session, "queue", entry["qid"], ("retry", "delete"), asked),
            **{"data-qid": entry["qid"]},
        )

    def _actions(self, session, where: str, qid: str, actions, asked: dict) -> list:
        """
        The buttons of a queue row, which come back to the queue; once one was
        pressed (and until a node carries it out), what was asked instead.
        """
        if asked.get(qid) in (RELEASE, DELETE):
            return [status({RELEASE: "releasing", DELETE: "deleting"}[asked[qid]])]
        if not session.mayChange:
            return []
        labels = {"retry": "Retry now", "delete": "Delete", "release": "Release"}
        return [
            form(
                path(where, qid, a),
                session,
                *(
                    [tags.input(type="hidden", name="back", value="queue")]
                    if where == "messages"
                    else []
                ),
                button(labels[a], kind="danger" if a == "delete" else ""),
            )
            for a in actions
        ]

    async def queueAction(self, request, session, qid: str, action: str):
        await self.admin.requestQueueAction(qid, RETRY if action == "retry" else DELETE)
        verb = "retried" if action == "retry" else "deleted (with a DSN where one is due)"
        return Redirect("/queue", f"{qid.upper()} is {verb} within a second or two.")
