"""The dashboard's users (smtpeter.store._admins): deletion and resets end sessions."""

from __future__ import annotations

import threading

import pytest

from smtpeter.store import Missing, openDatabase
from smtpeter.store._admins import AdminStore
from smtpeter.store._dashboardsessions import DashboardSessionStore


def test_of_twenty_threads_deleting_one_user_exactly_one_succeeds(database):
    path = database
    AdminStore(openDatabase(path)).create("boss")
    stores = [AdminStore(openDatabase(path)) for _ in range(20)]
    start, outcomes = threading.Barrier(20), []

    def delete(store):
        start.wait()
        try:
            store.delete("boss")
            outcomes.append("deleted")
        except Missing as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=delete, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["deleted"] + ["no dashboard user named 'boss'"] * 19


@pytest.mark.parametrize("change", ["delete", "resetPassword"])
def test_deleting_a_user_or_resetting_its_password_ends_its_sessions(database, change):
    db = openDatabase(database)
    admins, sessions = AdminStore(db), DashboardSessionStore(db)
    admins.create("boss")
    admins.create("other")
    sessions.start("a", "boss", 2000.0, 1000.0)
    sessions.start("b", "boss", 2000.0, 1000.0)
    sessions.start("c", "other", 2000.0, 1000.0)
    getattr(admins, change)("boss")
    assert [sessions.live(id, 1001.0) for id in "abc"] == [False, False, True]
    with pytest.raises(Missing):
        getattr(admins, change)("nobody")
