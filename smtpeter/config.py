"""The gateway's configuration: one frozen, typed value made from the options."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from urllib.parse import urlsplit

from attrs import field, frozen

#: Where the dashboard listens unless told: this machine only.
DASHBOARD = "tcp:8081:interface=127.0.0.1"
#: Where a starting gateway writes its dashboard's addresses, one a line, in
#: its data directory (for C{smtpeter admin create}, which cannot know them).
DASHBOARD_URL_FILE = "dashboard-url"
#: The kinds of listening socket, in the order they are opened and announced.
LISTENERS = ("smtp", "smtps", "http", "dashboard", "mx")


@frozen
class RelayConfig:
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: str = "opportunistic"


@frozen
class Config:
    data: Path
    hostname: str
    smtp: tuple[str, ...] = ("tcp:2525",)
    smtps: tuple[str, ...] = ("tcp:4650",)
    tlsCert: Path | None = None
    tlsKey: Path | None = None
    relay: RelayConfig | None = None
    maxSize: int = 50 * 1024 * 1024
    maxRecipients: int = 100
    maxQueueTime: timedelta = timedelta(days=5)
    retryInitial: timedelta = timedelta(minutes=1)
    retryMax: timedelta = timedelta(hours=4)
    delayWarning: timedelta = timedelta(hours=4)
    idleTimeout: timedelta = timedelta(minutes=5)
    handshakeTimeout: timedelta = timedelta(seconds=30)
    maxConnectionsPerAddress: int = 50
    #: Connections one address may hold open on the HTTP listeners (each site its own), per worker.
    httpMaxConnectionsPerAddress: int = 50
    #: How long an HTTP request may take to arrive, from its first byte.
    httpRequestTimeout: timedelta = timedelta(seconds=30)
    authFailureDelays: tuple[float, ...] = (2.0, 4.0, 8.0, 15.0)
    mxPort: int = 25
    dnsServer: tuple[str, int] | None = None
    http: tuple[str, ...] = ("tcp:8080",)
    #: The dashboard's listeners; none when started with --dashboard none.
    dashboard: tuple[str, ...] = (DASHBOARD,)
    retention: timedelta = timedelta(days=30)
    #: How long an address stays suppressed after a hard bounce or a complaint; 0 for ever.
    suppressionDays: float = 365
    #: How long held mail (hold mode) is kept, in days.
    holdDays: float = 7
    #: How long a finished message's content is kept (for the dashboard), in days; 0: not at all.
    keepSent: float = 3

    @property
    def suppressFor(self) -> timedelta | None:
        return timedelta(days=self.suppressionDays) if self.suppressionDays else None

    mx: tuple[str, ...] = ()
    webhookRetry: timedelta = timedelta(seconds=30)
    webhookGiveUp: timedelta = timedelta(days=1)
    #: Networks webhooks may be sent to besides public addresses (--webhook-allow-network).
    webhookAllowNetworks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Networks direct delivery may connect to besides public addresses (--delivery-allow-network).
    deliveryAllowNetworks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Balancers whose PROXY headers the SMTP listeners read, and only theirs (--proxy-protocol).
    proxyNetworks: tuple[IPv4Network | IPv6Network, ...] = ()
    publicUrl: str = "http://localhost:8080"
    bounceDomain: str = "localhost"
    #: Worker processes; 1 runs the whole gateway in one process.
    workers: int = 1
    #: How long the parent waits for its workers to stop before killing them.
    stopTimeout: timedelta = timedelta(seconds=60)

    @property
    def database(self) -> Path:
        return self.data / "smtpeter.sqlite"

    @property
    def images(self) -> Path:
        return self.data / "images"

    @property
    def secret(self) -> Path:
        return self.data / "secret.key"

    @property
    def certificatePaths(self) -> tuple[Path, Path]:
        if self.tlsCert is not None and self.tlsKey is not None:
            return self.tlsCert, self.tlsKey
        return self.data / "tls" / "cert.pem", self.data / "tls" / "key.pem"

    @property
    def generatesCertificate(self) -> bool:
        return self.tlsCert is None


def checkPublicUrl(url: str) -> str:
    """An http(s) base URL without query or fragment, without its trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host name")
    if parts.query or parts.fragment or any(c in url for c in " \"'<>"):
        raise ValueError(f"{url!r}: a base URL has no query, fragment, spaces or quotes")
    return url.strip().rstrip("/")


def defaultPublicUrl(hostname: str, http: tuple[str, ...]) -> str:
    """
    The base URL of rewritten links when --public-url is not given: this
    host's name and the port of the first --http listener (C{tcp:9090} gives
    C{http://HOSTNAME:9090}; an C{ssl:} listener gives https; ports 80 and 443
    are left out). The listener's interface is not used: the address it binds
    to is rarely the name readers reach it by. A listener without a TCP port
    (C{unix:}) leaves the port it had always, 8080.
    """
    listener = _tcpListener(http[0]) if http else None
    scheme, port = (listener[0], listener[2]) if listener else ("http", 8080)
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{scheme}://{host}" + ("" if port == {"http": 80, "https": 443}[scheme] else f":{port}")


def dashboardUrls(hostname: str, dashboard: tuple[str, ...]) -> list[str]:
    """
    Where each dashboard listener is reached: C{tcp:8081:interface=127.0.0.1}
    is C{http://127.0.0.1:8081/}; without an interface (or one that means every
    address), the host is C{hostname}; C{ssl:} is https. An endpoint without a
    TCP port (C{unix:}) is given as it is.
    """
    urls = []
    for description in dashboard:
        listener = _tcpListener(description)
        if listener is None:
            urls.append(description)
            continue
        scheme, interface, port = listener
        host = hostname if interface in ("", "0.0.0.0", "::") else interface
        host = f"[{host}]" if ":" in host else host
        urls.append(f"{scheme}://{host}:{port}/")
    return urls


def _tcpListener(description: str) -> tuple[str, str, int] | None:
    """
    A listening endpoint string's URL scheme, interface (empty: every
    address) and port; None for one that has no TCP port (C{unix:}).
    """
    fields, current, escaped = [], "", False
    for c in description:
        if escaped:
            current, escaped = current + c, False
        elif c == "\\":
            escaped = True
        elif c == ":":
            fields.append(current)
            current = ""
        else:
            current += c
    kind, *rest = [*fields, current]
    named = dict(f.split("=", 1) for f in rest if "=" in f)
    positional = [f for f in rest if "=" not in f]
    port = named.get("port") or (positional[0] if positional else "")
    if kind.lower() not in ("tcp", "tcp6", "ssl") or not port.isdigit():
        return None
    return ("https" if kind.lower() == "ssl" else "http"), named.get("interface", ""), int(port)
