"""How many article pages a process lets be downloading or waiting for extraction at once.

Pages download faster than the workers extract them (loopback: 170 pages/s against 45), and a
process runs one Scrapy crawler per outlet, each downloading up to CONCURRENT_REQUESTS at
once: every page fetched ahead of the workers waits in memory, body and decoded text (eight
outlets of real pages held 250 MiB that way). The gate admits an article download only while
the downloads it admitted and not yet answered, plus the process's extraction backlog, are
under a limit; the others wait, in order, and the next one goes as soon as either count falls.
Reactor thread only (Deferreds, no locks)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.defer import Deferred


class ExtractionGate:
    def __init__(self, backlog: Callable[[], int]) -> None:
        self._backlog = backlog  # articles waiting for or in extraction
        self.downloading = 0  # admitted and not yet answered
        self.peak = 0  # the most articles in hand at once, for the crawl's stats
        self._waiting: deque[tuple[int, Deferred[None]]] = deque()

    @property
    def in_hand(self) -> int:
        return self._backlog() + self.downloading

    def enter(self, limit: int) -> Deferred[None]:
        """Fires when the download may start (at once when there is room)."""
        entered: Deferred[None] = Deferred()
        self._waiting.append((limit, entered))
        self.wake()
        return entered

    def left(self) -> None:
        """An admitted download was answered (a response, or a failure)."""
        self.downloading -= 1
        self.wake()

    def wake(self) -> None:
        """Admit waiting downloads while there is room; call when the backlog falls."""
        while self._waiting and self.in_hand < self._waiting[0][0]:
            _limit, entered = self._waiting.popleft()
            self.downloading += 1
            self.peak = max(self.peak, self.in_hand)
            entered.callback(None)

    @property
    def waiting(self) -> int:
        return len(self._waiting)
