"""
Hosted images in the database, for nodes that share one (PostgreSQL): a
picture one node took out of a message is served by whichever node the
reader's request reaches. The same names and answers as the files of
L{ImageStore}, which a gateway on SQLite keeps in its data directory.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool

from ..runtime import PostgreSQL
from ._engines import connect
from ._images import _NAME, CONTENT_TYPES, EXTENSIONS, ImageStore


class DatabaseImageStore:
    """
    The images in the C{images} table of C{database}, on one connection of
    its own (made at the first use) that the threads using it take in turn.
    """

    def __init__(self, database: PostgreSQL) -> None:
        self.database = database
        self._db: Any = None  # a connection of the database's engine
        self._lock = threading.Lock()

    def _run(self, sql: str, parameters: tuple):
        with self._lock:
            if self._db is None:
                self._db = connect(self.database)
            return self._db.execute(sql, parameters)

    def put(self, data: bytes, contentType: str) -> str | None:
        """Store C{data}; its name (C{hash.ext}), or C{None} for a type we do not host."""
        extension = EXTENSIONS.get(contentType.lower())
        if extension is None:
            return None
        name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
        self._run(
            "INSERT INTO images (name, content) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, data),
        )
        return name

    def exists(self, name: str) -> bool:
        """
        Whether C{name} may be an image here: asked in the reactor's thread,
        it is answered without the database (L{fetch} finds out).
        """
        return _NAME.fullmatch(name) is not None

    def fetch(self, name: str, reactor: IReactorThreads) -> Deferred[tuple[bytes, str] | None]:
        """L{get}, read in one of C{reactor}'s threads."""
        return deferToThreadPool(reactor, reactor.getThreadPool(), self.get, name)

    def get(self, name: str) -> tuple[bytes, str] | None:
        """The image's bytes and content type, or C{None} if there is no such image."""
        if not self.exists(name):
            return None
        row = self._run("SELECT content FROM images WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return bytes(row[0]), CONTENT_TYPES[name.rsplit(".", 1)[1]]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def openImages(database: Path | PostgreSQL, root: Path) -> ImageStore | DatabaseImageStore:
    """Where hosted images are kept: files under C{root}, or PostgreSQL's table."""
    if isinstance(database, PostgreSQL):
        return DatabaseImageStore(database)
    return ImageStore(root)


def copyImages(root: Path, db) -> int:
    """Every image file under C{root} into the C{images} table of C{db}; how many."""
    count = 0
    for path in sorted(root.glob("??/*")):
        if _NAME.fullmatch(path.name) is None:
            continue  # a temporary file of a write that was cut short
        db.execute(
            "INSERT INTO images (name, content) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (path.name, path.read_bytes()),
        )
        count += 1
    return count
