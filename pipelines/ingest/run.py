"""The ingest run: WARC files read in the main process, pages extracted in the crawl's worker
pool (``crawler.runtime.run_in_pool``: the same processes, time limit and crash handling as a
crawl), articles stored in file order in the main process through the crawl's own store
(``pipelines.dedup.store.store_articles``: dedup decision, cluster link, signature, URL state),
with the record's provenance in the same transaction.

Articles are stored many per transaction (``IngestOptions.store_batch``, as the crawl's
``NEWSCRAWL_STORE_BATCH``; a smaller batch once its first article has waited ``store_wait``
seconds by the time the next page is extracted), each with its provenance in the same
transaction. Memory is bounded by the records in flight (``IngestOptions.in_flight``, each at
most the crawl's download cap) and the batch. A killed ingest is resumed by running it again:
records whose provenance is recorded are skipped before extraction (a batch not yet committed
is extracted again), and any other record of an article already stored finds its
URL and text hash and stores nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import runtime
from crawler.registry import ExtractionHints, Outlet, host_allowed
from crawler.urls import canonical_url
from pipelines.dedup.store import DedupContext, DedupResult, store_article, store_articles
from pipelines.ingest.records import Skipped, WarcDamaged, WarcPage, read_pages
from pipelines.ingest.work import Extracted, Failed, PageTask, process_page
from storage.articles import ArticleRow, StoreResult
from storage.clock import utcnow
from storage.db import Database
from storage.outlets import ensure_outlet, sync_outlets
from storage.provenance import Provenance, is_recorded, save_provenance


def extractor_version() -> str:
    """What made an ingested article's text: this package's version and trafilatura's."""

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return f"newscrawl {of('newscrawl')}; trafilatura {of('trafilatura')}"


@dataclass
class IngestCounts:
    files: int = 0
    responses: int = 0  # response records read
    html_200: int = 0  # of them, HTML with status 200: the pages extracted
    already: int = 0  # provenance already recorded: skipped (a rerun)
    stored: int = 0  # new articles
    updated: int = 0  # an article stored before, its text changed
    unchanged: int = 0  # an article stored before, same text
    duplicates: int = 0  # of the new articles, linked to an existing cluster
    transactions: int = 0  # store transactions (group commit: many articles in each)
    skipped: Counter[str] = field(default_factory=Counter)  # responses that are not pages
    failed: Counter[str] = field(default_factory=Counter)  # pages that gave no article
    damaged: list[str] = field(default_factory=list)  # files that could not be read to the end


@dataclass(frozen=True)
class OutletChoice:
    id: str
    language: str
    hints: ExtractionHints
    registered: Outlet | None  # None: made up for the host


class OutletResolver:
    """The registry's outlet whose domains hold the URL's host, else one outlet per host (its
    id the host without ``www.``), created the first time it is seen."""

    def __init__(self, db: Database, registry: Mapping[str, Outlet]) -> None:
        self.db = db
        self.registry = list(registry.values())
        self.by_host: dict[str, OutletChoice] = {}
        sync_outlets(db, [o.record() for o in self.registry])

    def for_url(self, url: str) -> OutletChoice | None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            return None
        if host not in self.by_host:
            netloc = parts.netloc.rsplit("@", 1)[-1].lower()  # as first seen, port included
            self.by_host[host] = self._choose(host, f"{parts.scheme}://{netloc}/")
        return self.by_host[host]

    def _choose(self, host: str, homepage: str) -> OutletChoice:
        for outlet in self.registry:
            if host_allowed(host, outlet.allowed_domains):
                return OutletChoice(outlet.id, outlet.language, outlet.extraction, outlet)
        outlet_id = (host.removeprefix("www.") or host)[:64]
        ensure_outlet(self.db, outlet_id, homepage=homepage)
        return OutletChoice(outlet_id, "", ExtractionHints(), None)


