"""
The gateway's configuration: one frozen, typed value (L{Config}) made from
the C{twistd smtpeter} options (L{makeConfig}). Every default is written
once, as a field's default here: the options show it in their help and the
objects that use a setting take their own default from it (L{default}).

Reading the options touches nothing but one file, deliberately: a
certificate given with --tls-cert is read, so that an unreadable one is one
clear line and exit status 1 rather than a traceback from inside the
running reactor.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, NoReturn

from attrs import field, fields, frozen
from twisted.python import usage

from .runtime import (
    PostgreSQL,
    checkPublicUrl,
    defaultPublicUrl,
    metricsEndpoint,
    parseDatabase,
    parseDuration,
    parsePositiveDuration,
    parseSize,
)
from .runtime import numberWithin as _within

#: Where the dashboard listens unless told: this machine only.
DASHBOARD = "tcp:8081:interface=127.0.0.1"
#: Where a starting gateway writes its dashboard's addresses, one a line, in
#: its data directory (for C{smtpeter admin create}, which cannot know them).
DASHBOARD_URL_FILE = "dashboard-url"
#: The file in the data directory that the gateway owning it keeps locked,
#: holding its process id (the gateway takes it; C{smtpeter} commands read it).
LOCK_FILE = "smtpeter.lock"
#: The kinds of listening socket, in the order they are opened and announced.
LISTENERS = ("smtp", "smtps", "http", "dashboard", "mx")
#: Where the gateway and the C{smtpeter} command keep their data unless told.
DATA = "./smtpeter-data"
#: How TLS to a smarthost is done: the first is the default.
RELAY_TLS = ("opportunistic", "none", "verify")


@frozen
class RelayConfig:
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: str = RELAY_TLS[0]


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
    #: Clicks of one link (or opens) recorded per recipient, minute and worker; 0: every one.
    trackLimit: int = 20
    #: How long an address stays suppressed after a hard bounce or a complaint; 0 for ever.
    suppressionDays: float = 365
    #: How long held mail (hold mode) is kept, in days.
    holdDays: float = 7
    #: How long a finished message's content is kept (for the dashboard), in days; 0: not at all.
    keepSent: float = 3
    mx: tuple[str, ...] = ()
    webhookRetry: timedelta = timedelta(seconds=30)
    webhookGiveUp: timedelta = timedelta(days=1)
    #: Networks webhooks may be sent to besides public addresses (--webhook-allow-network).
    webhookAllowNetworks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Networks direct delivery may connect to besides public addresses (--delivery-allow-network).
    deliveryAllowNetworks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Balancers whose PROXY headers the SMTP listeners read, and only theirs (--proxy-protocol).
    proxyNetworks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Reverse proxies whose X-Forwarded-For and -Proto the HTTP listeners believe.
    httpTrustedProxies: tuple[IPv4Network | IPv6Network, ...] = ()
    publicUrl: str = "http://localhost:8080"
    bounceDomain: str = "localhost"
    #: Worker processes; 1 runs the whole gateway in one process.
    workers: int = 1
    #: How long the parent waits for its workers to stop before killing them.
    stopTimeout: timedelta = timedelta(seconds=60)
    #: How long a webhook POST's retry delay may grow.
    webhookRetryMax: timedelta = timedelta(hours=1)
    #: The PostgreSQL database that holds the shared state (--database); None: SQLite's file.
    postgresql: PostgreSQL | None = None
    #: This node's name among the nodes on one PostgreSQL (--node); "": the host name.
    node: str = ""
    #: How long a claim on queued mail holds unless renewed (--lease).
    lease: timedelta = timedelta(seconds=60)
    #: Where the node serves its Prometheus metrics (--metrics); None: nowhere.
    metrics: str | None = None

    @property
    def database(self) -> Path:
        """SQLite's file in the data directory (used unless L{postgresql} is given)."""
        return self.data / "smtpeter.sqlite"

    @property
    def sharedDatabase(self) -> Path | PostgreSQL:
        """The database of the shared state: L{postgresql}, else SQLite's L{database}."""
        return self.postgresql if self.postgresql is not None else self.database

    @property
    def suppressFor(self) -> timedelta | None:
        return timedelta(days=self.suppressionDays) if self.suppressionDays else None

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


def default(name: str) -> Any:
    """The default of L{Config}'s field C{name}: what an object that uses it defaults to."""
    return getattr(fields(Config), name).default


def _fail(message: str) -> NoReturn:
    raise usage.UsageError(message)


_ONE_OR_MORE = "a whole number, 1 or more"
#: Days: a hundred years at most (more overflows a date).
_positive, _days = _within(float, 0, 36500, above=True), _within(float, 0, 36500)
_atLeastOne = _within(int, 1)


def _workers(text: str | None) -> int:
    return max(1, len(os.sched_getaffinity(0))) if text is None else _within(int, 1, 64)(text)


