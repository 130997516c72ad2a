"""
End to end: the data directory belongs to one gateway. A second gateway
on it refuses to start, naming the directory and the process that holds
it, while the C{smtpeter} command keeps working beside the first; a
damaged database at start is one line saying what to do; and a gateway
that refuses to start leaves no C{twistd.pid} behind.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..conftest import BIN, freePort
from .conftest import connect

pytestmark = pytest.mark.e2e


def startRefused(
    cwd: Path, data: Path, *extra: str, daemon: bool = False
) -> subprocess.CompletedProcess:
    """Run a gateway expected to refuse to start (twistd's default pid file, in C{cwd})."""
    twistd = [str(BIN / "twistd")] if daemon else [str(BIN / "twistd"), "-n"]
    result = subprocess.run(
        [*twistd, "smtpeter", "--data", str(data), "--hostname", "gw.test"]
        + ["--smtp", f"tcp:{freePort()}:interface=127.0.0.1"]
        + ["--smtps", f"tcp:{freePort()}:interface=127.0.0.1"]
        + ["--http", f"tcp:{freePort()}:interface=127.0.0.1", "--dashboard", "none", *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert not (cwd / "twistd.pid").exists(), "a refused start left twistd.pid behind"
    return result


def oneLine(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smtpeter: cannot start: "), result.stderr
    return lines[0]


def test_a_second_gateway_on_the_same_data_directory_refuses_and_the_cli_works(
    makeGateway, sink, tmp_path
):
    first = makeGateway(sink)
    other = tmp_path / "elsewhere"
    other.mkdir()
    for workers in ("2", "1"):
        line = oneLine(startRefused(other, first.data, "--workers", workers))
        assert str(first.data.resolve()) in line, line
        assert f"pid {first.process.pid}" in line, line
    # The workers hold the same lock (the parent's descriptor), never one of their own.
    lock = first.data / "smtpeter.lock"
    for pid in first.workerPids():
        held = [fd for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.resolve() == lock]
        assert len(held) == 1, pid
    assert lock.read_text().strip() == str(first.process.pid)
    # The administration command is no gateway: it works beside the running one.
    password = first.createLogin("app")
    assert "app" in first.cli("login", "list").stdout
    # And the first gateway still serves alone.
    client = connect(first, implicit=False)
    client.login("app", password)
    client.sendmail("a@example.com", ["b@example.org"], b"Subject: one\r\n\r\nx\r\n")
    client.quit()
    assert len(sink.wait(1)) == 1


def test_a_daemon_refused_says_why_and_exits_rather_than_wait_for_ever(makeGateway, sink, tmp_path):
    first = makeGateway(sink, "--workers", "1")
    other = tmp_path / "elsewhere"
    other.mkdir()
    for workers in ("1", "2"):
        # twistd's first process prints what the daemon told it (its first 98 bytes).
        result = startRefused(other, first.data, "--workers", workers, daemon=True)
        assert "smtpeter: cannot start: " in result.stderr, result.stderr
        assert str(first.data.resolve())[:40] in result.stderr, result.stderr


def test_the_directory_is_free_again_once_the_gateway_stopped(makeGateway, sink):
    first = makeGateway(sink, "--workers", "1")
    first.stop()
    again = makeGateway(sink, "--workers", "1")  # the same data directory
    assert again.process.poll() is None


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_damaged_database_at_start_is_one_line_saying_what_to_do(tmp_path, workers):
    data = tmp_path / "data"
    subprocess.run([str(BIN / "smtpeter"), "--data", str(data), "init"], check=True)
    database = data / "smtpeter.sqlite"
    assert database.stat().st_size > 5000
    subprocess.run(["truncate", "-s", "5000", str(database)], check=True)
    line = oneLine(startRefused(tmp_path, data, "--workers", workers))
    assert f"{database} is damaged" in line, line
    assert "restore it from a backup" in line and f"sqlite3 {database} .recover" in line, line


def test_a_damaged_spool_at_start_is_one_line_saying_what_to_do(tmp_path):
    data = tmp_path / "data"
    subprocess.run([str(BIN / "smtpeter"), "--data", str(data), "init"], check=True)
    spool = data / "spool" / "spool.db"
    spool.parent.mkdir()
    spool.write_bytes(b"\x01" * 8192)
    line = oneLine(startRefused(tmp_path, data, "--workers", "1"))
    assert f"{spool} is damaged" in line and "[Errno" not in line, line


def test_workers_that_cannot_start_leave_no_pid_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "spool-2").write_text("not a directory")  # worker 2 fails, after the parent started
    line = oneLine(startRefused(tmp_path, data, "--workers", "2"))
    assert "spool-2" in line
