"""readOptions: the x-smtpeter-* headers read with the feature registry's grammar."""

from __future__ import annotations

import pytest

from smtpeter.features import FeatureSpec, installedSpecs
from smtpeter.message import Options
from smtpeter.smtp import SMTPRefusal
from smtpeter.smtp._options import readOptions


def read(*fields: str, features=()):
    return readOptions([f"{f}\r\n".encode() for f in fields], frozenset(features), "app")


def test_every_switch_refuses_maybe_naming_its_header():
    for header in ("X-Smtpeter-TrackOpens", "x-smtpeter-ignoresuppression", "X-Smtpeter-Images"):
        with pytest.raises(SMTPRefusal) as raised:
            read(f"{header}: maybe")
        text = str(raised.value.reply.text)
        assert raised.value.reply.code == 550 and header.lower() in text


def test_headers_switch_features_both_ways_and_are_kept_out():
    kept, options = read(
        "Subject: hi",
        "X-Smtpeter-TrackOpens: ON",
        "x-smtpeter-inlinecss: 0",
        features=["inlinecss"],
    )
    assert kept == [b"Subject: hi\r\n"] and options.features == {"trackopens"}


def test_hostedimages_is_also_its_own_header():
    _, options = read("x-smtpeter-hostedimages: yes")
    assert options.features == {"hostedimages"}
    _, options = read("x-smtpeter-images: default", features=["hostedimages"])
    assert options.features == frozenset()


def test_ignoresuppression_is_kept_as_read():
    _, options = read("X-Smtpeter-IgnoreSuppression: Yes")
    assert options.extra == {"ignoresuppression": "true"} and options.ignoresSuppression


def test_a_plugins_switch_is_read_with_the_same_grammar(monkeypatch):
    import smtpeter.smtp._options as module

    specs = (*installedSpecs(), FeatureSpec("footer"))
    monkeypatch.setattr(module, "installedSpecs", lambda: specs)
    _, options = read("X-Smtpeter-Footer: on")
    assert options.extra == {"footer": "true"} and options.features == frozenset()
    with pytest.raises(SMTPRefusal):
        read("X-Smtpeter-Footer: maybe")
    # An instruction no installed feature knows is kept as it is, for plugins.
    _, options = read("X-Smtpeter-Whatever: maybe")
    assert options.extra == {"whatever": "maybe"}


def test_unsubscribe_switch_and_mailto():
    kept, options = read(
        "Subject: hi",
        "X-Smtpeter-Unsubscribe: true",
        "X-Smtpeter-Unsubscribe-Mailto: <mailto:Leave+News@Example.com>",
    )
    assert kept == [b"Subject: hi\r\n"]
    assert options.features == {"unsubscribe"}
    assert options.extra == {"unsubscribe-mailto": "Leave+News@Example.com"}
    _, options = read("X-Smtpeter-Unsubscribe: no", features=["unsubscribe"])
    assert options.features == frozenset()


@pytest.mark.parametrize(
    "bad", ["", "nobody", "a b@example.com", "x@localhost", "x@example.com?subject=hi", "x%y@a.io"]
)
def test_a_bad_unsubscribe_mailto_is_refused_naming_the_header(bad):
    with pytest.raises(SMTPRefusal) as raised:
        read(f"X-Smtpeter-Unsubscribe-Mailto: {bad}")
    reply = raised.value.reply
    assert (reply.code, reply.enhanced) == (550, "5.6.0")
    assert "x-smtpeter-unsubscribe-mailto" in reply.text


def test_maxdelivertime_is_read_as_utc_and_kept_out():
    kept, options = read("Subject: hi", "X-Smtpeter-MaxDeliverTime: 2026-12-31 23:59:00")
    assert kept == [b"Subject: hi\r\n"]
    assert options.maxDeliverTime == 1798761540.0  # 2026-12-31T23:59:00Z
    assert options.extra == {}
    assert Options.fromJSON(options.toJSON()) == options
    for bad in ("tomorrow", "2026-12-31", "2026-13-01 00:00:00", "2026-12-31T23:59:00"):
        with pytest.raises(SMTPRefusal) as raised:
            read(f"X-Smtpeter-MaxDeliverTime: {bad}")
        assert "x-smtpeter-maxdelivertime" in raised.value.reply.text
