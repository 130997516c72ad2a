"""
``twistd smtpeter``: options in, a service out. The options and their help
are here, each default read from L{smtpeter.config.Config}, which
L{smtpeter.config.makeConfig} makes from them. Nothing here touches the
network; the data directory and listeners open when the service starts.
"""

from __future__ import annotations

from twisted.python import usage

from .config import DATA, LISTENERS, RELAY_TLS, default, makeConfig
from .process import TwistdRun, misplacedTwistdOption
from .runtime import (
    DATABASE_HELP,
    formatDays,
    formatDelays,
    formatDuration,
    formatSize,
    installUnlessChosen,
    parseNetwork,
)
from .smtp import AuthThrottle

#: Each option's default is Config's, shown in --help.
D = default


#: How AUTH failures block an address: AuthThrottle's own defaults (only
#: those are read, so it needs no clock).
_BAN = AuthThrottle(clock=None)  # type: ignore[arg-type]


def _listeners(name: str) -> str:
    """A listener option's default endpoints, for its help."""
    return ", ".join(D(name)) or "none"


def _repeatable(name: str, help: str):
    """The method of a repeatable option C{--name}: each value given is appended."""

    def add(self, value: str) -> None:
        self[name].append(value)

    add.__doc__ = help
    return add


def _networks(name: str, help: str):
    """L{_repeatable}, for networks read as they are given: a mistake is one line."""

    def add(self, network: str) -> None:
        try:
            self.setdefault(name, []).append(parseNetwork(network, f"--{name}"))
        except ValueError as e:
            raise usage.UsageError(str(e))

    add.__doc__ = help
    return add


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
            DATA,
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
            RELAY_TLS[0],
            "TLS to the smarthost: none, opportunistic (STARTTLS when offered) or verify"
            " (STARTTLS required, certificate checked against the host name).",
        ],
        [
            "max-size",
            None,
            formatSize(D("maxSize")),
            "Largest message accepted, in bytes (suffixes k, m, g).",
        ],
        ["max-recipients", None, str(D("maxRecipients")), "Most recipients accepted per message."],
        [
            "max-queue-time",
            None,
            formatDuration(D("maxQueueTime")),
            "How long to retry a temporary failure before giving up and returning a DSN.",
        ],
        [
            "retry-initial",
            None,
            formatDuration(D("retryInitial")),
            "First retry delay after a temporary failure; it doubles each time up to --retry-max.",
        ],
        [
            "retry-max",
            None,
            formatDuration(D("retryMax")),
            "Longest delay between two delivery attempts.",
        ],
        [
            "delay-warning",
            None,
            formatDuration(D("delayWarning")),
            "Send a 'delayed' DSN once when a message has waited this long"
            " (to senders who asked for NOTIFY=DELAY or gave no NOTIFY).",
        ],
        [
            "idle-timeout",
            None,
            formatDuration(D("idleTimeout")),
            "Close client connections idle this long.",
        ],
        [
            "handshake-timeout",
            None,
            formatDuration(D("handshakeTimeout")),
            "Drop a client whose TLS handshake (implicit TLS or STARTTLS) has not finished"
            " this long after it began.",
        ],
        [
            "max-connections-per-ip",
            None,
            str(D("maxConnectionsPerAddress")),
            "Most simultaneous connections from one client address (an IPv6 client's /64);"
            " more get 421.",
        ],
        [
            "http-max-connections-per-ip",
            None,
            str(D("httpMaxConnectionsPerAddress")),
            "Most simultaneous connections from one client address (an IPv6 client's /64)"
            " to the HTTP listeners (--http; the dashboard counts its own), per worker;"
            " more are answered 429 and closed.",
        ],
        [
            "http-request-timeout",
            None,
            formatDuration(D("httpRequestTimeout")),
            "How long an HTTP request (its line, headers and body) may take to arrive,"
            " from its first byte; a slower one is answered 408 and closed (0: no limit).",
        ],
        [
            "auth-failure-delays",
            None,
            formatDelays(D("authFailureDelays")),
            "Seconds to wait before answering the 1st, 2nd, 3rd... failed AUTH from one"
            f" address (the last value repeats); {_BAN.limit} failures in"
            f" {formatDuration(_BAN.window)} block AUTH from that address for"
            f" {formatDuration(_BAN.banFor)}.",
        ],
        ["mx-port", None, str(D("mxPort")), "Port used for direct delivery to MX hosts."],
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
            formatDays(D("retention")),
            "Days to keep events and message records; older ones are purged every hour.",
        ],
        [
            "track-limit",
            None,
            str(D("trackLimit")),
            "Most clicks of one link, or opens, recorded per recipient and minute by each"
            " worker; more are still redirected or shown, but not recorded (a link replayed"
            " in a loop fills neither the database nor the webhooks). 0: no limit.",
        ],
        [
            "suppression-days",
            None,
            formatDays(D("suppressionDays")),
            "Days an address stays on the suppression list after a hard bounce or a"
            " complaint (0: for ever).",
        ],
        [
            "hold-days",
            None,
            formatDays(D("holdDays")),
            "Days held mail (of a login in hold mode) is kept before it is dropped undelivered.",
        ],
        [
            "keep-sent",
            None,
            formatDays(D("keepSent")),
            "Days a message's content is kept after it leaves the queue (delivered, failed,"
            " deleted), for the dashboard's message page; 0 keeps none.",
        ],
        [
            "webhook-retry",
            None,
            formatDuration(D("webhookRetry")),
            "First retry delay of a failed webhook POST; it doubles up to"
            f" {formatDuration(D('webhookRetryMax'))}.",
        ],
        [
            "webhook-give-up",
            None,
            formatDuration(D("webhookGiveUp")),
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
            formatDuration(D("stopTimeout")),
            "With several workers: how long a stop (SIGTERM, SIGINT) waits for them to finish"
            " their deliveries in flight; a worker still running then is killed (its queue"
            " is on disk, and the next start resumes it).",
        ],
        ["database", None, None, DATABASE_HELP],
        [
            "node",
            None,
            None,
            "With --database postgresql://...: this node's name, unique among the running"
            " nodes (a second node with the same name refuses to start) [default: the"
            " --hostname].",
        ],
        [
            "lease",
            None,
            formatDuration(D("lease")),
            "With --database postgresql://...: how long a node's claim on queued mail holds"
            " without being renewed; mail of a node that died is taken over by the others"
            " this long after its last renewal.",
        ],
        [
            "metrics",
            None,
            None,
            "Serve Prometheus metrics at /metrics on this endpoint, the node's totals over"
            " all its workers; a bare port (9464) listens on 127.0.0.1 only, e.g."
            " tcp:9464:interface=10.0.0.5 for another address (see docs/metrics.md)"
            " [default: none]",
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
        # The repeatable options, empty until given.
        for name in (*LISTENERS, "webhook-allow-network", "delivery-allow-network"):
            self[name] = []

    opt_smtp = _repeatable(
        "smtp",
        "STARTTLS-then-AUTH listener, an endpoint string; repeatable"
        f" [default: {_listeners('smtp')}]",
    )
    opt_smtps = _repeatable(
        "smtps",
        "Implicit-TLS listener, a plain tcp: endpoint; repeatable"
        f" [default: {_listeners('smtps')}]",
    )
    opt_http = _repeatable(
        "http",
        "Web listener (tracking links, open pixel, hosted images, REST API, /healthz),"
        f" an endpoint string; repeatable [default: {_listeners('http')}]",
    )
    opt_dashboard = _repeatable(
        "dashboard",
        "The dashboard's listener, an endpoint string (an ssl: endpoint serves it over HTTPS);"
        " repeatable; 'none' for no dashboard [default: "
        f"{_listeners('dashboard')}, this machine only]. Users: smtpeter admin create NAME",
    )
    opt_mx = _repeatable(
        "mx",
        "Bounce intake: an SMTP listener without AUTH (STARTTLS offered) that takes mail"
        " only for the signed bounce addresses of --bounce-domain, e.g. tcp:25;"
        f" repeatable [default: {_listeners('mx')}]",
    )
    opt_webhook_allow_network = _repeatable(
        "webhook-allow-network",
        "A network (CIDR, e.g. 10.0.0.0/8, fd00::/8, or one address) webhooks may be sent"
        " to, besides public addresses; repeatable. Without it, a webhook whose host is"
        " or resolves to a loopback, link-local, private, unspecified, multicast or"
        " reserved address is refused (see docs/webhooks.md) [default: none]",
    )
    opt_delivery_allow_network = _repeatable(
        "delivery-allow-network",
        "A network (CIDR, e.g. 10.0.0.0/8, fd00::/8, or one address) direct delivery"
        " (without --relay) may connect to, besides public addresses; repeatable. Without"
        " it, recipients at a non-public address literal (user@[127.0.0.1]) are refused"
        " at RCPT, and MX hosts with only loopback, link-local, private, unspecified,"
        " multicast or reserved addresses are skipped (see docs/behaviour.md) [default: none]",
    )
    opt_http_trusted_proxy = _networks(
        "http-trusted-proxy",
        "A network (CIDR, e.g. 10.0.0.0/8, or one address) of reverse proxies in front of"
        " --http and --dashboard (nginx terminating TLS); repeatable. Their requests come"
        " from the client their X-Forwarded-For names, over HTTPS if X-Forwarded-Proto says"
        " so; they are not held to --http-max-connections-per-ip. Anyone else's forwarding"
        " headers are ignored (see docs/running.md) [default: none]",
    )
    opt_proxy_protocol = _networks(
        "proxy-protocol",
        "A network (CIDR, e.g. 10.0.0.0/8, or one address) of load balancers in front of"
        " the SMTP listeners (--smtp, --smtps); repeatable. With it, those listeners take"
        " connections only from these networks, each starting with a PROXY protocol header"
        " (v1 or v2, as HAProxy's send-proxy and send-proxy-v2 send) that names the client,"
        " whose address the limits, the AUTH throttle, Received headers and logs then use;"
        " others are closed (see docs/cluster.md) [default: none]",
    )

    def parseOptions(self, options=None) -> None:
        # Kept so that worker processes can be started with the same options.
        self.arguments = list(options) if options is not None else []
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            # twistd would print the whole help text above the error; one
            # line says more.
            said = misplacedTwistdOption(str(e), self.arguments) or e
            raise SystemExit(f"twistd smtpeter: {said} (see: twistd smtpeter --help)")

    def postOptions(self) -> None:
        if getattr(self, "parent", None) is not None:  # twistd's subcommand: its process
            installUnlessChosen()
        self.config = makeConfig(self)


def makeService(options: Options):
    from twisted.internet import reactor

    from .process import nodeService

    twistd = TwistdRun(getattr(options, "parent", None))
    return nodeService(options.config, options.arguments, twistd, reactor)
