"""
The C{smtpeter} command's commands, beside the administration they use: a
module per command group (C{init}, C{login}, C{domain}, C{token},
C{webhook}, C{admin}, C{suppression}, C{queue}), each adding its parser
(C{addParser}) and carrying out its actions (C{run}). L{smtpeter.cli} is
the entry point that parses, runs, and turns what went wrong into one line.
"""

from ._main import DATABASE, parser, run

__all__ = ["DATABASE", "parser", "run"]
