"""`twistd smtpeter` options: defaults, errors a user can act on, help for every option."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from twisted.python.usage import UsageError

from smtpeter.config import makeConfig, parseDuration
from smtpeter.runtime import generateSelfSigned
from smtpeter.tap import Options

TWISTD = str(Path(sys.executable).parent / "twistd")


def config(*args):
    options = Options()
    options.parseArgs = lambda *a: None
    options.parseOptions(list(args))
    return options.config


def refused(args: list[str]) -> str:
    """What twistd smtpeter says of C{args} as it refuses them (one line, exit status)."""
    with pytest.raises(SystemExit) as error:
        Options().parseOptions(args)
    return str(error.value)


def test_defaults():
    c = config()
    assert c.smtp == ("tcp:2525",) and c.smtps == ("tcp:4650",)
    assert c.data == Path("./smtpeter-data") and c.relay is None
    assert c.maxSize == 50 * 1024 * 1024 and c.maxQueueTime == timedelta(days=5)


def test_workers_default_to_the_cpus_and_one_is_a_single_process():
    import os

    from smtpeter.process import GatewayService, Supervisor
    from smtpeter.tap import makeService

    assert config().workers == len(os.sched_getaffinity(0))
    assert config("--workers", "3").workers == 3
    for workers, kind in (("1", GatewayService), ("2", Supervisor)):
        options = Options()
        options.parseOptions(["--workers", workers, "--data", "/nonexistent/never-made"])
        assert isinstance(makeService(options), kind)  # opens nothing until started
        assert options.arguments == ["--workers", workers, "--data", "/nonexistent/never-made"]


@pytest.mark.parametrize(
    "twistd, text",
    [
        (["-n"], True),
        (["--nodaemon", "--logfile", "-"], True),
        ([], False),  # a daemon logs to twistd.log, which twistd rotates
        (["-n", "--logfile", "gateway.log"], False),
        (["-n", "--syslog"], False),
        (["-n", "--logger", "smtpeter.logging.json"], False),
    ],
)
def test_workers_write_their_own_lines_only_where_twistd_writes_text_to_standard_output(
    twistd, text
):
    from twisted.scripts.twistd import ServerOptions

    from smtpeter.tap import makeService

    options = ServerOptions()
    options.parseOptions(
        [*twistd, "smtpeter", "--workers", "2", "--data", "/nonexistent/never-made"]
    )
    assert makeService(options.subOptions).textOutput is text


def test_repeatable_listeners_and_relay():
    c = config(
        "--smtp",
        "tcp:25",
        "--smtp",
        "tcp:587",
        "--smtps",
        "tcp:465",
        "--relay",
        "smtp.example.com:587",
        "--relay-user",
        "u",
        "--relay-password",
        "hunter2",
        "--relay-tls",
        "verify",
        "--max-size",
        "10m",
        "--max-queue-time",
        "2d",
    )
    assert c.smtp == ("tcp:25", "tcp:587") and c.smtps == ("tcp:465",)
    assert (c.relay.host, c.relay.port, c.relay.user, c.relay.tls) == (
        "smtp.example.com",
        587,
        "u",
        "verify",
    )
    assert c.relay.password == "hunter2" and "hunter2" not in repr(c)
    assert c.maxSize == 10 * 1024 * 1024 and c.maxQueueTime == timedelta(days=2)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--relay", "nohost"], "HOST:PORT"),
        (["--relay", "a:1", "--relay-tls", "always"], "none, opportunistic or verify"),
        (["--relay-user", "u"], "needs --relay"),
        (["--max-queue-time", "soon"], "duration like"),
        (["--max-size", "big"], "size like"),
        (["--smtp", "nonsense:1"], "not a valid endpoint"),
        (
            ["--smtp", "tcp:2525", "--smtps", "tcp:2525"],
            "--smtps 'tcp:2525': already given to --smtp",
        ),
        (["--mx", "tcp:port=2526", "--mx", "tcp:port=2526"], "an endpoint of its own"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "cannot read"),
        (["--tls-cert", "/x.pem"], "go together"),
        (["--workers", "0"], "whole number from 1 to 64"),
        (["--track-limit", "-1"], "--track-limit: a whole number, or 0 for no limit"),
        (["--track-limit", "1_0"], "--track-limit: a whole number, or 0 for no limit"),
        (["--max-recipients", "+5"], "--max-recipients: a whole number, 1 or more"),
        # Not a traceback from a date's overflow at start (or an hour later, at the purge):
        (["--retention", "inf"], "--retention: a number of days"),
        (["--keep-sent", "nan"], "--keep-sent: a number of days"),
        (["--hold-days", "1e9"], "--hold-days: a number of days"),
        (["--max-queue-time", "99999999999d"], "longer than any duration"),
        (["--workers", "two"], "whole number from 1 to 64"),
        # Twisted takes these ports; only the socket's bind refused them, with a traceback.
        (["--smtp", "tcp:99999"], "--smtp 'tcp:99999': 99999 is not a port; ports go up to 65535"),
        (["--http", "tcp:port=70000"], "70000 is not a port"),
        (["--dashboard", "ssl:70000:privateKey=k.pem"], "70000 is not a port"),
        (["--metrics", "99999"], "--metrics 'tcp:99999:interface=127.0.0.1': 99999 is not a port"),
        # Values that were taken and made the gateway useless or busy for nothing.
        (["--mx-port", "0"], "--mx-port: a port number, 1 to 65535"),
        (["--mx-port", "70000"], "--mx-port: a port number, 1 to 65535"),
        (["--max-recipients", "0"], "--max-recipients: a whole number, 1 or more"),
        (["--max-connections-per-ip", "0"], "--max-connections-per-ip: a whole number, 1 or more"),
        (["--idle-timeout", "0"], "--idle-timeout: '0': give a duration above zero"),
        (["--handshake-timeout", "0s"], "--handshake-timeout: '0s': give a duration above zero"),
        (["--retry-initial", "0"], "--retry-initial: '0': give a duration above zero"),
        (["--retry-max", "0m"], "--retry-max: '0m': give a duration above zero"),
        (["--webhook-retry", "0"], "--webhook-retry: '0': give a duration above zero"),
        (["--relay-password", "p"], "--relay-password needs --relay HOST:PORT"),
        (["--hostname", "bad host"], "--hostname 'bad host': write a host name"),
    ],
)
def test_bad_options_say_what_to_do(args, says):
    assert says in refused(args)
    with pytest.raises(UsageError):
        makeConfig(_parsedOnly(args))


def _parsedOnly(args):
    options = Options()
    options.postOptions = lambda: None
    options.parseOptions(args)
    return options


def test_mismatched_key_is_refused(tmp_path):
    generateSelfSigned("a.test", tmp_path / "a.pem", tmp_path / "a.key")
    generateSelfSigned("b.test", tmp_path / "b.pem", tmp_path / "b.key")
    error = refused(["--tls-cert", str(tmp_path / "a.pem"), "--tls-key", str(tmp_path / "b.key")])
    assert "does not belong" in error


def test_durations():
    assert parseDuration("90") == timedelta(seconds=90)
    assert parseDuration("15m") == timedelta(minutes=15)
    assert parseDuration("0.5s") == timedelta(seconds=0.5)


def test_twistd_help_lists_every_option():
    out = subprocess.run([TWISTD, "smtpeter", "--help"], capture_output=True, text=True).stdout
    options = [(name, text) for name, _, _, text in Options.optParameters]
    options += [
        (name[4:], getattr(Options, name).__doc__)
        for name in dir(Options)
        if name.startswith("opt_") and name[4:] in ("smtp", "smtps", "http")
    ]
    assert len(options) > 20
    for name, text in options:
        assert f"--{name}=" in out, name
        assert text and len(text) > 20, f"--{name} needs a real help text"


def test_twistd_bad_option_is_one_line_and_exit_1(tmp_path):
    result = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "smtpeter", "--relay", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "twistd smtpeter: --relay 'x': write HOST:PORT, e.g. smtp.example.com:587"
        " (see: twistd smtpeter --help)"
    ]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["-n"], "-n is an option of twistd itself: give it before smtpeter: twistd -n smtpeter"),
        (
            ["--data", "d", "--pidfile=", "--workers", "1"],
            "give it before smtpeter: twistd --pidfile= smtpeter --data d --workers 1",
        ),
        (["--logfile", "/tmp/l"], "twistd --logfile /tmp/l smtpeter"),
        (["-nl", "/tmp/l"], "-n is an option of twistd itself: give it before smtpeter"),
        (["--bogus"], "twistd smtpeter: option --bogus not recognized (see:"),
    ],
)
def test_twistds_own_option_after_smtpeter_says_where_it_goes(args, says):
    assert says in refused(args)


def test_twistd_unknown_option_is_one_line_not_the_help(tmp_path):
    result = subprocess.run(
        [TWISTD, "-n", "--pidfile=", "smtpeter", "--smtps", "ssl:3465", "--bogus"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "twistd smtpeter: option --bogus not recognized (see: twistd smtpeter --help)"
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("workers", ["1", "2"])  # one process, and a supervisor
def test_port_in_use_is_one_line_saying_what_to_do_and_exit_1(tmp_path, workers):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                TWISTD,
                "-n",
                "--pidfile=",
                "smtpeter",
                "--data",
                str(tmp_path / "d"),
                "--smtp",
                f"tcp:{port}:interface=127.0.0.1",
                "--smtps",
                "tcp:0",
                "--workers",
                workers,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=30,
        )
    assert result.returncode == 1
    assert (
        f"smtpeter: cannot start: --smtp tcp:{port}:interface=127.0.0.1: its port is in use"
        " by another process; stop that, or give --smtp another port"
    ) in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_host_name_may_end_with_a_dot():
    assert config("--hostname", "mail.example.com.").hostname == "mail.example.com."


def test_public_url_and_bounce_domain():
    c = config("--hostname", "gw.example.com")
    assert c.publicUrl == "http://gw.example.com:8080"
    assert c.bounceDomain == "gw.example.com"
    c = config("--public-url", "https://click.example.com/", "--bounce-domain", "B.example.com")
    assert c.publicUrl == "https://click.example.com"
    assert c.bounceDomain == "b.example.com"


@pytest.mark.parametrize(
    "http, url",
    [
        (["tcp:9090"], "http://gw.example.com:9090"),
        # An interface is where the socket binds, not the name readers reach it by.
        (["tcp:9090:interface=127.0.0.1", "tcp:8085"], "http://gw.example.com:9090"),
        (["tcp:port=80:interface=0.0.0.0"], "http://gw.example.com"),
        (["tcp6:port=9091:interface=\\:\\:"], "http://gw.example.com:9091"),
        (["unix:/run/smtpeter.sock"], "http://gw.example.com:8080"),
    ],
)
def test_the_default_public_url_follows_the_first_http_listener(http, url):
    args = ["--hostname", "gw.example.com"]
    for description in http:
        args += ["--http", description]
    assert config(*args).publicUrl == url
    assert config(*args, "--public-url", "https://click.example.com").publicUrl == (
        "https://click.example.com"
    )


def test_an_https_listener_gives_an_https_public_url(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    generateSelfSigned("gw.example.com", cert, key)
    for port, url in (("8443", "https://gw.example.com:8443"), ("443", "https://gw.example.com")):
        made = config(
            "--hostname", "gw.example.com", "--http", f"ssl:{port}:privateKey={key}:certKey={cert}"
        )
        assert made.publicUrl == url


@pytest.mark.parametrize(
    "args, says",
    [
        (["--public-url", "click.example.com"], "http:// or https://"),
        (["--public-url", "https://x.example/?a=1"], "no query"),
        (["--bounce-domain", "not a domain"], "domain name"),
    ],
)
def test_bad_feature_options(args, says):
    assert says in refused(args)


def test_web_mx_retention_and_webhook_options():
    c = config()
    assert c.http == ("tcp:8080",) and c.mx == () and c.retention == timedelta(days=30)
    assert c.webhookRetry == timedelta(seconds=30) and c.webhookGiveUp == timedelta(days=1)
    c = config(
        "--http",
        "tcp:80",
        "--http",
        "tcp:8081",
        "--mx",
        "tcp:25",
        "--mx-port",
        "2525",
        "--retention",
        "7",
        "--webhook-retry",
        "5s",
        "--webhook-give-up",
        "2h",
    )
    assert c.http == ("tcp:80", "tcp:8081") and c.mx == ("tcp:25",) and c.mxPort == 2525
    assert c.retention == timedelta(days=7)
    assert (c.webhookRetry, c.webhookGiveUp) == (timedelta(seconds=5), timedelta(hours=2))


def test_http_limits():
    c = config()
    assert c.httpMaxConnectionsPerAddress == 50
    assert c.httpRequestTimeout == timedelta(seconds=30)
    c = config("--http-max-connections-per-ip", "3", "--http-request-timeout", "2s")
    assert c.httpMaxConnectionsPerAddress == 3
    assert c.httpRequestTimeout == timedelta(seconds=2)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--retention", "0"], "--retention: a number of days"),
        (["--retention", "soon"], "--retention: a number of days"),
        (["--mx", "nonsense:25"], "--mx 'nonsense:25' is not a valid endpoint"),
        (["--webhook-retry", "often"], "--webhook-retry"),
        (["--smtps", "ssl:3465"], "give a plain endpoint such as tcp:3465; the gateway does TLS"),
        (["--smtp", "tls:587"], "give a plain endpoint such as tcp:587"),
        (["--http", "ssl:8443"], "is not a valid endpoint ([Errno 2] No such file"),
        (["--idle-timeout"], "option --idle-timeout requires argument"),
        (["--http-max-connections-per-ip", "0"], "--http-max-connections-per-ip: a whole"),
        (["--http-request-timeout", "soon"], "--http-request-timeout"),
        (["--bogus"], "option --bogus not recognized (see: twistd smtpeter --help)"),
    ],
)
def test_bad_web_options(args, says):
    assert says in refused(args)


def test_the_dashboard_listens_on_this_machine_unless_told():
    assert config().dashboard == ("tcp:8081:interface=127.0.0.1",)
    assert config("--dashboard", "tcp:9000", "--dashboard", "tcp:9001").dashboard == (
        "tcp:9000",
        "tcp:9001",
    )
    assert config("--dashboard", "none").dashboard == ()
    error = refused(["--dashboard", "none", "--dashboard", "tcp:9000"])
    assert "--dashboard none: give either none or endpoints, not both" in error
    error = refused(["--dashboard", "tcp:notaport"])
    assert "--dashboard 'tcp:notaport' is not a valid endpoint" in error


def test_webhook_allow_network_is_repeatable_and_checked():
    assert config().webhookAllowNetworks == ()
    c = config("--webhook-allow-network", "127.0.0.0/8", "--webhook-allow-network", "fd00::/8")
    assert [str(n) for n in c.webhookAllowNetworks] == ["127.0.0.0/8", "fd00::/8"]
    error = refused(["--webhook-allow-network", "10.0.0.1/8"])
    assert "--webhook-allow-network '10.0.0.1/8': " in error
    assert "such as 10.0.0.0/8" in error
    assert "--webhook-allow-network" in str(Options())


def test_delivery_allow_network_is_repeatable_and_checked():
    assert config().deliveryAllowNetworks == ()
    c = config("--delivery-allow-network", "127.0.0.0/8", "--delivery-allow-network", "[fd00::]/8")
    assert [str(n) for n in c.deliveryAllowNetworks] == ["127.0.0.0/8", "fd00::/8"]
    error = refused(["--delivery-allow-network", "internal"])
    assert "--delivery-allow-network 'internal': " in error
    assert "such as 10.0.0.0/8" in error
    assert "--delivery-allow-network" in str(Options())


def test_proxy_protocol_is_repeatable_and_checked():
    assert config().proxyNetworks == ()
    c = config("--proxy-protocol", "10.0.0.0/8", "--proxy-protocol", "[2001:db8::7]")
    assert [str(n) for n in c.proxyNetworks] == ["10.0.0.0/8", "2001:db8::7/128"]
    error = refused(["--proxy-protocol", "haproxy.internal"])
    assert error.startswith("twistd smtpeter: --proxy-protocol 'haproxy.internal': ")
    assert "such as 10.0.0.0/8" in error
    assert "\n" not in error
    assert "--proxy-protocol" in str(Options())


def test_a_port_the_system_picks_may_be_given_to_several_listeners():
    config = makeConfig(_parsedOnly(["--smtp", "tcp:0", "--smtps", "tcp:0", "--http", "tcp:0"]))
    assert (config.smtp, config.smtps, config.http) == (("tcp:0",),) * 3
