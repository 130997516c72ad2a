"""
What a service that twistd started must do itself when it refuses to
start. twistd tidies up after a run, and after an exception from the
service's start; but the gateway refuses with one line and
C{SystemExit(1)} (no traceback), after which twistd would leave its pid
file behind and, as a daemon, leave the process that forked it waiting
for word of the start, for ever.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, MutableMapping
from typing import Any, cast

#: What twistd's first process reads from the daemon (and prints, after the first 2).
_STATUS_BYTES = 100


class TwistdRun:
    """
    The twistd run a service belongs to: C{config} is twistd's options (a
    mapping; C{None} when not run by twistd). It is read when needed, not
    when made: twistd adds the status pipe when it becomes a daemon, after
    the service is made.
    """

    def __init__(self, config: Mapping[str, Any] | None) -> None:
        self.config = config if config is not None else {}

    def logsTextToStandardOutput(self) -> bool:
        """Whether twistd logs text to standard output: C{-n}, no --logfile, --syslog, --logger."""
        config = self.config
        return bool(
            config.get("nodaemon")
            and config.get("logfile") in (None, "", "-")
            and not config.get("syslog")
            and not config.get("logger")
        )

    def refused(self, why: str) -> None:
        """
        The service will not start (C{why}, one line): remove the pid file,
        then tell the process waiting for a daemon's start (which prints it
        and exits with status 1): in that order, so that when that process
        has exited, no pid file is left.
        """
        self.forgetPidfile()
        pipe = self.config.get("statusPipe")
        if pipe is not None:
            message = f"1 smtpeter: cannot start: {why}".encode("utf-8", "replace")
            with contextlib.suppress(OSError):
                os.write(pipe, message[:_STATUS_BYTES])
                os.close(pipe)
            # Told once: twistd must not write to it again, nor anyone else.
            with contextlib.suppress(TypeError):  # a mapping that cannot be changed
                cast(MutableMapping[str, Any], self.config)["statusPipe"] = None

    def forgetPidfile(self) -> None:
        """Remove twistd's pid file (C{--pidfile}), if it names this process."""
        pidfile = self.config.get("pidfile")
        if not pidfile:
            return
        with contextlib.suppress(OSError, ValueError):
            with open(pidfile) as f:
                if int(f.read().strip()) != os.getpid():
                    return
            os.unlink(pidfile)
