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

from attrs import frozen

_NAME = re.compile(r"^(\d{3})_(\w+?)(?:\.(\w+))?\.sql$")


@frozen
class Step:
    """One numbered change to a schema."""

    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Its statements, one by one (comments dropped: they may hold a C{;})."""
        text = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in text.split(";") if s.strip()]


def loadSteps(package: str, dialect: str) -> list[Step]:
    """The steps in C{package}'s C{schema/} folder, in order, as C{dialect} runs them."""
    found: dict[int, tuple[str, str]] = {}
    for entry in files(package).joinpath("schema").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        number, name, only = int(match[1]), match[2], match[3]
        if only is not None and only != dialect:
            continue
        if number in found and only is None:
            continue  # the dialect's own file wins over the common one
        found[number] = (name, entry.read_text(encoding="utf-8"))
    numbers = sorted(found)
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(
            f"the schema steps of {package} for {dialect} are not numbered 1, 2, ..."
        )
    return [Step(n, *found[n]) for n in numbers]


def schemaVersion(db) -> int:
    """The version an SQLite database records: 0 if it records none."""
    known = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if known is None:
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
