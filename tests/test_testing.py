"""The receiving server that tests point a gateway at (smtpeter.testing)."""

from __future__ import annotations

import socket
import socketserver
import threading

from smtpeter.testing import _Server


class Greeting(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"220 sink\r\n")


def test_the_sink_queues_a_burst_of_connections_it_has_not_accepted_yet():
    # A gateway resuming a full queue opens all its delivery connections at
    # once, faster than the sink accepts them. Beyond its listen queue the
    # kernel drops them or, with SYN cookies, completes them on the client's
    # side only: the client then waits for a greeting that never comes.
    server = _Server(("127.0.0.1", 0), Greeting)  # listening, not accepting yet
    clients: list[socket.socket] = []
    serving = None
    try:
        for _ in range(40):
            clients.append(socket.create_connection(server.server_address, timeout=3))
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        for client in clients:
            assert client.recv(100) == b"220 sink\r\n"
    finally:
        if serving is not None:
            server.shutdown()
        server.server_close()
        for client in clients:
            client.close()
