"""
``smtpeter``: administration of a gateway's data directory (SMTP logins,
DKIM domains, the queue). Changes reach a running gateway without a restart:
it reads logins at every AUTH and DKIM keys every few seconds.

The entry point: the commands themselves live beside the administration
they use, in L{smtpeter.admin.commands}; here a command line is parsed and
run, and whatever stops it becomes one line on standard error.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .admin import UnusableSpool
from .admin.commands import DATABASE, parser, run
from .runtime import explain, isDamaged, isFull, recovery
from .store import DatabaseError, parseDatabase, unreachable


def _fail(message: str, code: int = 1) -> int:
    print(f"smtpeter: {message}", file=sys.stderr)
    return code


def _parse(argv: list[str] | None):
    """
    The command line's arguments. An option the command does not take is
    refused by that command's parser, which shows that command's usage (its
    options), not the top level's (argparse's own, which names none of them).
    """
    top = parser()
    args, unknown = top.parse_known_args(argv)
    if unknown:
        command = top
        for name in (args.command, getattr(args, "action", None)):
            subcommands = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
            if name is None or not subcommands:
                break
            command = subcommands[0].choices[name]
        misplaced = _misplaced(list(sys.argv[1:] if argv is None else argv), unknown)
        if misplaced:
            command.error(misplaced)
        command.error(f"unrecognized arguments: {' '.join(unknown)}; see '{command.prog} --help'")
    return args


def _misplaced(words: list[str], unknown: list[str]) -> str | None:
    """
    What to say when smtpeter's own C{--data} or C{--database} came after
    the command (C{smtpeter login list --data DIR}): the line as it works.
    """
    for word in unknown:
        name, equals, _ = word.partition("=")
        if name not in ("--data", "--database"):
            continue
        at = len(words) - 1 - words[::-1].index(word)
        taken = words[at : at + (1 if equals else 2)]
        rest = words[:at] + words[at + len(taken) :]
        line = shlex.join(["smtpeter", *taken, *rest])
        return f"{name} is an option of smtpeter itself: give it before the command: {line}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    data = Path(args.data)
    if data.exists() and not data.is_dir():
        return _fail(f"--data {data} is not a directory", 2)
    try:
        postgresql = parseDatabase(args.database)
    except ValueError as e:
        return _fail(f"--database: {e}", 2)
    if postgresql is None and args.command != "init" and not (data / DATABASE).is_file():
        return _fail(
            f"{data.resolve()} holds no gateway data (no {DATABASE}); point --data at the"
            " directory the gateway runs with (twistd smtpeter --data DIR),"
            f" or make one with: smtpeter --data {args.data} init",
            2,
        )
    try:
        error = run(data, args, postgresql)
        code = 0 if error is None else _fail(error)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, without Python's
        # second complaint when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _fail("output closed before it was all written (broken pipe)")
    except UnusableSpool as e:
        if isDamaged(e.why):
            return _fail(
                f"cannot read the spool database {e.path}: {e.why} (it is damaged);"
                f" {recovery(e.path)}"
            )
        return _fail(
            f"cannot read the spool database {e.path}: {e.why}; run this as the user the"
            " gateway runs as (if the file is damaged, the gateway's log says so at its start)"
        )
    except (*DatabaseError, OSError) as e:
        if postgresql is not None and isinstance(e, DatabaseError):
            return _fail(unreachable(postgresql, e))
        if isDamaged(e) or isFull(e):
            # Not a question of permissions: no hint about users.
            return _fail(f"cannot use {data / DATABASE}: {explain(data / DATABASE, e)}")
        if not isinstance(e, (DatabaseError, PermissionError)):
            raise
        return _fail(
            f"cannot use {data / DATABASE}: {e}; run this as the user the gateway"
            " runs as, or give that user write access to the directory"
        )


if __name__ == "__main__":
    sys.exit(main())
