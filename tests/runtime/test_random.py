"""Random hex for identifiers, from a pool of os.urandom bytes."""

from __future__ import annotations

import os

from smtpeter.runtime import _random
from smtpeter.runtime._random import tokenHex


def test_tokens_are_hex_of_the_length_asked_and_never_repeat_across_refills():
    seen = {tokenHex(8) for _ in range(3 * _random._POOL_SIZE // 8)}
    assert len(seen) == 3 * _random._POOL_SIZE // 8
    assert all(len(t) == 16 and int(t, 16) >= 0 for t in seen)
    assert len(tokenHex(_random._POOL_SIZE + 5)) == 2 * (_random._POOL_SIZE + 5)


def test_a_forked_child_draws_its_own_tokens_not_its_parents():
    tokenHex(4)  # the pool is full
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, tokenHex(16).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert len(child) == 32 and child != tokenHex(16)
