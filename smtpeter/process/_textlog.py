"""
A gateway in one process (C{--workers 1}) that writes its own text log to
standard output (C{twistd -n}, without C{--logfile}, C{--syslog} or
C{--logger}), as its workers do when there are several
(L{smtpeter.process._worklog}): each line formatted in a few microseconds
and the lines written together, where twistd's own observer put every
event through twisted.logger's classic format and wrote it alone, some
30 microseconds a line (two lines a message: a tenth of the process's
CPU per message at 50 messages per connection). The lines are the same.
"""

from __future__ import annotations

from typing import BinaryIO

from twisted.application.service import IService, MultiService
from twisted.logger import ILogObserver
from twisted.python.components import Componentized

from ._worklog import WorkerLogWriter, classicLine


class OwnTextLog(MultiService):
    """
    C{service}, whose text log on C{output} (standard output) it writes
    itself: twistd takes the application's log observer, if it has one,
    when it starts logging, after the service is made and given to it.
    """

    def __init__(self, service: IService, reactor, output: BinaryIO | None = None) -> None:
        super().__init__()
        service.setServiceParent(self)
        if output is None:
            output = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115 (the process's)
        self.observer = WorkerLogWriter(output, reactor, output, "", encode=classicLine)
        # What waits to be written, written before the process ends.
        reactor.addSystemEventTrigger("after", "shutdown", self.observer.flush)

    def setServiceParent(self, parent) -> None:
        if isinstance(parent, Componentized):  # twistd's application
            parent.setComponent(ILogObserver, self.observer)
        super().setServiceParent(parent)
