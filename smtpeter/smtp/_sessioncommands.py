"""
The session's own commands: EHLO and HELO, STARTTLS (RFC 3207), QUIT, the
junk commands (NOOP, RSET, VRFY, HELP) and the refused ones (EXPN, BDAT);
mixed into L{SubmissionServer<smtpeter.smtp.SubmissionServer>}. The mail
transaction is L{MailCommands<smtpeter.smtp._mailcommands.MailCommands>}'s,
AUTH is L{AuthCommands<smtpeter.smtp._authcommands.AuthCommands>}'.
"""

from __future__ import annotations

from twisted.logger import Logger

from . import _replies as R
from ._address import isValidHelo
from ._state import SessionState

log = Logger()

#: NOOP, RSET, VRFY and HELP a session may send before each further one
#: counts as an error (Postfix's smtpd_junk_command_limit); reset by a
#: message accepted, so that an MTA's RSET before each of its messages on one
#: connection never adds up, while a session that moves no mail is still
#: closed after JUNK_COMMAND_LIMIT + HARD_ERROR_LIMIT such commands.
JUNK_COMMAND_LIMIT = 100


class SessionCommands(SessionState):
    """The session's own commands; see the module's docstring."""

    def _ehloLines(self) -> tuple[str, ...]:
        return (
            f"{self.settings.hostname} greets {self.helo}",
            "PIPELINING",
            f"SIZE {self.settings.maxSize}",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            *self._extensions(),
        )

    def _extensions(self) -> list[str]:
        """The EHLO keywords that depend on the kind of listener and the session's state."""
        if self.secure:
            return ["DSN", "AUTH PLAIN LOGIN"]
        return ["DSN", "STARTTLS"] if self.settings.tlsOptions is not None else ["DSN"]

    def _greet(self, argument: str) -> str:
        name = argument.strip()
        if not isValidHelo(name):
            self._refuse(R.BAD_HELO)
        self._resetTransaction()
        self.helo = name
        return name

    def smtp_EHLO(self, argument: str) -> None:
        self._greet(argument)
        lines = self._ehloLines()
        self.reply(R.Reply(250, "", lines[-1]), continued=lines[:-1])

    def smtp_HELO(self, argument: str) -> None:
        self._greet(argument)
        self.reply(R.Reply(250, "", self.settings.hostname))

    def _accepted(self) -> None:
        """
        A message was accepted: the session is doing what it is for, so its
        error and junk counts start again (as Postfix's do after a delivery).
        """
        self.errors = 0
        self.junk = 0

    def _junk(self) -> None:
        """A command that moves no mail: past the limit each one counts as an error."""
        self.junk += 1
        if self.junk > JUNK_COMMAND_LIMIT:
            self.errors += 1

    def smtp_NOOP(self, argument: str) -> None:
        self._junk()
        self.reply(R.OK)

    def smtp_RSET(self, argument: str) -> None:
        self._junk()
        self._resetTransaction()
        self.reply(R.RESET_OK)

    def smtp_VRFY(self, argument: str) -> None:
        self._junk()
        self.reply(R.VRFY_ANSWER)

    def smtp_HELP(self, argument: str) -> None:
        self._junk()
        self.reply(R.HELP_ANSWER)

    def smtp_EXPN(self, argument: str) -> None:
        self.reply(R.NOT_IMPLEMENTED.format(command="EXPN"), command="EXPN")

    def smtp_QUIT(self, argument: str) -> None:
        self.reply(R.CLOSING)
        self.close()

    def smtp_BDAT(self, argument: str) -> None:
        # Without CHUNKING a client should not send BDAT, but if it does,
        # the chunk that follows is message data and must never be read as
        # commands: swallow exactly the announced size, then refuse.
        size = argument.split(" ")[0]
        if not size.isdigit():
            self._refuse(R.SYNTAX_ERROR.format(detail="BDAT size"))
        self._bdatRemaining = int(size)
        self._resetTransaction()
        if not self._bdatRemaining:
            self.reply(R.BDAT_NOT_IMPLEMENTED, command="BDAT")

    def smtp_STARTTLS(self, argument: str) -> None:
        if self.secure:
            self._refuse(R.BAD_SEQUENCE.format(detail="TLS is already active"))
        if self.settings.tlsOptions is None:
            self._refuse(R.TLS_UNAVAILABLE)
        if argument.strip():
            self._refuse(R.SYNTAX_ERROR.format(detail="STARTTLS takes no argument"))
        self.reply(R.READY_TLS)
        # RFC 3207 4.2 and CVE-2011-0411: anything the client sent after
        # STARTTLS was sent in clear and must not count, and the session
        # restarts from the greeting.
        discarded = len(self.buffer)
        self.buffer.clear()
        if discarded:
            log.warn(
                "{peer} pipelined {n} bytes after STARTTLS; discarded", peer=self.peer, n=discarded
            )
        self.helo = None
        self._tls = None
        self._resetTransaction()
        self._flush()  # the 220 goes in clear
        self.transport.startTLS(self.settings.tlsOptions)
        self.secure = True
        self._handshakeStarted()