def _networks(options, name: str, parse) -> tuple:
    """The repeatable C{--name} option's networks, each read by C{parse}."""
    try:
        return tuple(parse(network) for network in options[name])
    except ValueError as e:
        _fail(str(e))


def _nodeName(name: str | None, hostname: str) -> str:
    if name is None:
        return hostname
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", name):
        _fail(
            f"--node {name!r}: give a name of letters, digits, dots, dashes and underscores"
            " (at most 63), e.g. --node mx-a"
        )
    return name


def _leaseLength(text: str) -> timedelta:
    lease = parseDuration(text)
    if not timedelta(seconds=5) <= lease <= timedelta(hours=1):
        raise ValueError(f"{text!r}: a lease from 5s to 1h, e.g. 60s")
    return lease


def _listenPort(description: str, kinds=("tcp", "tcp6", "ssl")) -> str | None:
    """The port an endpoint C{description} of one of C{kinds} names, as written."""
    kind, _, rest = description.partition(":")
    arguments = rest.split(":")
    named = dict(a.split("=", 1) for a in arguments if "=" in a)
    positional = [a for a in arguments if "=" not in a]
    port = named.get("port", positional[0] if positional else None)
    return port if kind.lower() in kinds else None


def makeConfig(options) -> Config:
    """
    The options (a parsed L{smtpeter.tap.Options}) as a L{Config}; a
    L{usage.UsageError} that says what to write for the first that is wrong.
    """

    def get(name, parse, what):
        try:
            return parse(options[name])
        except ValueError as e:
            _fail(f"--{name}: {e}" if what is None else f"--{name}: {what}")

    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString

    smtp = tuple(options["smtp"]) or default("smtp")
    smtps = tuple(options["smtps"]) or default("smtps")
    http = tuple(options["http"]) or default("http")
    dashboard = tuple(options["dashboard"]) or default("dashboard")
    if "none" in dashboard:
        if len(dashboard) > 1:
            _fail("--dashboard none: give either none or endpoints, not both")
        dashboard = ()
    listeners = (
        ("smtp", smtp),
        ("smtps", smtps),
        ("http", http),
        ("dashboard", dashboard),
        ("mx", options["mx"]),
        ("metrics", (metricsEndpoint(options["metrics"]),) if options.get("metrics") else ()),
    )
    web = ("http", "dashboard", "metrics")
    given: dict[str, str] = {}
    for flag, descriptions in listeners:
        for description in descriptions:
            # tcp:0 (a port the system picks) may be given to several listeners.
            anyPort = _listenPort(description, ("tcp", "tcp6")) == "0"
            if description in given and (given[description] == flag or not anyPort):
                _fail(
                    f"--{flag} {description!r}: already given to --{given[description]};"
                    " give each listener an endpoint of its own"
                )
            given[description] = flag
            if flag not in web and description.split(":", 1)[0].lower() in ("ssl", "tls"):
                _fail(
                    f"--{flag} {description!r}: give a plain endpoint such as"
                    f" tcp:{description.rpartition(':')[2] or 465}; the gateway does TLS itself,"
                    " with --tls-cert and --tls-key"
                )
            # Twisted reads any whole number as a port; the socket's bind refuses it later.
            if (port := _listenPort(description) or "").isdigit() and int(port) > 65535:
                _fail(f"--{flag} {description!r}: {port} is not a port; ports go up to 65535")
            try:
                serverFromString(reactor, description)
            except (ValueError, TypeError, KeyError, OSError) as e:
                example = "ssl:8443:privateKey=key.pem" if flag in web else "tcp:587"
                _fail(f"--{flag} {description!r} is not a valid endpoint ({e}); e.g. {example}")
    relay = None
    if options["relay"]:
        host, sep, port = options["relay"].rpartition(":")
        if not sep or not host or not port.isdigit():
            _fail(f"--relay {options['relay']!r}: write HOST:PORT, e.g. smtp.example.com:587")
        if options["relay-tls"] not in RELAY_TLS:
            _fail("--relay-tls: use none, opportunistic or verify")

        password = options["relay-password"] or os.environ.get("SMTPETER_RELAY_PASSWORD")
        if password and not options["relay-user"]:
            _fail("--relay-password needs --relay-user")
        relay = RelayConfig(
            host.strip("[]"), int(port), options["relay-user"], password, options["relay-tls"]
        )
    elif options["relay-user"]:
        _fail("--relay-user needs --relay HOST:PORT")
    elif options["relay-password"]:
        _fail("--relay-password needs --relay HOST:PORT (and --relay-user)")
    if bool(options["tls-cert"]) != bool(options["tls-key"]):
        _fail("--tls-cert and --tls-key go together")
    tlsCert = Path(options["tls-cert"]) if options["tls-cert"] else None
    tlsKey = Path(options["tls-key"]) if options["tls-key"] else None
    if tlsCert is not None and tlsKey is not None:
        from .runtime import CertificateError, loadServerOptions

        try:
            loadServerOptions(tlsCert, tlsKey)
        except CertificateError as e:
            _fail(f"TLS certificate: {e}")

    def delays(text: str) -> tuple[float, ...]:
        values = tuple(float(v) for v in text.split(",") if v.strip())
        if any(v < 0 for v in values):
            raise ValueError
        return values

    dnsServer = None
    if options["dns-server"]:
        host, sep, port = options["dns-server"].rpartition(":")
        if not sep:
            host, port = options["dns-server"], "53"
        if not host or not port.isdigit():
            _fail(f"--dns-server {options['dns-server']!r}: write HOST or HOST:PORT")
        dnsServer = (host.strip("[]"), int(port))
    if options["hostname"] and not re.fullmatch(
        r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?", options["hostname"]
    ):
        _fail(f"--hostname {options['hostname']!r}: write a host name, e.g. mail.example.com")
    hostname = options["hostname"] or socket.getfqdn()
    publicUrl = options["public-url"] or defaultPublicUrl(hostname, http)
    try:
        publicUrl = checkPublicUrl(publicUrl)
    except ValueError as e:
        _fail(f"--public-url: {e}")
    bounceDomain = (options["bounce-domain"] or hostname).strip().rstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", bounceDomain):
        _fail(f"--bounce-domain {bounceDomain!r}: write a domain name, e.g. bounces.example.com")
    from .delivery import ALLOW_NETWORK_OPTION
    from .events import parseNetwork
    from .runtime import parseNetwork as parseAllowedNetwork

    webhookAllowNetworks = _networks(options, "webhook-allow-network", parseNetwork)
    deliveryAllowNetworks = _networks(
        options,
        "delivery-allow-network",
        lambda network: parseAllowedNetwork(network, ALLOW_NETWORK_OPTION),
    )
    workers = get("workers", _workers, "a whole number from 1 to 64")
    postgresql = get("database", parseDatabase, None)
    data = Path(options["data"])
    if data.exists() and not data.is_dir():
        _fail(f"--data {data}: exists and is not a directory")
    return Config(
        data=data,
        postgresql=postgresql,
        hostname=hostname,
        smtp=smtp,
        smtps=smtps,
        tlsCert=tlsCert,
        tlsKey=tlsKey,
        relay=relay,
        maxSize=get("max-size", parseSize, None),
        maxRecipients=get("max-recipients", _atLeastOne, _ONE_OR_MORE),
        maxQueueTime=get("max-queue-time", parseDuration, None),
        retryInitial=get("retry-initial", parsePositiveDuration, None),
        retryMax=get("retry-max", parsePositiveDuration, None),
        delayWarning=get("delay-warning", parseDuration, None),
        idleTimeout=get("idle-timeout", parsePositiveDuration, None),
        handshakeTimeout=get("handshake-timeout", parsePositiveDuration, None),
        maxConnectionsPerAddress=get("max-connections-per-ip", _atLeastOne, _ONE_OR_MORE),
        httpMaxConnectionsPerAddress=get("http-max-connections-per-ip", _atLeastOne, _ONE_OR_MORE),
        httpRequestTimeout=get("http-request-timeout", parseDuration, None),
        authFailureDelays=get(
            "auth-failure-delays", delays, "comma-separated seconds, e.g. 2,4,8,15"
        ),
        mxPort=get("mx-port", _within(int, 1, 65535), "a port number, 1 to 65535"),
        dnsServer=dnsServer,
        http=http,
        dashboard=dashboard,
        mx=tuple(options["mx"]),
        webhookRetry=get("webhook-retry", parsePositiveDuration, None),
        webhookGiveUp=get("webhook-give-up", parseDuration, None),
        webhookAllowNetworks=webhookAllowNetworks,
        deliveryAllowNetworks=deliveryAllowNetworks,
        proxyNetworks=tuple(options.get("proxy-protocol", ())),
        httpTrustedProxies=tuple(options.get("http-trusted-proxy", ())),
        retention=timedelta(days=get("retention", _positive, "a number of days, e.g. 30")),
        trackLimit=get("track-limit", _within(int, 0), "a whole number, or 0 for no limit"),
        suppressionDays=get("suppression-days", _days, "a number of days, or 0 for ever"),
        holdDays=get("hold-days", _positive, "a number of days, e.g. 7"),
        keepSent=get("keep-sent", _days, "a number of days, or 0 to keep none"),
        publicUrl=publicUrl,
        bounceDomain=bounceDomain,
        workers=workers,
        stopTimeout=get("stop-timeout", parseDuration, None),
        node=_nodeName(options.get("node"), hostname),
        lease=get("lease", _leaseLength, None),
        metrics=metricsEndpoint(options["metrics"]) if options.get("metrics") else None,
    )
