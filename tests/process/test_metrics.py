"""The --metrics option and the node's /metrics page."""

from __future__ import annotations

import os

import pytest
from prometheus_client import CollectorRegistry, Counter
from twisted.application.service import MultiService, Service
from twisted.web.test.requesthelper import DummyRequest

from smtpeter.config import Config, metricsEndpoint
from smtpeter.process import withMetrics
from smtpeter.process._holding import NodeHolder
from smtpeter.tap import Options


def test_a_bare_port_listens_on_loopback_only():
    assert metricsEndpoint("9464") == "tcp:9464:interface=127.0.0.1"
    assert metricsEndpoint("tcp:9464:interface=10.0.0.5") == "tcp:9464:interface=10.0.0.5"


def _config(*arguments: str) -> Config:
    options = Options()
    options.parseOptions(["--data", "/nonexistent/smtpeter", "--hostname", "gw.test", *arguments])
    return options.config


def test_the_option_is_off_unless_given():
    assert _config().metrics is None
    assert _config("--metrics", "9464").metrics == "tcp:9464:interface=127.0.0.1"


def test_a_bad_endpoint_is_one_line_saying_what_to_write():
    with pytest.raises(SystemExit) as raised:
        _config("--metrics", "nonsense:1")
    assert "--metrics 'nonsense:1' is not a valid endpoint" in str(raised.value)


def test_the_option_has_help():
    assert "Prometheus" in Options().__str__()


class _Node(NodeHolder, Service):
    """A node: a service that can refuse to start."""


def test_without_metrics_the_node_is_served_alone():
    node = _Node()
    assert withMetrics(_config(), node, None) is node
    both = withMetrics(_config("--metrics", "9464"), node, None)
    assert isinstance(both, MultiService)
    assert list(both)[0] is node  # it takes the data directory first


def test_the_page_is_the_text_format_of_the_workers_values(tmp_path, monkeypatch):
    from smtpeter.process._metrics import MetricsPage, forgetDeadWorkers

    registry = CollectorRegistry()
    Counter("smtpeter_test_things", "Things.", registry=registry).inc(3)
    page = MetricsPage(registry, None)
    request = DummyRequest([b"metrics"])
    body = page.render_GET(request)
    assert b"smtpeter_test_things_total 3.0" in body
    assert request.responseHeaders.getRawHeaders(b"content-type")[0].startswith(b"text/plain")
    # A dead worker's live gauge is dropped; a live one's (ours) is kept.
    dead = tmp_path / "gauge_livesum_999999999.db"
    live = tmp_path / f"gauge_livesum_{os.getpid()}.db"
    kept = tmp_path / "counter_999999999.db"
    for path in (dead, live, kept):
        path.write_bytes(b"")
    forgetDeadWorkers(tmp_path)
    assert not dead.exists() and live.exists() and kept.exists()


def test_an_endpoint_that_cannot_be_listened_on_is_one_line_saying_what_to_do():
    import errno

    from twisted.internet.error import CannotListenError

    from smtpeter.process._listeners import cannotListen

    inUse = CannotListenError("127.0.0.1", 9464, OSError(errno.EADDRINUSE, "Address in use"))
    assert str(cannotListen("--metrics", "tcp:9464", inUse)) == (
        "--metrics tcp:9464: its port is in use by another process; stop that, or give"
        " --metrics another port"
    )
    missing = OSError(errno.ENOENT, "No such file or directory", "4242")
    assert str(cannotListen("--metrics", "unix:/no/m.sock", missing)) == (
        "--metrics unix:/no/m.sock: cannot listen (No such file or directory); give --metrics"
        " an endpoint this gateway can listen on"
    )
