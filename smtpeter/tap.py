"""
``twistd smtpeter``: options in, a service out. Nothing here touches the
network; the data directory and listeners open when the service starts.
The one exception is deliberate: a certificate given with --tls-cert is
read here, so that an unreadable one is one clear line and exit status 1
rather than a traceback from inside the running reactor.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta
from pathlib import Path

from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from .config import DASHBOARD, Config, RelayConfig, checkPublicUrl, defaultPublicUrl
from .process import TwistdRun

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parseDuration(text: str) -> timedelta:
    """C{90}, C{90s}, C{15m}, C{4h}, C{5d}."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 4h or 5d")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def parseSize(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)b?", text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size like 52428800, 50m or 512k")
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match[2]]


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Runs the smtpeter gateway: STARTTLS and implicit-TLS submission for"
        " authenticated SMTP logins, a durable queue, and delivery onward, either"
        " through a smarthost (--relay) or directly to each domain's MX hosts; a web"
        " side for tracking links and the REST API (--http), and bounce intake (--mx)."
        " Manage logins, tokens and webhooks with the 'smtpeter' command while it runs."
    )

    optParameters = [
        [
            "data",
            None,
            "./smtpeter-data",
            "Directory for everything the node keeps (database, spool, certificate, keys);"
            " created on first start.",
        ],
        [
            "hostname",
            None,
            None,
            "Name used in the greeting, Received headers, Message-IDs and DSNs"
            " [default: this machine's FQDN].",
        ],
        [
            "tls-cert",
            None,
            None,
            "PEM certificate (optionally followed by its chain) for both listener kinds."
            " Without it, a self-signed certificate for --hostname is generated into the"
            " data directory on first start.",
        ],
        ["tls-key", None, None, "PEM private key belonging to --tls-cert."],
        [
            "relay",
            None,
            None,
            "Send all mail through this smarthost, HOST:PORT. Without it, mail goes"
            " directly to each recipient domain's MX hosts.",
        ],
        ["relay-user", None, None, "User name for AUTH at the smarthost."],
        [
            "relay-password",
            None,
            None,
            "Password for AUTH at the smarthost (or set SMTPETER_RELAY_PASSWORD).",
        ],
        [
            "relay-tls",
            None,
            "opportunistic",
            "TLS to the smarthost: none, opportunistic (STARTTLS when offered) or verify"
            " (STARTTLS required, certificate checked against the host name).",
        ],
        ["max-size", None, "50m", "Largest message accepted, in bytes (suffixes k, m, g)."],
        ["max-recipients", None, "100", "Most recipients accepted per message."],
        [
            "max-queue-time",
            None,
            "5d",
            "How long to retry a temporary failure before giving up and returning a DSN.",
        ],
        [
            "retry-initial",
            None,
            "1m",
            "First retry delay after a temporary failure; it doubles each time up to --retry-max.",
        ],
        ["retry-max", None, "4h", "Longest delay between two delivery attempts."],
        [
            "delay-warning",
            None,
            "4h",
            "Send a 'delayed' DSN once when a message has waited this long"
            " (to senders who asked for NOTIFY=DELAY or gave no NOTIFY).",
        ],
        ["idle-timeout", None, "5m", "Close client connections idle this long."],
        [
            "handshake-timeout",
            None,
            "30s",
            "Drop a client whose TLS handshake (implicit TLS or STARTTLS) has not finished"
            " this long after it began.",
        ],
        [
            "max-connections-per-ip",
            None,
            "50",
            "Most simultaneous connections from one client address (an IPv6 client's /64);"
            " more get 421.",
        ],
        [
            "http-max-connections-per-ip",
            None,
            "50",
            "Most simultaneous connections from one client address (an IPv6 client's /64)"
            " to the HTTP listeners (--http; the dashboard counts its own), per worker;"
            " more are answered 429 and closed.",
        ],
        [
            "http-request-timeout",
            None,
            "30s",
            "How long an HTTP request (its line, headers and body) may take to arrive,"
            " from its first byte; a slower one is answered 408 and closed (0: no limit).",
        ],
        [
            "auth-failure-delays",
            None,
            "2,4,8,15",
            "Seconds to wait before answering the 1st, 2nd, 3rd... failed AUTH from one"
            " address (the last value repeats); 5 failures in 10 minutes block AUTH from"
            " that address for 10 minutes.",
        ],
        ["mx-port", None, "25", "Port used for direct delivery to MX hosts."],
        [
            "dns-server",
            None,
            None,
            "DNS server for MX and address lookups, HOST or HOST:PORT"
            " [default: the servers in /etc/resolv.conf].",
        ],
        [
            "public-url",
            None,
            None,
            "Base URL of every rewritten link (clicks, opens, hosted images): where the"
            " gateway's web side is reached from the Internet, e.g. https://click.example.com"
            " [default: http://HOSTNAME:PORT, PORT that of the first --http listener (8080"
            " by default), https for an ssl: listener]. A login can have its own (smtpeter"
            " login update NAME --public-url URL).",
        ],
        [
            "retention",
            None,
            "30",
            "Days to keep events and message records; older ones are purged every hour.",
        ],
        [
            "suppression-days",
            None,
            "365",
            "Days an address stays on the suppression list after a hard bounce or a"
            " complaint (0: for ever).",
        ],
        [
            "hold-days",
            None,
            "7",
            "Days held mail (of a login in hold mode) is kept before it is dropped undelivered.",
        ],
        [
            "keep-sent",
            None,
            "3",
            "Days a message's content is kept after it leaves the queue (delivered, failed,"
            " deleted), for the dashboard's message page; 0 keeps none.",
        ],
        [
            "webhook-retry",
            None,
            "30s",
            "First retry delay of a failed webhook POST; it doubles up to an hour.",
        ],
        [
            "webhook-give-up",
            None,
            "1d",
            "How long a webhook POST is retried; then the webhook is disabled, with the"
            " reason shown by 'smtpeter webhook list'.",
        ],
        [
            "workers",
            None,
            None,
            "Worker processes, each a complete gateway (SMTP, delivery, web) on the same"
            " listening sockets, so the kernel spreads connections over them; a parent"
            " process supervises and restarts them. 1 runs everything in one process"
            " [default: the number of CPUs].",
        ],
        [
            "stop-timeout",
            None,
            "60s",
            "With several workers: how long a stop (SIGTERM, SIGINT) waits for them to finish"
            " their deliveries in flight; a worker still running then is killed (its queue"
            " is on disk, and the next start resumes it).",
        ],
        [
            "bounce-domain",
            None,
            None,
            "Domain of the signed bounce addresses that trackbounces puts in the envelope;"
            " its MX must point at this gateway [default: the hostname].",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["smtp"] = []
        self["smtps"] = []
        self["http"] = []
        self["dashboard"] = []
        self["mx"] = []
        self["webhook-allow-network"] = []
        self["delivery-allow-network"] = []

    def opt_smtp(self, description: str) -> None:
        """STARTTLS-then-AUTH listener, an endpoint string; repeatable [default: tcp:2525]"""
        self["smtp"].append(description)

    def opt_smtps(self, description: str) -> None:
        """Implicit-TLS listener, a plain tcp: endpoint; repeatable [default: tcp:4650]"""
        self["smtps"].append(description)

    def opt_http(self, description: str) -> None:
        self["http"].append(description)

    opt_http.__doc__ = (
        "Web listener (tracking links, open pixel, hosted images, REST API, /healthz),"
        " an endpoint string; repeatable [default: tcp:8080]"
    )

    def opt_dashboard(self, description: str) -> None:
        self["dashboard"].append(description)

    opt_dashboard.__doc__ = (
        "The dashboard's listener, an endpoint string (an ssl: endpoint serves it over HTTPS);"
        " repeatable; 'none' for no dashboard [default: tcp:8081:interface=127.0.0.1, this"
        " machine only]. Users: smtpeter admin create NAME"
    )

    def opt_mx(self, description: str) -> None:
        self["mx"].append(description)

    opt_mx.__doc__ = (
        "Bounce intake: an SMTP listener without AUTH (STARTTLS offered) that takes mail"
        " only for the signed bounce addresses of --bounce-domain, e.g. tcp:25;"
        " repeatable [default: none]"
    )

    def opt_webhook_allow_network(self, network: str) -> None:
        self["webhook-allow-network"].append(network)

    opt_webhook_allow_network.__doc__ = (
        "A network (CIDR, e.g. 10.0.0.0/8, fd00::/8, or one address) webhooks may be sent"
        " to, besides public addresses; repeatable. Without it, a webhook whose host is"
        " or resolves to a loopback, link-local, private, unspecified, multicast or"
        " reserved address is refused (see docs/webhooks.md) [default: none]"
    )

    def opt_delivery_allow_network(self, network: str) -> None:
        self["delivery-allow-network"].append(network)

    opt_delivery_allow_network.__doc__ = (
        "A network (CIDR, e.g. 10.0.0.0/8, fd00::/8, or one address) direct delivery"
        " (without --relay) may connect to, besides public addresses; repeatable. Without"
        " it, recipients at a non-public address literal (user@[127.0.0.1]) are refused"
        " at RCPT, and MX hosts with only loopback, link-local, private, unspecified,"
        " multicast or reserved addresses are skipped (see docs/behaviour.md) [default: none]"
    )

    def opt_proxy_protocol(self, network: str) -> None:
        from .runtime import parseNetwork

        try:
            self.setdefault("proxy-protocol", []).append(parseNetwork(network, "--proxy-protocol"))
        except ValueError as e:
            raise usage.UsageError(str(e))

    opt_proxy_protocol.__doc__ = (
        "A network (CIDR, e.g. 10.0.0.0/8, or one address) of load balancers in front of"
        " the SMTP listeners (--smtp, --smtps); repeatable. With it, those listeners take"
        " connections only from these networks, each starting with a PROXY protocol header"
        " (v1 or v2, as HAProxy's send-proxy and send-proxy-v2 send) that names the client,"
        " whose address the limits, the AUTH throttle, Received headers and logs then use;"
        " others are closed (see docs/cluster.md) [default: none]"
    )

    def parseOptions(self, options=None) -> None:
        # Kept so that worker processes can be started with the same options.
        self.arguments = list(options) if options is not None else []
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            # twistd would print the whole help text above the error; one
            # line says more.
            raise SystemExit(f"twistd smtpeter: {e} (see: twistd smtpeter --help)")

    def postOptions(self) -> None:
        self.config = makeConfig(self)


def _fail(message: str) -> None:
    raise usage.UsageError(message)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _days(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(text)
    return value


def _atLeastOne(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _workers(text: str | None) -> int:
    if text is None:
        return max(1, len(os.sched_getaffinity(0)))
    value = int(text)
    if not 1 <= value <= 64:
        raise ValueError(text)
    return value


def makeConfig(options) -> Config:
    def get(name, parse, what):
        try:
            return parse(options[name])
        except ValueError as e:
            _fail(f"--{name}: {e}" if what is None else f"--{name}: {what}")

    from twisted.internet import reactor

    smtp = tuple(options["smtp"]) or ("tcp:2525",)
    smtps = tuple(options["smtps"]) or ("tcp:4650",)
    http = tuple(options["http"]) or ("tcp:8080",)
    dashboard = tuple(options["dashboard"]) or (DASHBOARD,)
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
    )
    web = ("http", "dashboard")
    for flag, descriptions in listeners:
        for description in descriptions:
            if flag not in web and description.split(":", 1)[0].lower() in ("ssl", "tls"):
                _fail(
                    f"--{flag} {description!r}: give a plain endpoint such as"
                    f" tcp:{description.rpartition(':')[2] or 465}; the gateway does TLS itself,"
                    " with --tls-cert and --tls-key"
                )
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
        if options["relay-tls"] not in ("none", "opportunistic", "verify"):
            _fail("--relay-tls: use none, opportunistic or verify")

        password = options["relay-password"] or os.environ.get("SMTPETER_RELAY_PASSWORD")
        if password and not options["relay-user"]:
            _fail("--relay-password needs --relay-user")
        relay = RelayConfig(
            host.strip("[]"), int(port), options["relay-user"], password, options["relay-tls"]
        )
    elif options["relay-user"]:
        _fail("--relay-user needs --relay HOST:PORT")
    if bool(options["tls-cert"]) != bool(options["tls-key"]):
        _fail("--tls-cert and --tls-key go together")
    tlsCert = Path(options["tls-cert"]) if options["tls-cert"] else None
    tlsKey = Path(options["tls-key"]) if options["tls-key"] else None
    if tlsCert is not None:
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
    hostname = options["hostname"] or socket.getfqdn()
    publicUrl = options["public-url"] or defaultPublicUrl(hostname, http)
    try:
        publicUrl = checkPublicUrl(publicUrl)
    except ValueError as e:
        _fail(f"--public-url: {e}")
    bounceDomain = (options["bounce-domain"] or hostname).strip().rstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", bounceDomain):
        _fail(f"--bounce-domain {bounceDomain!r}: write a domain name, e.g. bounces.example.com")
    from .events import parseNetwork

    webhookAllowNetworks = []
    for network in options["webhook-allow-network"]:
        try:
            webhookAllowNetworks.append(parseNetwork(network))
        except ValueError as e:
            _fail(str(e))
    from .delivery import ALLOW_NETWORK_OPTION
    from .runtime import parseNetwork as parseAllowedNetwork

    deliveryAllowNetworks = []
    for network in options["delivery-allow-network"]:
        try:
            deliveryAllowNetworks.append(parseAllowedNetwork(network, ALLOW_NETWORK_OPTION))
        except ValueError as e:
            _fail(str(e))
    workers = get("workers", _workers, "a whole number from 1 to 64")
    data = Path(options["data"])
    if data.exists() and not data.is_dir():
        _fail(f"--data {data}: exists and is not a directory")
    return Config(
        data=data,
        hostname=hostname,
        smtp=smtp,
        smtps=smtps,
        tlsCert=tlsCert,
        tlsKey=tlsKey,
        relay=relay,
        maxSize=get("max-size", parseSize, None),
        maxRecipients=get("max-recipients", int, "a whole number"),
        maxQueueTime=get("max-queue-time", parseDuration, None),
        retryInitial=get("retry-initial", parseDuration, None),
        retryMax=get("retry-max", parseDuration, None),
        delayWarning=get("delay-warning", parseDuration, None),
        idleTimeout=get("idle-timeout", parseDuration, None),
        handshakeTimeout=get("handshake-timeout", parseDuration, None),
        maxConnectionsPerAddress=get("max-connections-per-ip", int, "a whole number"),
        httpMaxConnectionsPerAddress=get(
            "http-max-connections-per-ip", _atLeastOne, "a whole number, 1 or more"
        ),
        httpRequestTimeout=get("http-request-timeout", parseDuration, None),
        authFailureDelays=get(
            "auth-failure-delays", delays, "comma-separated seconds, e.g. 2,4,8,15"
        ),
        mxPort=get("mx-port", int, "a port number"),
        dnsServer=dnsServer,
        http=http,
        dashboard=dashboard,
        mx=tuple(options["mx"]),
        webhookRetry=get("webhook-retry", parseDuration, None),
        webhookGiveUp=get("webhook-give-up", parseDuration, None),
        webhookAllowNetworks=tuple(webhookAllowNetworks),
        deliveryAllowNetworks=tuple(deliveryAllowNetworks),
        proxyNetworks=tuple(options.get("proxy-protocol", ())),
        retention=timedelta(days=get("retention", _positive, "a number of days, e.g. 30")),
        suppressionDays=get("suppression-days", _days, "a number of days, or 0 for ever"),
        holdDays=get("hold-days", _positive, "a number of days, e.g. 7"),
        keepSent=get("keep-sent", _days, "a number of days, or 0 to keep none"),
        publicUrl=publicUrl,
        bounceDomain=bounceDomain,
        workers=workers,
        stopTimeout=get("stop-timeout", parseDuration, None),
    )


def _logsTextToStandardOutput(options: Options) -> bool:
    """Whether twistd logs text to standard output: C{-n}, no --logfile, --syslog or --logger."""
    twistd = getattr(options, "parent", None)
    return bool(
        twistd is not None
        and twistd.get("nodaemon")
        and twistd.get("logfile") in (None, "", "-")
        and not twistd.get("syslog")
        and not twistd.get("logger")
    )


def _twistd(options: Options) -> TwistdRun:
    """The twistd run (its options), which a refused start must tidy up after."""
    return TwistdRun(getattr(options, "parent", None))


def makeService(options: Options):
    from twisted.internet import reactor

    if options.config.workers > 1:
        from .process import Supervisor

        return Supervisor(
            options.config,
            options.arguments,
            reactor,
            textOutput=_logsTextToStandardOutput(options),
            twistd=_twistd(options),
        )
    from .process import GatewayService
    from .runtime import freezeStartup

    reactor.callWhenRunning(freezeStartup, reactor)
    return GatewayService(options.config, reactor, twistd=_twistd(options))
