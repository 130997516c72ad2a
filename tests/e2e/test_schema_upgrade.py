"""
End to end: a data directory made by the previous release (before schema
versions) is upgraded in place by the gateway's start: its logins are still
there, the schema is at the current version, and mail flows.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from smtpeter.store import CURRENT

from .conftest import connect

pytestmark = pytest.mark.e2e

PREVIOUS = Path(__file__).parent.parent / "fixtures" / "databases" / "previous.sqlite"


def test_the_previous_release_s_data_directory_is_upgraded_at_start(makeGateway, sink, tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(PREVIOUS, tmp_path / "data" / "smtpeter.sqlite")
    gateway = makeGateway(sink)
    gateway.waitForLog("upgraded the database")
    db = sqlite3.connect(tmp_path / "data" / "smtpeter.sqlite")
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone() == (CURRENT,)
    assert "shop  enabled  trackclicks  HOLDS its mail" in gateway.cli("login", "list").stdout

    password = gateway.createLogin("app")
    client = connect(gateway, implicit=False)
    client.login("app", password)
    client.mail("app@example.com")
    client.rcpt("reader@example.org")
    code, _ = client.data(b"Subject: after the upgrade\r\n\r\nhello\r\n")
    client.quit()
    assert code == 250
    [delivered] = sink.wait(1, timeout=10)
    assert b"Subject: after the upgrade" in delivered.data
