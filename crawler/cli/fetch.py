"""``newscrawl fetch URL...``: live pages to clean text in one command (as ``trafilatura -u``),
printed as ``newscrawl extract`` prints saved ones; ``--store`` puts them in the corpus,
deduplicated as crawled articles are.

Fetching is ``newscrawl outlet add``'s fetcher, under the crawl's rules: the address policy
checked on every redirect hop, robots.txt obeyed, the crawl's User-Agent and size cap, and the
crawl's download delay between two pages of one host. Extraction, the fingerprint and the
store are the crawl's (``pipelines.ingest``: the same path WARC records take)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO
from urllib.parse import urlsplit

from crawler.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_db_option,
    scrapy_settings,
)


class _Polite:
    """The crawl's DOWNLOAD_DELAY between two requests to one host."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.last: dict[str, float] = {}

    def wait(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        if host in self.last:
            time.sleep(max(0.0, self.last[host] + self.delay - time.monotonic()))
        self.last[host] = time.monotonic()


def cmd_fetch(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from crawler.registry import load_registry

    registry = load_registry(args.outlets_dir)
    if args.outlet and args.outlet not in registry:
        raise UsageError("--outlet", f"no outlet {args.outlet!r}")
    settings = scrapy_settings(args.db if args.store else None, args.outlets_dir)
    run = _FetchRun(settings, registry, args.outlet, args.store, out or sys.stdout)
    try:
        failed = sum(run.one(url) for url in args.urls)
    finally:
        run.close()
    return EXIT_FAILED if failed else EXIT_OK


class _FetchRun:
    def __init__(
        self, settings: Any, registry: Any, outlet: str | None, store: bool, out: TextIO
    ) -> None:
        from crawler.outlet_kit.fetch import Fetcher
        from pipelines.dedup.params import DedupParams

        self.registry = registry
        self.forced = registry[outlet] if outlet else None
        self.store = _Store(settings, registry) if store else None
        self.params = self.store.params if self.store else DedupParams()
        self.polite = _Polite(settings.getfloat("DOWNLOAD_DELAY"))
        self.fetcher = Fetcher(settings.getint("DOWNLOAD_MAXSIZE"))  # robots.txt once an origin
        self.out = out

    def outlet_for(self, url: str) -> tuple[str | None, Any, str]:
        """(outlet id, extraction hints, language) for a URL: ``--outlet``'s, else with
        ``--store`` the registry's or a new one for the host, else the registry's if any."""
        from crawler.registry import ExtractionHints, host_allowed

        host = urlsplit(url).hostname or ""
        if not host:
            raise UsageError("URL", f"{url!r} has no host")
        if self.forced is not None:
            if not host_allowed(host, self.forced.allowed_domains):
                raise UsageError("--outlet", f"{url} is not on {self.forced.id}'s allowed_domains")
            return self.forced.id, self.forced.extraction, self.forced.language
        if self.store is not None:
            choice = self.store.outlets.for_url(url)
            if choice is not None:
                return choice.id, choice.hints, choice.language
        for outlet in self.registry.values():
            if host_allowed(host, outlet.allowed_domains):
                return outlet.id, outlet.extraction, outlet.language
        return None, ExtractionHints(), ""

    def one(self, url: str) -> bool:
        """Fetch, extract (and store) one URL and print its record; True when it failed."""
        outlet_id, hints, language = self.outlet_for(url)
        self.polite.wait(url)
        record = _fetch_one(self.fetcher, url, outlet_id, hints, language, self.params, self.store)
        print(json.dumps(record, ensure_ascii=False), file=self.out, flush=True)
        return "error" in record

    def close(self) -> None:
        if self.store is not None:
            from crawler import runtime

            runtime.shutdown()


class _Store:
    """The corpus a ``--store`` run writes into, with the crawl's dedup state."""

    def __init__(self, settings: Any, registry: Any) -> None:
        from crawler import runtime
        from pipelines.ingest.run import OutletResolver

        self.db = runtime.database(settings)
        self.state = runtime.dedup_state(settings)
        self.params = self.state.engine.params
        self.outlets = OutletResolver(self.db, registry)

    def put(self, outlet_id: str, url: str, fetched_url: str, extracted: Any) -> dict[str, Any]:
        from crawler.urls import canonical_url
        from pipelines.ingest.run import StoredPage, store_page
        from storage.clock import utcnow

        page = StoredPage(outlet_id, canonical_url(url), fetched_url, extracted, utcnow())
        result = store_page(self.db, self.state, page)
        match = result.decision.match if result.decision else None
        return {
            "stored": result.outcome,  # created, updated or unchanged
            "article_id": result.article_id,
            "duplicate_of": match.canonical_id if match else None,
        }


def _fetch_one(
    fetcher: Any,
    url: str,
    outlet_id: str | None,
    hints: Any,
    language: str,
    params: Any,
    store: _Store | None,
) -> dict[str, Any]:
    from crawler.cli.extract_batch import content_fields
    from crawler.decoding import charset_from_content_type
    from crawler.outlet_kit.fetch import ToolError
    from pipelines.ingest.work import Failed, PageTask, process_page

    record: dict[str, Any] = {"url": url}
    if outlet_id:
        record["outlet"] = outlet_id
    try:
        fetched = fetcher.fetch(url)
    except ToolError as exc:
        return {**record, "error": "fetch_failed", "detail": str(exc)}
    record["fetched_url"] = fetched.url
    charset = charset_from_content_type(fetched.content_type)
    result = process_page(PageTask(fetched.body, charset, fetched.url, hints, language, params))
    if isinstance(result, Failed):
        return {**record, "error": result.reason, "detail": result.detail}
    record.update(content_fields(result.content))
    if store is not None and outlet_id:
        record.update(store.put(outlet_id, url, fetched.url, result))
    return record


def register(sub: Any) -> None:
    p = sub.add_parser(
        "fetch",
        help="fetch live pages and print their clean text as extract does (--store: into the "
        "corpus, deduplicated)",
    )
    p.add_argument("urls", nargs="+", metavar="URL", help="article page to fetch")
    p.add_argument(
        "--store",
        action="store_true",
        help="store each page in the database under its outlet (--outlet, else the registry's "
        "outlet for its host, else one made for the host), deduplicated like crawled articles",
    )
    p.add_argument("--outlet", help="the outlet (its extraction hints; with --store, its corpus)")
    add_db_option(p)
    p.set_defaults(func=cmd_fetch)
