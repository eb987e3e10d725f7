"""What a person sees while ``newscrawl crawl`` runs: on a terminal, a live table per outlet
(pages, stored, duplicates, failures); under cron (no terminal), Scrapy's plain log lines. In
both cases one summary line at the end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class OutletProgress:
    outlet: str
    pages: int
    stored: int
    unchanged: int
    duplicates: int
    failed: int
    state: str
    #: why the run failed, in words (None unless it failed)
    failure: str | None = None

    @classmethod
    def of(cls, crawler: Any) -> OutletProgress:
        stats = crawler.stats.get_stats()

        def n(key: str) -> int:
            return int(stats.get(key, 0))

        if stats.get("newscrawl/exit_code") == 1:
            state = "failed"
        elif "finish_reason" in stats:
            state = str(stats["finish_reason"])
        elif crawler.crawling:
            state = "crawling"
        else:
            state = "waiting"
        return cls(
            outlet=crawler.spidercls.name,
            pages=n("downloader/response_count"),
            stored=n("newscrawl/store/created") + n("newscrawl/store/updated"),
            unchanged=n("newscrawl/store/unchanged") + n("newscrawl/discovery/known_skipped"),
            duplicates=n("newscrawl/dedup/duplicates"),
            failed=n("newscrawl/store/failures_recorded"),
            state=state,
            failure=stats.get("newscrawl/run_failure"),
        )


def table(rows: Sequence[OutletProgress]) -> Any:
    from rich.table import Table

    t = Table(title="newscrawl", expand=False)
    for col in ("outlet", "pages", "stored", "known", "duplicates", "failed", "state"):
        t.add_column(col, justify="left" if col in ("outlet", "state") else "right")
    for r in rows:
        t.add_row(
            r.outlet,
            str(r.pages),
            str(r.stored),
            str(r.unchanged),
            str(r.duplicates),
            str(r.failed),
            r.state,
        )
    return t


class LiveProgress:
    """A rich Live table refreshed from the crawlers' stats by a reactor LoopingCall."""

    def __init__(self, crawlers: Sequence[Any], stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live
        from twisted.internet import task

        self.crawlers = crawlers
        self.stream = stream
        self.moved: list[Any] = []
        self.live = Live(table([]), console=Console(file=stream), refresh_per_second=4)
        self.loop = task.LoopingCall(self.refresh)

    def refresh(self) -> None:
        self.live.update(table([OutletProgress.of(c) for c in self.crawlers]))

    def start(self) -> None:
        import logging
        import sys

        self.live.start()
        # Log handlers made before the table write to the terminal behind its back, and their
        # lines land glued to its border; through rich's proxy they print above it.
        for handler in logging.root.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                handler.setStream(sys.stderr)
                self.moved.append(handler)
        self.loop.start(0.5, now=True)

    def stop(self) -> None:
        if self.loop.running:
            self.loop.stop()
        self.refresh()
        for handler in self.moved:
            handler.setStream(self.stream)
        self.live.stop()


def summary_line(crawlers: Sequence[Any], exit_code: int) -> str:
    rows = [OutletProgress.of(c) for c in crawlers]
    status = {0: "succeeded", 1: "failed", 2: "interrupted"}.get(exit_code, "failed")
    failed = [r for r in rows if r.state == "failed"]
    problems = [r.outlet for r in rows if r.state not in ("finished", "time_limit", "failed")]
    limited = [r.outlet for r in rows if r.state == "time_limit"]
    return (
        f"newscrawl: run {status} (exit {exit_code}): {len(rows)} outlets, "
        f"{sum(r.pages for r in rows)} pages, {sum(r.stored for r in rows)} stored, "
        f"{sum(r.duplicates for r in rows)} duplicates, {sum(r.failed for r in rows)} failed"
        + (f"; stopped at the time limit: {', '.join(limited)}" if limited else "")
        + (f"; not finished: {', '.join(problems)}" if problems else "")
        + "".join(f"\n  {r.outlet} failed: {r.failure or 'see the log'}" for r in failed)
    )


class IngestProgress:
    """``newscrawl ingest`` on a terminal: one live line of counts (``pipelines.ingest.run``'s
    IngestCounts), refreshed by the ingest itself as it stores."""

    def __init__(self, stream: TextIO) -> None:
        import time

        from rich.console import Console
        from rich.live import Live

        self.started = time.monotonic()
        self.live = Live("", console=Console(file=stream), refresh_per_second=4)

    def update(self, counts: Any) -> None:
        import time

        elapsed = max(time.monotonic() - self.started, 1e-9)
        done = counts.stored + counts.updated + counts.unchanged + sum(counts.failed.values())
        self.live.update(
            f"newscrawl ingest: file {counts.files}, {counts.responses} responses, "
            f"{counts.html_200} HTML 200, {counts.stored} stored, {counts.duplicates} "
            f"duplicates, {counts.unchanged + counts.already} known, "
            f"{sum(counts.failed.values())} failed, {done / elapsed:.1f} pages/s"
        )

    def start(self) -> None:
        self.live.start()

    def stop(self) -> None:
        self.live.stop()
