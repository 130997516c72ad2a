"""
What a service that twistd started must do itself when it refuses to
start. twistd tidies up after a run, and after an exception from the
service's start; but the gateway refuses with one line and
C{SystemExit(1)} (no traceback), after which twistd would leave its pid
file behind and, as a daemon, leave the process that forked it waiting
for word of the start, for ever.

And what to say when one of twistd's own options came after C{smtpeter}
(L{misplacedTwistdOption}).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
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


def misplacedTwistdOption(error: str, arguments: list[str]) -> str | None:
    """
    For an option of twistd's own given after C{smtpeter} (C{twistd smtpeter
    -n}, which twistd passes on to us): where it goes, and the line that works.
    """
    from twisted.scripts.twistd import ServerOptions

    match = re.fullmatch(r"option (--?)([\w-]+) not recognized", error)
    if match is None:
        return None
    dashes, name = match.groups()
    twistd = ServerOptions()
    if dashes == "-":
        at = twistd.shortOpt.find(name)
        if len(name) != 1 or at < 0:
            return None
        takesValue = twistd.shortOpt[at + 1 : at + 2] == ":"
    elif name in twistd.longOpt or name + "=" in twistd.longOpt:
        takesValue = name + "=" in twistd.longOpt
    else:
        return None
    option = dashes + name
    words = list(arguments)
    at = next((i for i, w in enumerate(words) if w == option or w.startswith(option + "=")), None)
    if at is None:  # bundled or abbreviated (-nl FILE): say where, not how
        return f"{option} is an option of twistd itself: give it before smtpeter"
    taken = words[at : at + (2 if takesValue and "=" not in words[at] else 1)]
    line = shlex.join(["twistd", *taken, "smtpeter", *(words[:at] + words[at + len(taken) :])])
    return f"{option} is an option of twistd itself: give it before smtpeter: {line}"
