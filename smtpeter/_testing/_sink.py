"""
A receiving SMTP server for tests (L{SinkServer}): it records exactly what
arrives (L{Received}) and answers as a test scripts it. It runs in its own
threads with plain sockets, independent of any reactor, so a test can point
a real gateway process at it. Used through L{smtpeter.testing}.
"""

from __future__ import annotations

import base64
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable

from attrs import define, field


@define
class Received:
    """One transaction as the sink saw it: envelope, raw DATA lines (dots undone)."""

    helo: str
    #: C{None} if the client sent DATA with no MAIL before it (the sink takes it).
    mailFrom: str | None
    mailParams: str
    recipients: list[str]
    data: bytes = field(repr=False)
    tls: bool
    auth: str | None
    #: When the sink had the whole message (C{time.monotonic()}), before its answer.
    at: float = field(factory=time.monotonic, eq=False, repr=False)


def _defaultPolicy(stage: str, argument: str) -> str | None:
    return None


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # A gateway opens a connection for each of its delivery slots at once
    # (ten per worker when it resumes a full queue). socketserver's backlog
    # of 5 overflowed, and a connection whose handshake the kernel finished
    # with a SYN cookie but could not queue for accept() was open on the
    # gateway's side only: it waited for a greeting that never came (the
    # kill -9 test's rare "accepted message lost").
    request_queue_size = 128


@define
class SinkServer:
    """
    A receiving SMTP server on 127.0.0.1. C{policy(stage, argument)} may
    return a reply line (e.g. C{"451 4.3.0 try later"}) for stage C{"MAIL"},
    C{"RCPT"} or C{"DATA"} (after the data), or C{None} for the default 250.
    With C{tlsContext} it offers STARTTLS; with C{dsn} it offers DSN;
    without C{eightBit} it does not offer 8BITMIME. With
    C{dropAfter}, a connection that has carried that many messages is closed
    without a reply at its next MAIL, as a half-closed idle connection looks.
    """

    policy: Callable[[str, str], str | None] = _defaultPolicy
    tlsContext: ssl.SSLContext | None = None
    dsn: bool = False
    eightBit: bool = True
    requireAuth: tuple[str, str] | None = None
    dropAfter: int | None = None
    messages: list[Received] = field(factory=list)
    connections: int = 0
    _server: socketserver.ThreadingTCPServer | None = None
    _lock: threading.Condition = field(factory=threading.Condition)

    @property
    def port(self) -> int:
        """The port it listens on, once started."""
        assert self._server is not None, "start the sink first"
        return self._server.server_address[1]

    def start(self) -> SinkServer:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink._lock:
                    sink.connections += 1
                try:
                    sink._session(self.request)
                except (OSError, ssl.SSLError):
                    pass  # the gateway went away mid-session (e.g. a kill test)

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until C{count} messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
                self._lock.wait(left)
            return list(self.messages)

    def _session(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        tls = False
        auth = None

        def send(line: str) -> None:
            sock.sendall(line.encode() + b"\r\n")

        send("220 sink.test ESMTP test sink")
        helo, mailParams = "", ""
        mailFrom: str | None = None
        rcpts: list[str] = []
        carried = 0
        while True:
            raw = stream.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                helo = arg
                ext = ["sink.test", "PIPELINING", "SIZE 100000000"]
                if self.eightBit:
                    ext.insert(2, "8BITMIME")
                if self.dsn:
                    ext.append("DSN")
                if self.tlsContext is not None and not tls:
                    ext.append("STARTTLS")
                if self.requireAuth:
                    ext.append("AUTH PLAIN LOGIN")
                for item in ext[:-1]:
                    send("250-" + item)
                send("250 " + ext[-1])
            elif verb == "STARTTLS":
                if self.tlsContext is None:  # not offered: as any other unknown command
                    send("500 5.5.1 what")
                    continue
                send("220 go ahead")
                sock = self.tlsContext.wrap_socket(sock, server_side=True)
                stream = sock.makefile("rb")
                tls = True
            elif verb == "AUTH":
                parts = base64.b64decode(arg.split(" ", 1)[1]).split(b"\0")
                if (parts[1].decode(), parts[2].decode()) == self.requireAuth:
                    auth = parts[1].decode()
                    send("235 2.7.0 ok")
                else:
                    send("535 5.7.8 no")
            elif verb == "MAIL":
                if self.dropAfter is not None and carried >= self.dropAfter:
                    sock.close()
                    return
                if self.requireAuth and auth is None:
                    send("530 5.7.0 auth first")
                    continue
                mailFrom, _, mailParams = arg[5:].partition(" ")
                mailFrom = mailFrom.strip("<>")
                rcpts = []
                send(self.policy("MAIL", mailFrom) or "250 2.1.0 ok")
            elif verb == "RCPT":
                address = arg[3:].partition(" ")[0].strip("<>")
                answer = self.policy("RCPT", address)
                if answer is None:
                    rcpts.append(address)
                send(answer or "250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go")
                lines = []
                while True:
                    data = stream.readline()
                    if not data:
                        return  # cut off mid-DATA: a real server keeps nothing
                    if data == b".\r\n":
                        break
                    lines.append(data[1:] if data.startswith(b".") else data)
                content = b"".join(lines)
                answer = self.policy("DATA", content.decode("utf-8", "replace"))
                if answer is None:
                    carried += 1
                    with self._lock:
                        self.messages.append(
                            Received(helo, mailFrom, mailParams, rcpts, content, tls, auth)
                        )
                        self._lock.notify_all()
                send(answer or "250 2.0.0 stored")
            elif verb == "RSET":
                mailFrom, rcpts = None, []
                send("250 2.0.0 ok")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("500 5.5.1 what")


__all__ = ["Received", "SinkServer", "_Server"]
