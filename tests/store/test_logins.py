"""SMTP logins: the SQLite store, password hashing, and the ILoginStore contract."""

from __future__ import annotations

import base64
import hashlib

import pytest

from smtpeter.store import (
    LoginExists,
    LoginStore,
    NoSuchLogin,
    UnknownFeature,
    openDatabase,
)
from smtpeter.store._logins import LAST_USED_RESOLUTION
from smtpeter.store._passwords import (
    generatePassword,
    hashPassword,
    needsUpgrade,
    verifyPassword,
)


def test_passwords_are_random_and_only_hashed():
    a, b = generatePassword(), generatePassword()
    assert a != b and len(a) >= 32  # 24 random bytes, base64url
    stored = hashPassword(a)
    assert a not in stored and stored.startswith("hs256$")
    assert stored != hashPassword(a)  # salted
    assert verifyPassword(a, stored)
    assert not verifyPassword(b, stored)
    assert not needsUpgrade(stored)
    for garbled in ("garbage", "hs256$", "hs256$!!$!!", stored[:-8], "scrypt$x$8$1$AA==$AA=="):
        assert not verifyPassword(a, garbled)


# Made by hashlib.scrypt(b"old-password", salt=b"0123456789abcdef", n=2**14, r=8, p=1,
# dklen=32), the shape earlier versions stored.
OLD_SCRYPT = "scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + (
    base64.b64encode(
        hashlib.scrypt(b"old-password", salt=b"0123456789abcdef", n=2**14, r=8, p=1, dklen=32)
    ).decode()
)


def test_scrypt_hashes_still_verify_and_are_upgraded_at_the_next_success(store):
    assert verifyPassword("old-password", OLD_SCRYPT) and needsUpgrade(OLD_SCRYPT)
    assert not verifyPassword("other", OLD_SCRYPT)
    store.create("old", [])
    store._db.execute("UPDATE logins SET password_hash = ? WHERE name = 'old'", (OLD_SCRYPT,))
    assert store.authenticate("old", "wrong") is None
    assert store.get("old").passwordHash == OLD_SCRYPT  # a failure changes nothing
    assert store.authenticate("old", "old-password").name == "old"
    upgraded = store.get("old").passwordHash
    assert upgraded.startswith("hs256$") and verifyPassword("old-password", upgraded)
    assert store.authenticate("old", "old-password") is not None
    assert store.authenticate("old", "wrong") is None


def test_last_used_is_written_at_most_once_a_minute(database):
    now = [1000.0]
    store = LoginStore(openDatabase(database), clock=lambda: now[0])
    _, password = store.create("app", [])
    store.authenticate("app", password)
    assert store.get("app").lastUsed == 1000.0
    now[0] += LAST_USED_RESOLUTION - 1
    store.authenticate("app", password)
    assert store.get("app").lastUsed == 1000.0
    now[0] += 1
    store.authenticate("app", password)
    assert store.get("app").lastUsed == 1000.0 + LAST_USED_RESOLUTION


def test_a_failing_last_used_write_does_not_decide_auth(tmp_path):
    store = LoginStore(openDatabase(tmp_path / "db.sqlite"))
    _, password = store.create("app", [])
    # A trigger makes every write of last_used fail, as a full disk would.
    store._db.execute(
        "CREATE TRIGGER nope BEFORE UPDATE OF last_used ON logins"
        " BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END"
    )
    assert store.authenticate("app", password).name == "app"
    assert store.authenticate("app", "wrong") is None


@pytest.fixture
def store(database):
    return LoginStore(openDatabase(database))


def test_create_list_update(store):
    record, password = store.create("app", ["trackclicks", "inlinecss"])
    assert record.features == {"trackclicks", "inlinecss"}
    [listed] = store.list()
    assert listed.name == "app" and listed.enabled and listed.lastUsed is None
    assert password not in repr(listed) and listed.passwordHash not in repr(listed)
    assert store.update("app", enable=["trackopens"], disable=["inlinecss"]).features == {
        "trackclicks",
        "trackopens",
    }
    assert store.get("app").features == {"trackclicks", "trackopens"}


def test_errors_say_what_to_do(store):
    store.create("app", [])
    with pytest.raises(LoginExists):
        store.create("app", [])
    with pytest.raises(UnknownFeature) as error:
        store.create("other", ["clicktracking"])
    assert "trackclicks" in str(error.value)  # lists the valid ones
    with pytest.raises(NoSuchLogin):
        store.delete("nobody")
    with pytest.raises(ValueError):
        store.create("has space", [])


def test_authenticate(store):
    _, password = store.create("app", [])
    assert store.authenticate("app", password).name == "app"
    assert store.get("app").lastUsed is not None
    assert store.authenticate("app", "wrong") is None
    assert store.authenticate("nobody", password) is None
    store.setEnabled("app", False)
    assert store.authenticate("app", password) is None
    store.setEnabled("app", True)
    _, newPassword = store.resetPassword("app")
    assert store.authenticate("app", password) is None
    assert store.authenticate("app", newPassword) is not None


def test_a_second_connection_sees_changes_at_once(database):
    cli = LoginStore(openDatabase(database))
    gateway = LoginStore(openDatabase(database))
    _, password = cli.create("app", [])
    assert gateway.authenticate("app", password) is not None
    cli.setEnabled("app", False)
    assert gateway.authenticate("app", password) is None
