"""The delivery slots: how many run at once, in what order, and the stop's grace."""

from __future__ import annotations

from datetime import timedelta

from attrs import define
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from smtpeter.queue.manager._slots import DeliverySlots


@define
class Item:
    name: str
    ready: bool = False
    due: bool = True


def slots(limit=1):
    clock = Clock()
    started: dict[str, Deferred] = {}

    def start(item):
        started[item.name] = Deferred()
        return started[item.name]

    return DeliverySlots(clock, lambda: limit, start, lambda item: item.due), clock, started


def test_at_most_the_limit_oldest_first_from_the_next_turn():
    line, clock, started = slots(limit=2)
    items = [Item(str(i)) for i in range(3)]
    for item in items:
        line.put(item)
    assert started == {} and all(item.ready for item in items)
    clock.advance(0)
    assert list(started) == ["0", "1"]
    assert (items[0].ready, items[2].ready) == (False, True)
    started["1"].callback(None)
    clock.advance(0)
    assert list(started) == ["0", "1", "2"]


def test_an_entry_no_longer_due_is_skipped():
    line, clock, started = slots()
    first, second = Item("a", due=False), Item("b")
    line.put(first)
    line.put(second)
    clock.advance(0)
    assert list(started) == ["b"]
    assert first.ready is False


def test_stop_waits_for_what_is_in_flight():
    line, clock, started = slots()
    line.put(Item("a"))
    line.put(Item("b"))
    clock.advance(0)
    stopped = line.stop(timedelta(seconds=5))
    assert not stopped.called
    started["a"].callback(None)
    assert stopped.result == 0
    clock.advance(10)
    assert list(started) == ["a"]  # nothing more after the stop


def test_stop_gives_up_after_the_grace():
    line, clock, started = slots()
    line.put(Item("a"))
    clock.advance(0)
    stopped = line.stop(timedelta(seconds=5))
    clock.advance(4)
    assert not stopped.called
    clock.advance(1)
    assert stopped.result == 1


def test_stop_with_nothing_in_flight():
    line, _, _ = slots()
    assert line.stop(timedelta(seconds=5)).result == 0