@dataclass(frozen=True)
class IngestOptions:
    max_size: int = 10 * 1024 * 1024  # the crawl's DOWNLOAD_MAXSIZE
    timeout: float = 30.0  # per page, as NEWSCRAWL_EXTRACT_TIMEOUT
    in_flight: int = 16  # records read but not yet extracted
    store_batch: int = 50  # extracted articles per store transaction
    store_wait: float = 0.5  # a smaller batch goes once its first article waited this long
    progress_every: float = 0.5  # seconds between progress callbacks


@dataclass
class _Pending:
    page: WarcPage
    warc_file: str
    outlet: OutletChoice
    url: str
    future: asyncio.Future[Extracted | Failed]


class Ingest:
    def __init__(
        self,
        settings: Any,
        registry: Mapping[str, Outlet],
        options: IngestOptions,
        on_progress: Callable[[IngestCounts], None] | None = None,
    ) -> None:
        self.settings = settings
        self.db = runtime.database(settings)
        self.options = options
        self.on_progress = on_progress
        self.counts = IngestCounts()
        self.version = extractor_version()
        self.dedup = runtime.dedup_state(settings)  # the index, rebuilt once, before the first
        self.outlets = OutletResolver(self.db, registry)
        self._last_progress = 0.0
        # extracted, waiting for their batch's transaction
        self._ready: list[tuple[_Pending, Extracted]] = []
        self._ready_since = 0.0

    def run(self, paths: Sequence[Path]) -> IngestCounts:
        run_to_end(self._run(paths))
        self._progress(force=True)
        return self.counts

    async def _run(self, paths: Sequence[Path]) -> None:
        pending: deque[_Pending] = deque()
        for path in paths:
            self.counts.files += 1
            warc_file = str(path.resolve())
            try:
                for item in read_pages(path, self.options.max_size):
                    self.counts.responses += 1
                    if isinstance(item, Skipped):
                        self.counts.skipped[item.reason] += 1
                        continue
                    self.counts.html_200 += 1
                    if is_recorded(self.db, item.record_id):
                        self.counts.already += 1
                        continue
                    task = self._submit(item, warc_file)
                    if task is not None:
                        pending.append(task)
                    while len(pending) >= self.options.in_flight:
                        await self._finish(pending.popleft())
            except WarcDamaged as exc:
                self.counts.damaged.append(str(exc))
            self._progress()
        while pending:
            await self._finish(pending.popleft())
        self._flush()

    def _submit(self, page: WarcPage, warc_file: str) -> _Pending | None:
        try:
            url = canonical_url(page.url)
        except ValueError:
            self.counts.failed["bad_url"] += 1
            return None
        outlet = self.outlets.for_url(url)
        if outlet is None:
            self.counts.failed["bad_url"] += 1
            return None
        if outlet.registered is not None and not outlet.registered.is_article_url(url):
            self.counts.failed["offsite"] += 1  # as the crawl: not one of its article URLs
            return None
        task = PageTask(
            page.body,
            page.charset,
            page.url,
            outlet.hints,
            outlet.language,
            self.dedup.engine.params,
        )
        future = asyncio.ensure_future(
            runtime.run_in_pool(self.settings, process_page, task, timeout=self.options.timeout)
        )
        return _Pending(page, warc_file, outlet, url, future)

    async def _finish(self, p: _Pending) -> None:
        try:
            result = await p.future
        except FutureTimeout:
            result = Failed("extraction_timeout", f"over {self.options.timeout:g} s")
        except runtime.WorkerCrashed as exc:
            result = Failed("extraction_crashed", str(exc))
        except Exception as exc:  # a parser bug on one hostile page must not stop the ingest
            result = Failed("extraction_error", f"{type(exc).__name__}: {exc}")
        if isinstance(result, Failed):
            self.counts.failed[result.reason] += 1
        else:
            if not self._ready:
                self._ready_since = time.monotonic()
            self._ready.append((p, result))
            waited = time.monotonic() - self._ready_since
            if len(self._ready) >= self.options.store_batch or waited >= self.options.store_wait:
                self._flush()
        self._progress()

    def _flush(self) -> None:
        """Store the extracted articles waiting, in one transaction, each with its record's
        provenance."""
        ready, self._ready = self._ready, []
        if not ready:
            return

        def with_provenance(s: Any, k: int, result: StoreResult) -> None:
            p = ready[k][0]
            provenance = Provenance(p.warc_file, p.page.record_id, p.page.offset, self.version)
            save_provenance(s, result.article_id, provenance)

        items = [
            stored_item(
                self.dedup,
                StoredPage(p.outlet.id, p.url, p.page.url, out, p.page.date or utcnow()),
            )
            for p, out in ready
        ]
        results = store_articles(self.db, items, also=with_provenance)
        self.counts.transactions += 1
        for result in results:
            self._count(result)

    def _count(self, result: StoreResult) -> None:
        if result.outcome == "created":
            self.counts.stored += 1
            decision = result.decision if isinstance(result, DedupResult) else None
            if decision is not None and decision.match is not None:
                self.counts.duplicates += 1
        elif result.outcome == "updated":
            self.counts.updated += 1
        else:
            self.counts.unchanged += 1

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is None:
            return
        if force or now - self._last_progress >= self.options.progress_every:
            self._last_progress = now
            self.on_progress(self.counts)


