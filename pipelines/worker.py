"""What each extraction worker process runs first. Kept apart from ``crawler.runtime``, which
the crawl's main process uses: a worker that imported it would also load SQLAlchemy, Twisted
and the store for nothing (about 25 MiB of each worker's memory)."""

from __future__ import annotations

import contextlib


def warm_up_worker() -> None:
    """Import and exercise the extractor and the fingerprint once in each new worker, so that a
    document's time limit measures its own work, not the worker's start-up."""
    from pipelines.dedup.fingerprint import fingerprint
    from pipelines.dedup.params import DedupParams
    from pipelines.extract.page import ExtractionFailed, extract_page

    text = "warm up " * 40
    with contextlib.suppress(ExtractionFailed):
        extract_page(
            f"<html><body><article><p>{text}</p></article></body></html>", "http://localhost/"
        )
    fingerprint(text * 3, DedupParams())
