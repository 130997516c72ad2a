"""
Debian's HAProxy in front of gateways, with a generated configuration
(L{HAProxy}), for the tests and the benchmarks. Used through
L{smtpeter.testing}.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def anyFreePort() -> int:
    """A port on 127.0.0.1 that the kernel says is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HAProxy:
    """
    Debian's haproxy in TCP mode, in the foreground, with a generated
    configuration in C{directory}: one frontend on a free port of 127.0.0.1
    per backend (C{freePort} picks it), and a stats socket (L{servers}).
    Its output goes to C{haproxy.log} there; C{process.pid} is its one
    process (its threads' CPU included).
    """

    def __init__(self, directory: Path, freePort: Callable[[], int] = anyFreePort) -> None:
        self.directory = directory
        self.freePort = freePort
        self.process: subprocess.Popen | None = None
        #: Each backend's frontend port.
        self.ports: dict[str, int] = {}
        self.log = directory / "haproxy.log"

    @staticmethod
    def binary() -> str | None:
        """Debian's haproxy (in /usr/sbin, which a non-root C{PATH} may lack), if installed."""
        found = shutil.which("haproxy")
        if found is None and Path("/usr/sbin/haproxy").exists():
            found = "/usr/sbin/haproxy"
        return found

    def start(
        self,
        backends: dict[str, list[str]],
        settings: Sequence[str] = (),
        timeout: float = 20.0,
        mode: str = "tcp",
    ) -> HAProxy:
        """
        Start with C{backends}: each a name and the lines of its section;
        C{settings}, more lines for the C{global} section (C{maxconn 4096},
        say); C{mode}, every proxy's (C{http}: a reverse proxy). Returns
        once every frontend takes connections.
        """
        binary = self.binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed: apt-get install haproxy")
        self.directory.mkdir(parents=True, exist_ok=True)
        config = [
            "global",
            f"    stats socket {self.directory / 'stats.sock'} mode 600 level admin",
            *(f"    {line}" for line in settings),
            "defaults",
            f"    mode {mode}",
            "    timeout connect 5s",
            "    timeout client 1m",
            "    timeout server 1m",
        ]
        for name, lines in backends.items():
            self.ports[name] = self.freePort()
            config += [
                f"frontend {name}",
                f"    bind 127.0.0.1:{self.ports[name]}",
                f"    default_backend {name}",
                f"backend {name}",
                *(f"    {line}" for line in lines),
            ]
        path = self.directory / "haproxy.cfg"
        path.write_text("\n".join(config) + "\n")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT
            )
        for port in self.ports.values():
            self._waitFor(port, timeout)
        return self

    def _waitFor(self, port: int, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"haproxy exited with {self.process.returncode} (see {self.log})"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"haproxy not listening on {port} (see {self.log})")

    def servers(self) -> dict[str, dict[str, str]]:
        """Each server's statistics (C{status}, C{check_status}...) by C{backend/server}."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.directory / "stats.sock"))
            s.sendall(b"show stat\n")
            text = b"".join(iter(lambda: s.recv(65536), b"")).decode()
        header, *lines = [line.split(",") for line in text.splitlines() if line]
        names = [name.strip("# ") for name in header]
        rows = [dict(zip(names, line, strict=False)) for line in lines]
        return {
            f"{r['pxname']}/{r['svname']}": r
            for r in rows
            if r["svname"] not in ("FRONTEND", "BACKEND")
        }

    def stop(self) -> None:
        """Stop haproxy (if it runs), waiting for it to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


__all__ = ["HAProxy"]
