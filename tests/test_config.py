"""Each default is written once, on Config: the options and the objects read it there."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from smtpeter.config import Config, default
from smtpeter.runtime import (
    formatDays,
    formatDelays,
    formatDuration,
    formatSize,
    parseDuration,
    parseSize,
)
from smtpeter.tap import Options

#: Settings whose default is not Config's on purpose: the workers default to
#: the CPUs, the names and URLs to this host, the data directory to --data's.
FROM_ELSEWHERE = {"data", "hostname", "publicUrl", "bounceDomain", "workers", "node"}


@pytest.mark.parametrize(
    "duration, text",
    [
        (timedelta(days=5), "5d"),
        (timedelta(hours=4), "4h"),
        (timedelta(minutes=1), "1m"),
        (timedelta(seconds=30), "30s"),
        (timedelta(seconds=90), "90s"),
        (timedelta(seconds=0.5), "0.5s"),
        (timedelta(0), "0s"),
    ],
)
def test_a_duration_is_written_as_the_options_read_it(duration, text):
    assert formatDuration(duration) == text and parseDuration(text) == duration


@pytest.mark.parametrize(
    "size, text", [(50 * 1024**2, "50m"), (512 * 1024, "512k"), (1000, "1000")]
)
def test_a_size_is_written_as_the_options_read_it(size, text):
    assert formatSize(size) == text and parseSize(text) == size


def test_days_and_delays():
    assert formatDays(timedelta(days=30)) == "30" and formatDays(0.5) == "0.5"
    assert formatDelays((2.0, 4.0, 8.0, 15.0)) == "2,4,8,15"


def test_the_options_defaults_are_configs():
    options = Options()
    options.parseOptions([])
    parsed = options.config
    for name in attrs.fields_dict(Config):
        if name not in FROM_ELSEWHERE:
            assert getattr(parsed, name) == default(name), name


def test_the_objects_take_their_defaults_from_config():
    from smtpeter.delivery import Router
    from smtpeter.queue.manager import RetryPolicy
    from smtpeter.smtp import AuthThrottle
    from smtpeter.web import BoundedSite

    policy = RetryPolicy()
    assert (policy.initial, policy.maximum, policy.maxQueueTime, policy.delayWarning) == (
        default("retryInitial"),
        default("retryMax"),
        default("maxQueueTime"),
        default("delayWarning"),
    )
    assert AuthThrottle(clock=None).delays == default("authFailureDelays")
    assert Router(None).mxPort == default("mxPort") == 25
    assert BoundedSite.maxConnectionsPerAddress == default("httpMaxConnectionsPerAddress")
    assert BoundedSite.requestTimeout == default("httpRequestTimeout").total_seconds()
