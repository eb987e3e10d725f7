"""How many article pages a process lets be downloading or waiting for extraction at once.

Pages download faster than the workers extract them (loopback: 170 pages/s against 45), and a
process runs one Scrapy crawler per outlet, each downloading up to CONCURRENT_REQUESTS at
once: every page fetched ahead of the workers waits in memory, body and decoded text (eight
outlets of real pages held 250 MiB that way). The gate lets an article download start only
while the downloads under way, plus the process's extraction backlog, are under a limit; the
others wait, in order, and the next one starts as soon as either count falls. Reactor thread
only (Deferreds, no locks)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred


@dataclass
class Waiter:
    limit: int
    started: Deferred[None] = field(default_factory=Deferred)
    admitted: bool = False


class ExtractionGate:
    def __init__(self, backlog: Callable[[], int]) -> None:
        self._backlog = backlog  # articles waiting for or in extraction
        self.downloading = 0  # admitted and not yet finished
        self.peak = 0  # the most articles in hand at once, for the crawl's stats
        self._waiting: deque[Waiter] = deque()

    @property
    def in_hand(self) -> int:
        return self._backlog() + self.downloading

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def enter(self, limit: int) -> Waiter:
        """A place in the queue; ``started`` fires when the download may start (at once when
        there is room). Every waiter ends with ``left`` (admitted) or ``withdraw``."""
        waiter = Waiter(limit)
        self._waiting.append(waiter)
        self.wake()
        return waiter

    def left(self) -> None:
        """An admitted download finished (a response, or a failure)."""
        self.downloading -= 1
        self.wake()

    def withdraw(self, waiter: Waiter) -> None:
        """The waiter gives up (its download was cancelled): its place, or its admission."""
        if waiter.admitted:
            self.left()
        elif waiter in self._waiting:
            self._waiting.remove(waiter)

    def wake(self) -> None:
        """Admit waiting downloads while there is room; call when the backlog falls."""
        while self._waiting and self.in_hand < self._waiting[0].limit:
            waiter = self._waiting.popleft()
            if waiter.started.called:  # cancelled while it waited: nobody to admit
                continue
            waiter.admitted = True
            self.downloading += 1
            self.peak = max(self.peak, self.in_hand)
            waiter.started.callback(None)
