"""
The runtime every layer of the gateway may use: the worker processes'
reactor, threads for blocking work, the group-commit writer
(L{BatchWriter}), connections that write at once
(write-through), random identifiers, the listeners' TLS, the garbage
collector's tuning, the Prometheus metrics every layer counts into
(L{MESSAGES_ACCEPTED} and the rest), open connections counted per client address, errors
logged once a minute, what a disk or database error means to an
operator, the databases' numbered schema steps (L{loadSteps}), and which
addresses the gateway may connect to on someone else's say-so
(L{AddressPolicy}), and listeners behind a
load balancer (the PROXY protocol, L{ProxyProtocolFactory}), and the URLs
listeners are reached at (L{dashboardUrls}, L{defaultPublicUrl}).

It imports nothing else of smtpeter (a unit test checks), so that any
package may import it without a cycle.
"""

from ._batchwriter import BatchWriter
from ._connections import ConnectionsPerAddress, clientKey
from ._databaseuri import (
    DATABASE_ENVIRONMENT,
    DATABASE_HELP,
    NO_PSYCOPG,
    PostgreSQL,
    nameConnections,
    parseDatabase,
    redacted,
    withConnectionDefaults,
)
from ._destinations import Address, AddressPolicy, Network, classify, parseAddress, parseNetwork
from ._diskerrors import DiskFull, damaged, diskFull, explain, isDamaged, isFull, recovery
from ._gc import GC_EVERY, GC_YOUNG, freezeStartup
from ._listenerurls import (
    checkHttpUrl,
    checkPublicUrl,
    dashboardUrls,
    defaultPublicUrl,
    metricsEndpoint,
    tcpListener,
)
from ._metrics import (
    AUTH_FAILURES,
    DATABASE_COMMIT_SECONDS,
    LEASE_TAKEOVERS,
    MESSAGES_ACCEPTED,
    QUEUE_CLAIMS,
    QUEUE_MESSAGES,
    RECIPIENTS_BOUNCED,
    RECIPIENTS_DEFERRED,
    RECIPIENTS_DELIVERED,
    RECIPIENTS_FAILED,
    SMTP_CONNECTIONS,
    TRACKING_UNRECORDED,
    WEBHOOK_BACKLOG,
    loginLabel,
)
from ._proxyprotocol import ProxyHeaderError, ProxyProtocolFactory, behindProxies, readHeader
from ._random import tokenHex
from ._repeats import RepeatedErrors
from ._repeats import stopAll as stopRepeatedErrors
from ._schema import Step, loadSteps, schemaVersion
from ._threads import LATER, Workers, background
from ._tls import (
    TLS12_CIPHERS,
    CertificateError,
    ServerTLSOptions,
    generateSelfSigned,
    loadServerOptions,
    withCipherPolicy,
)
from ._units import (
    formatDays,
    formatDelays,
    formatDuration,
    formatSize,
    numberWithin,
    parseDuration,
    parsePositiveDuration,
    parseSize,
)
from ._writethrough import (
    LISTEN_BACKLOG,
    WriteThroughPort,
    WriteThroughServer,
    listeningEndpoint,
    withBacklog,
    writeThrough,
)

try:
    from ._reactor import PromptEPollReactor, install, installUnlessChosen
except ImportError:  # no epoll (not Linux): the workers run Twisted's default reactor
    # The names stay, as None, for callers to test: mypy does not model that.
    PromptEPollReactor = install = None  # type: ignore[misc, assignment]

    def installUnlessChosen() -> None:
        """Without epoll: Twisted's default reactor, or the one twistd was told to use."""


__all__ = [
    "AUTH_FAILURES",
    "DATABASE_COMMIT_SECONDS",
    "LEASE_TAKEOVERS",
    "MESSAGES_ACCEPTED",
    "QUEUE_CLAIMS",
    "QUEUE_MESSAGES",
    "RECIPIENTS_BOUNCED",
    "RECIPIENTS_DEFERRED",
    "RECIPIENTS_DELIVERED",
    "RECIPIENTS_FAILED",
    "SMTP_CONNECTIONS",
    "TRACKING_UNRECORDED",
    "WEBHOOK_BACKLOG",
    "loginLabel",
    "formatDays",
    "formatDelays",
    "formatDuration",
    "formatSize",
    "parseDuration",
    "numberWithin",
    "parsePositiveDuration",
    "parseSize",
    "Step",
    "loadSteps",
    "schemaVersion",
    "GC_EVERY",
    "GC_YOUNG",
    "LATER",
    "LISTEN_BACKLOG",
    "TLS12_CIPHERS",
    "Address",
    "BatchWriter",
    "AddressPolicy",
    "CertificateError",
    "ConnectionsPerAddress",
    "DiskFull",
    "Network",
    "PromptEPollReactor",
    "installUnlessChosen",
    "ProxyHeaderError",
    "ProxyProtocolFactory",
    "RepeatedErrors",
    "ServerTLSOptions",
    "Workers",
    "WriteThroughPort",
    "WriteThroughServer",
    "background",
    "behindProxies",
    "clientKey",
    "classify",
    "damaged",
    "diskFull",
    "explain",
    "freezeStartup",
    "generateSelfSigned",
    "install",
    "isDamaged",
    "isFull",
    "listeningEndpoint",
    "loadServerOptions",
    "parseAddress",
    "parseNetwork",
    "readHeader",
    "recovery",
    "stopRepeatedErrors",
    "tokenHex",
    "withBacklog",
    "withCipherPolicy",
    "writeThrough",
    "DATABASE_ENVIRONMENT",
    "DATABASE_HELP",
    "NO_PSYCOPG",
    "nameConnections",
    "withConnectionDefaults",
    "PostgreSQL",
    "parseDatabase",
    "redacted",
    "checkHttpUrl",
    "checkPublicUrl",
    "dashboardUrls",
    "defaultPublicUrl",
    "metricsEndpoint",
    "tcpListener",
]
