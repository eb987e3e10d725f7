"""SIGINT and SIGTERM during a crawl. The first signal stops gracefully: no new requests, pages
in flight finish, committed rows are kept, every run is recorded ``interrupted``, exit 2. A
second signal stops at once: the runs still open are recorded ``interrupted`` on connections
of their own, the extraction workers are terminated, and the process exits 2 without waiting
for downloads, extraction or the graceful stop (an article in flight is still ``discovered`` in
the database, and the next run fetches it).

Scrapy's own handlers are not installed (``install_signal_handlers=False``): its second signal
stops the reactor, which still waits for the graceful stop, and leaves the runs ``running``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from twisted.internet.defer import maybeDeferred

from crawler import runtime

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 2
#: set by the first signal: downloads not yet sent are refused from then on
#: (crawler.middlewares.stopping)
STOPPING = threading.Event()
#: how long a stop at once waits for the runs to be recorded before it exits anyway
RECORD_TIMEOUT = 5.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    def __init__(self, process: Any) -> None:
        self.process = process
        self.received = 0

    def install(self) -> None:
        for sig in SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received += 1
        STOPPING.set()  # at once, not when the reactor gets to it
        if self.received == 1:
            from twisted.internet import reactor

            # logging and the stop itself belong on the reactor thread, not in a handler
            reactor.callFromThread(self._stop_gracefully, signum)
        else:
            self._stop_at_once(signum)

    def _stop_gracefully(self, signum: int) -> None:
        from twisted.internet import reactor

        logger.warning(
            "received %s: stopping: no new requests; downloads in flight finish "
            "(send it again to stop at once)",
            signal.Signals(signum).name,
        )

        from crawler.middlewares.stopping import refuse_queued

        queued = sum(refuse_queued(c.engine.downloader) for c in self.process.crawlers if c.engine)
        if queued:
            logger.warning("%d queued requests not sent: the next run fetches them", queued)

        def stop_reactor(_: Any) -> None:
            with contextlib.suppress(RuntimeError):  # stopped already
                reactor.stop()  # type: ignore[misc]

        maybeDeferred(self.process.stop).addBoth(stop_reactor)

    def _stop_at_once(self, signum: int) -> None:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        name = signal.Signals(signum).name
        recorded: list[int] = []

        def record() -> None:
            from crawler.extensions.runs import record_stopped_at_once

            try:
                recorded.append(record_stopped_at_once(f"second_{name.lower()}"))
            except Exception as exc:  # the next run marks them abandoned instead
                _say(f"newscrawl: could not record the interrupted runs: {exc}")
            runtime.stop_workers_now()

        worker = threading.Thread(target=record, name="newscrawl-stop", daemon=True)
        worker.start()
        worker.join(RECORD_TIMEOUT)
        runs = f"{recorded[0]} runs recorded interrupted" if recorded else "runs not recorded"
        _say(f"newscrawl: run interrupted (exit 2): a second {name} stopped it at once; {runs}")
        os._exit(EXIT_INTERRUPTED)


def _say(line: str) -> None:
    """Straight to the file descriptor: the buffered stream may be mid-write (a signal)."""
    show_cursor = "\x1b[?25h" if sys.stderr.isatty() else ""  # a live table hid it
    os.write(2, (show_cursor + line + "\n").encode("utf-8", "replace"))
