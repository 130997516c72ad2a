"""
The HTTP listeners behind a real reverse proxy (Debian's HAProxy in HTTP
mode, with C{option forwardfor}): with C{--http-trusted-proxy}, clicks and
opens record the client's address that the proxy names, and nobody else
can name one.
"""

from __future__ import annotations

import http.client
import re

from .conftest import BROWSER, events, path, tracked


def fromAddress(port: int, source: str, target: str, **headers) -> int:
    """GET C{target} on 127.0.0.1:C{port}, connecting from C{source} (another loopback address)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    connection.request("GET", target, headers={"User-Agent": BROWSER, **headers})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def test_behind_a_trusted_proxy_opens_record_the_client_it_names(makeGateway, sink, haproxy):
    gateway, body = tracked(makeGateway, sink, "--http-trusted-proxy", "127.0.0.1")
    [pixel] = re.findall(r'src="(http://gw\.test:8080/o/[^"]+\.gif)"', body)
    proxy = haproxy(
        {
            "web": [
                "option forwardfor",
                "http-request set-header X-Forwarded-Proto https",
                f"server gw 127.0.0.1:{gateway.httpPort}",
            ]
        },
        mode="http",
    )
    # Through the proxy, from 127.0.0.2, with an address of the client's own
    # making: the proxy appends the one it saw, and that one is recorded.
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    assert fromAddress(proxy.ports["web"], "127.0.0.2", path(pixel), **spoofed) == 200
    # Straight to the gateway, from an address that is no proxy: its own.
    assert fromAddress(gateway.httpPort, "127.0.0.3", path(pixel), **spoofed) == 200
    proxied, direct = events(gateway, "open")
    assert proxied["ip"] == "127.0.0.2"
    assert direct["ip"] == "127.0.0.3"
    assert "203.0.113.9" in proxied["headers"]["x-forwarded-for"]  # kept as it came
