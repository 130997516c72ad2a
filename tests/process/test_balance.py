"""The load board the workers share, and when a worker leaves a connection to the others."""

from __future__ import annotations

import os

import pytest
from twisted.internet.task import Clock

from smtpeter.process._balance import ABSENT, HOLD_LIMIT, SHARE, SLACK, Balance, LoadBoard


@pytest.fixture
def board():
    board = LoadBoard.create(3)
    yield board
    board.close()


def test_a_worker_sees_what_another_publishes_through_the_descriptor(board):
    mapped = LoadBoard.attach(os.dup(board.fd), 3)  # what each worker does with it
    try:
        mapped.publish(2, 7)
        assert board.count(2) == 7
        board.publish(3, 4)
        assert mapped.count(3) == 4
    finally:
        mapped.close()


def test_every_worker_is_absent_until_it_serves(board):
    assert [board.count(i) for i in (1, 2, 3)] == [ABSENT] * 3
    Balance(board, 2, Clock()).serving()
    assert [board.count(i) for i in (1, 2, 3)] == [ABSENT, 0, ABSENT]


def test_the_least_of_the_others_leaves_out_the_asking_worker(board):
    for index, count in ((1, 2), (2, 9), (3, 5)):
        board.publish(index, count)
    assert board.leastOfOthers(1) == 5
    assert board.leastOfOthers(2) == 2
    assert LoadBoard.create(1).leastOfOthers(1) == ABSENT  # no others


def test_connections_are_counted_as_they_open_and_close(board):
    balance = Balance(board, 1, Clock())
    balance.serving()
    balance.opened()
    balance.opened()
    balance.closed()
    assert board.count(1) == balance.connections == 1


def test_a_stopping_worker_stays_absent_while_its_last_sessions_end(board):
    balance = Balance(board, 1, Clock())
    balance.serving()
    balance.opened()
    balance.opened()
    balance.absent()  # its ports closed
    balance.closed()
    assert board.count(1) == ABSENT


def balanced(board, ahead: int) -> tuple[Balance, Clock]:
    """Worker 1 with C{ahead} connections more than worker 2; worker 3 not serving."""
    clock = Clock()
    balance = Balance(board, 1, clock)
    board.publish(2, 4)
    for _ in range(4 + ahead):
        balance.opened()
    return balance, clock


def test_a_worker_not_far_ahead_accepts(board):
    balance, _ = balanced(board, SLACK - 1)
    assert not balance.holdBack()


def test_a_worker_far_ahead_holds_back_for_a_while_then_accepts(board):
    balance, clock = balanced(board, SLACK)
    assert balance.holdBack()
    clock.advance(HOLD_LIMIT / 2)
    assert balance.holdBack()
    clock.advance(HOLD_LIMIT / 2)
    assert not balance.holdBack()  # no one else took it
    assert balance.holdBack()  # the next connection waits for the others again


def test_a_hold_ends_when_the_others_catch_up(board):
    balance, clock = balanced(board, SLACK)
    assert balance.holdBack()
    board.publish(2, 5)
    assert not balance.holdBack()
    board.publish(2, 4)
    clock.advance(HOLD_LIMIT / 2)
    assert balance.holdBack()  # a new hold: it began when it was asked again
    clock.advance(HOLD_LIMIT / 2)
    assert balance.holdBack()


def test_among_many_connections_a_worker_holds_back_once_an_eighth_ahead(board):
    balance = Balance(board, 1, Clock())
    board.publish(2, 48)
    board.publish(3, 60)
    for _ in range(48 + 48 // SHARE - 1):
        balance.opened()
    assert not balance.ahead() and not balance.holdBack()  # 53 against 48: noise
    balance.opened()
    assert balance.ahead() and balance.holdBack()  # 54 against 48
    # With few connections open, SLACK is what counts.
    board.publish(2, 10)
    for _ in range(54 - 10 - SLACK):
        balance.closed()
    assert balance.connections == 10 + SLACK and balance.ahead()


def test_no_one_waits_for_a_worker_that_is_gone(board):
    balance, _ = balanced(board, 10)
    board.publish(2, ABSENT)  # what the parent writes when a worker ends
    assert not balance.holdBack()


def test_a_hold_another_worker_ended_by_taking_the_connection_starts_afresh(board):
    balance, clock = balanced(board, SLACK)
    assert balance.holdBack()
    balance.taken()
    clock.advance(2 * HOLD_LIMIT)
    assert balance.holdBack()  # a new connection: held back in turn
