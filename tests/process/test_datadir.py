"""The data directory's lock and a refused start's clean-up (smtpeter.process._datadir)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from smtpeter.config import LOCK_FILE
from smtpeter.process._datadir import (
    DataDirectoryLock,
    StartError,
    whyNotStarted,
)
from smtpeter.process._twistd import TwistdRun
from smtpeter.runtime import DiskFull, explain, isDamaged, isFull

HOLD = """
import sys
from pathlib import Path
from smtpeter.process._datadir import DataDirectoryLock
DataDirectoryLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()  # held until the test lets go
"""


def test_a_second_lock_names_the_directory_and_the_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "d")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StartError) as refused:
            DataDirectoryLock.acquire(tmp_path / "d")
        assert str((tmp_path / "d").resolve()) in str(refused.value)
        assert f"pid {holder.pid}" in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    # The kernel let go of it with the process: the directory is free again.
    lock = DataDirectoryLock.acquire(tmp_path / "d")
    assert (tmp_path / "d" / LOCK_FILE).read_text().strip() == str(os.getpid())
    lock.release()
    DataDirectoryLock.acquire(tmp_path / "d").release()


def test_the_pid_file_goes_only_if_it_names_this_process(tmp_path):
    mine, theirs = tmp_path / "mine.pid", tmp_path / "theirs.pid"
    mine.write_text(f"{os.getpid()}\n")
    theirs.write_text("1\n")
    TwistdRun({"pidfile": str(mine)}).forgetPidfile()
    TwistdRun({"pidfile": str(theirs)}).forgetPidfile()
    TwistdRun({"pidfile": ""}).forgetPidfile()
    TwistdRun(None).forgetPidfile()
    TwistdRun({"pidfile": str(tmp_path / "absent.pid")}).forgetPidfile()
    assert not mine.exists() and theirs.exists()


def test_a_daemons_first_process_is_told_why_and_the_pipe_closed(tmp_path):
    r, w = os.pipe()
    config = {"pidfile": "", "statusPipe": w}
    TwistdRun(config).refused("x" * 300)
    told = os.read(r, 1000)
    assert told.startswith(b"1 smtpeter: cannot start: xxx") and len(told) == 100
    assert os.read(r, 10) == b""  # closed: the reader is not left waiting
    assert config["statusPipe"] is None
    os.close(r)


def test_errors_are_explained_in_one_line(tmp_path):
    damaged = tmp_path / "x.sqlite"
    damaged.write_bytes(b"\x01" * 4096)
    with pytest.raises(sqlite3.DatabaseError) as e:
        sqlite3.connect(damaged).execute("SELECT * FROM sqlite_master").fetchall()
    assert isDamaged(e.value) and not isFull(e.value)
    assert explain(damaged, e.value).startswith(f"{damaged} is damaged")
    assert isFull(OSError(28, "No space left on device"))
    assert isFull(DiskFull(tmp_path)) and str(tmp_path) in str(DiskFull(tmp_path))
    assert whyNotStarted(OSError(5, "it broke")) == "it broke"
    assert whyNotStarted(OSError(2, "No such file", "/x")) == "/x: No such file"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bug_at_start_is_one_line_an_exit_and_the_directory_let_go(tmp_path, capfd, workers):
    """Not a node left running without listeners: the start is refused, the lock released."""
    from twisted.internet.task import Clock

    from smtpeter.process import GatewayService, Supervisor
    from smtpeter.tap import Options, makeService

    options = Options()
    options.parseOptions(["--workers", workers, "--data", str(tmp_path / "d")])
    service = makeService(options)
    service.reactor = Clock()  # nothing listens: the bug comes first
    broken = "_open" if isinstance(service, GatewayService) else "_holdAndListen"
    assert isinstance(service, GatewayService | Supervisor)

    def bug(*args):
        service.holdNode(service.config)
        raise KeyError("worker")

    setattr(service, broken, bug)
    with pytest.raises(SystemExit) as exited:
        service.privilegedStartService()
    assert exited.value.code == 1
    said = capfd.readouterr().err
    assert "smtpeter: cannot start: KeyError: 'worker' (a bug: the log has its traceback)" in said
    assert service.dataLock is None
    DataDirectoryLock.acquire(tmp_path / "d").release()  # free for the next start
