"""
Taking over spools that no worker writes any more: the spool on files of
earlier versions (C{queue/}), imported at start, and the spool of a worker
that no longer runs, adopted by one that does. The files or the spool
taken over are deleted only once what they held is committed here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from twisted.logger import Logger

from ._spool import DiskSpool, _fsyncDirectory, _writeFile
from ._spoolschema import QUEUED

if TYPE_CHECKING:
    from ._database import SpoolDatabase

log = Logger()


def importFiles(spool: SpoolDatabase, root: Path) -> int:
    """
    Every message in the files of C{root}'s C{queue/} (the spool of
    earlier versions), with its recipients' states; the files are
    deleted once the rows are committed. Damaged files go to C{corrupt/}.
    """
    files = DiskSpool(root)
    if not files.queue.is_dir():
        return 0
    files.corrupt.mkdir(exist_ok=True)
    found = files.load()
    for message, states in found:
        meta, read = files._read(message.qid)
        content: bytes | None = read
        if len(read) > (1 << 20):
            _writeFile(str(spool.large / message.qid), read)
            _fsyncDirectory(spool.large)
            content = None
        with spool._transaction():
            spool._insert(
                message.qid, json.dumps(meta, separators=(",", ":")), content, "OR IGNORE"
            )
            spool._recordStates(message.qid, states)
    for path in files.queue.iterdir():
        path.unlink()
    files.queue.rmdir()
    if found:
        log.info("imported {n} queued message(s) from {path}", n=len(found), path=str(files.queue))
    return len(found)


def adopt(spool: SpoolDatabase, other: Path) -> int:
    """
    Take over every message of the spool in C{other} (a worker's that
    no longer runs; nothing may be using it), and remove it.
    @return: how many queued messages moved.
    """
    spool.open()
    moved = 0
    if other.is_dir():
        gone = type(spool)(other)
        gone.prepare()  # its files imported, its leftovers gone
        moved = gone.conn.execute(f"SELECT COUNT(*) FROM message WHERE done = {QUEUED}").fetchone()[
            0
        ]
        gone.close()
        spool.conn.execute("ATTACH DATABASE ? AS gone", (str(gone.path),))
        try:
            with spool._transaction():
                spool.conn.execute(
                    "INSERT INTO message (qid, done, meta, content)"
                    " SELECT qid, done, meta, content FROM gone.message WHERE true"
                    " ON CONFLICT DO NOTHING"
                )
                spool.conn.execute(
                    "INSERT INTO state (qid, rcpt, state)"
                    " SELECT qid, rcpt, state FROM gone.state WHERE true"
                    " ON CONFLICT DO NOTHING"
                )
        finally:
            spool.conn.execute("DETACH DATABASE gone")
        # Rows first, then their large files: a crash between leaves rows in
        # both spools, and the next start adopts again (ignoring those it has).
        for path in gone.large.iterdir():
            if not (spool.large / path.name).exists():
                os.rename(path, spool.large / path.name)
        _fsyncDirectory(spool.large)
        if gone.corrupt.is_dir():
            spool.corrupt.mkdir(exist_ok=True)
            for path in gone.corrupt.iterdir():
                os.rename(path, spool.corrupt / path.name)
        shutil.rmtree(other)
    return moved
