"""
Random hex for the identifiers made for every message (queue ids,
Message-IDs): C{os.urandom} read 4 KiB at a time, where C{secrets.token_hex}
makes a system call per identifier. The bytes are the same kind; a child
of C{fork} starts with an empty pool, never its parent's.
"""

from __future__ import annotations

import os
import threading

_POOL_SIZE = 4096
_pool = bytearray()
_lock = threading.Lock()


def tokenHex(nbytes: int) -> str:
    """C{2 * nbytes} random hex digits (lower case), like C{secrets.token_hex}."""
    with _lock:
        if len(_pool) < nbytes:
            _pool.extend(os.urandom(max(_POOL_SIZE, nbytes)))
        chunk = _pool[-nbytes:]
        del _pool[-nbytes:]
    return chunk.hex()


def _forget() -> None:
    global _lock
    _pool.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget)
