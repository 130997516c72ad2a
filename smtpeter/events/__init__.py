"""
What happened to each recipient: attempts, deliveries, failures, bounces,
clicks, opens, and warnings; and where webhooks may take them
(L{Destinations}, L{webhookAgent}) and how (L{WebhookDispatcher}).

It imports nothing of L{smtpeter.store}, which keeps these events and
webhooks (L{Webhook}, L{Delivery}) and imports this package.
"""

from ._bouncereasons import ADDRESS_GONE, COMPLAINT, HARD
from ._bounces import forwarding, readBounce
from ._classify import reasonFor
from ._counting import CountingSink
from ._destinations import Destinations, RefusedDestination, parseNetwork
from ._sinks import (
    ATTEMPT,
    DEFERRAL,
    DELIVERY,
    FAILURE,
    WARNING,
    Event,
    FanOut,
    LogEventSink,
    MemoryEventSink,
    attempts,
    storedOutcome,
)
from ._webhookagent import webhookAgent
from ._webhooks import TEST_TIMEOUT, WebhookDispatcher, sendTest
from ._webhookvalues import Delivery, Webhook
from .interfaces import IEventSink

__all__ = [
    "ADDRESS_GONE",
    "ATTEMPT",
    "COMPLAINT",
    "DEFERRAL",
    "DELIVERY",
    "Delivery",
    "Destinations",
    "FAILURE",
    "HARD",
    "TEST_TIMEOUT",
    "WARNING",
    "CountingSink",
    "Event",
    "FanOut",
    "IEventSink",
    "LogEventSink",
    "MemoryEventSink",
    "RefusedDestination",
    "Webhook",
    "WebhookDispatcher",
    "attempts",
    "forwarding",
    "parseNetwork",
    "readBounce",
    "reasonFor",
    "sendTest",
    "storedOutcome",
    "webhookAgent",
]
