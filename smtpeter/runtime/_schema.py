"""
Numbered schema steps, read from a package's C{schema/} folder:
C{NNN_name.sql}, or C{NNN_name.<dialect>.sql} where a dialect needs its
own. Each database of the gateway (the shared one, each worker's spool)
keeps its steps in one such folder, and its version in a table
C{schema_version}; the code that applies them is its owner's.
"""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable

from attrs import frozen

_NAME = re.compile(r"^(\d{3})_(\w+?)(?:\.(\w+))?\.sql$")


@frozen
class Step:
    """One numbered change to a schema."""

    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """
        Its statements, one by one (comments dropped: they may hold a C{;}).
        A C{;} between C{$$} quotes (the body of a PostgreSQL function) is
        the body's, not the end of a statement.
        """
        text = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        found, current = [], ""
        for i, part in enumerate(text.split("$$")):
            if i % 2:
                current += f"$${part}$$"
                continue
            first, *rest = part.split(";")
            current += first
            for piece in rest:
                found.append(current)
                current = piece
        found.append(current)
        return [s.strip() for s in found if s.strip()]


#: The dialects a step may be written for (C{NNN_name.<dialect>.sql}).
DIALECTS = ("sqlite", "postgres")


def loadSteps(package: str, dialect: str) -> list[Step]:
    """
    The steps in C{package}'s C{schema/} folder, in order, as C{dialect}
    runs them.

    @raise RuntimeError: the folder is not one clean sequence of steps: a
        number with two steps for one dialect (two helpers who chose the same
        number; the error names both files), a file with a dialect no engine
        has or a name not of the form C{NNN_name[.dialect].sql}, or a gap.
    """
    return stepsIn(files(package).joinpath("schema"), dialect, package)


def stepsIn(folder: Traversable, dialect: str, owner: str) -> list[Step]:
    """
    The steps in C{folder} (a L{Traversable}, such as a L{Path}), as C{dialect} runs
    them: L{loadSteps}' work, for a folder of any origin. C{owner} names the
    folder in errors.

    A number's step is one common file, or a file per dialect; a dialect's
    own file (C{001_initial.postgres.sql}) stands in for the common file of
    the same name (C{001_initial.sql}) on that dialect only. Every file of a
    number must bear one name, so that two different steps with one number
    are refused even where no single dialect would see both.
    """
    if dialect not in DIALECTS:
        raise RuntimeError(f"no schema dialect {dialect!r}: the dialects are {', '.join(DIALECTS)}")
    byNumber: dict[int, list[tuple[str, str, str | None]]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise RuntimeError(
                f"{owner}: the schema file {entry.name} is not named NNN_name.sql"
                f" or NNN_name.<dialect>.sql: rename it"
            )
        number, name, only = int(match[1]), match[2], match[3]
        if only is not None and only not in DIALECTS:
            raise RuntimeError(
                f"{owner}: the schema file {entry.name} is for {only!r}, which is no"
                f" dialect ({', '.join(DIALECTS)}): rename it"
            )
        for other, otherName, _ in byNumber.get(number, []):
            if otherName != name:
                raise RuntimeError(
                    f"{owner}: two schema steps numbered {number:03d}: {other} and"
                    f" {entry.name}; give one of them the next free number"
                )
        byNumber.setdefault(number, []).append((entry.name, name, only))
    found: dict[int, Step] = {}
    for number, candidates in byNumber.items():
        ours = [c for c in candidates if c[2] == dialect] or [c for c in candidates if c[2] is None]
        if ours:
            fileName, name, _ = ours[0]
            sql = folder.joinpath(fileName).read_text(encoding="utf-8")
            found[number] = Step(number, name, sql)
    numbers = sorted(found)
    if numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
        raise RuntimeError(
            f"{owner}: the schema steps for {dialect} are not numbered 1, 2, ...:"
            f" no step {', '.join(f'{n:03d}' for n in missing)}"
        )
    return [found[n] for n in numbers]


def schemaVersion(db) -> int:
    """The version an SQLite database records: 0 if it records none."""
    known = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if known is None:
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
