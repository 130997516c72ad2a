"""
How often one tracked link is recorded. Anyone who has a link (or an open
pixel) can request it in a loop: each request is answered, but only the
first L{Replays.perMinute} of each link and recipient in a minute become
events, so a replay fills neither the database nor the webhooks' queue.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from twisted.internet.interfaces import IReactorTime


class Replays:
    """
    Counts requests per key (a link and its recipient) in whole minutes of
    C{clock}; C{perMinute} 0 counts nothing and records everything. At most
    C{size} keys are remembered, the least recently seen forgotten first.
    """

    def __init__(self, clock: IReactorTime, perMinute: int, size: int = 50_000) -> None:
        self.clock, self.perMinute, self.size = clock, perMinute, size
        #: Key -> [its minute, its requests in that minute].
        self._seen: OrderedDict[Hashable, list[int]] = OrderedDict()

    def recorded(self, key: Hashable) -> bool:
        """Count a request for C{key}: whether it is to be recorded."""
        if not self.perMinute:
            return True
        minute = int(self.clock.seconds() // 60)
        counted = self._seen.get(key)
        if counted is None or counted[0] != minute:
            counted = self._seen[key] = [minute, 0]
        self._seen.move_to_end(key)
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        counted[1] += 1
        return counted[1] <= self.perMinute