@dataclass(frozen=True)
class StoredPage:
    """A page extracted outside a crawl (a WARC record, ``newscrawl fetch``), to be stored."""

    outlet_id: str
    url: str  # canonical
    fetched_url: str  # as fetched or archived: an alias when it differs
    extracted: Extracted
    fetched_at: datetime


def store_page(
    db: Database,
    state: Any,
    page: StoredPage,
    also: Callable[[Any, DedupResult], None] | None = None,
) -> DedupResult:
    """Store a page as the crawl stores an article: the same transaction, the dedup decision
    against everything stored (``state``: the process's ``runtime.dedup_state``)."""
    row, dedup = stored_item(state, page)
    return store_article(db, row, dedup, also=also)


def stored_item(state: Any, page: StoredPage) -> tuple[ArticleRow, DedupContext]:
    """The article row and dedup context that store ``page`` (``store_article(s)``)."""
    row = ArticleRow(
        outlet_id=page.outlet_id,
        url=page.url,
        aliases=[page.fetched_url] if page.fetched_url != page.url else [],
        content=page.extracted.content,
        discovered_via=None,
        fetched_at=page.fetched_at,
        revision_cause="ingest",
    )
    fp = page.extracted.fingerprint
    return row, DedupContext(state.engine, state.scheme_id, fp, shared=state.shared)


def summary_line(counts: IngestCounts, exit_code: int, seconds: float) -> str:
    status = {0: "succeeded", 2: "interrupted"}.get(exit_code, "failed")
    c = counts
    failed = ", ".join(f"{reason} {n}" for reason, n in sorted(c.failed.items()))
    line = (
        f"newscrawl: ingest {status} (exit {exit_code}): {c.files} files, "
        f"{c.responses} responses read, {c.html_200} HTML 200, {c.stored} stored, "
        f"{c.duplicates} duplicates linked, {c.updated} updated, {c.unchanged} unchanged, "
        f"{c.already} already ingested, {sum(c.failed.values())} failed"
        + (f" ({failed})" if failed else "")
        + f", {sum(c.skipped.values())} not HTML 200 in {seconds:.1f} s"
    )
    if c.damaged:
        line += f"; {len(c.damaged)} files damaged: " + "; ".join(c.damaged)
    return line


def run_to_end(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` on a loop of its own; on a thread of its own when this thread already runs
    a loop (a notebook, a library caller inside asyncio, Playwright's sync API), where
    ``asyncio.run`` would refuse."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl-ingest") as thread:
        thread.submit(asyncio.run, coro).result()
