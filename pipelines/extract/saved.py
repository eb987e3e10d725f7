"""Saved pages read from disk or standard input for ``newscrawl extract``: capped as the crawl
caps a download, gunzipped when gzipped, never more than the cap in memory."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from typing import Protocol


class PageTooLarge(Exception):
    """A saved page over the size cap, as read or once decompressed."""

    reason = "too_large"  # as the crawl records a download over DOWNLOAD_MAXSIZE


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_capped(stream: _Readable, limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PageTooLarge(f"{what} over {limit} bytes (--max-size)")
    return data


def read_saved_page(name: str, limit: int) -> tuple[str, bytes]:
    """A saved page's name and bytes (``-``: standard input), gunzipped when gzipped; at most
    ``limit`` bytes either way, read and decompressed incrementally, so a gzip bomb costs
    ``limit`` bytes of memory at most."""
    if name == "-":
        data = _read_capped(sys.stdin.buffer, limit, "page")
    else:
        with Path(name).open("rb") as fh:
            data = _read_capped(fh, limit, "page")
    if data[:2] == b"\x1f\x8b":  # saved pages are often gzipped (.html.gz)
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            data = _read_capped(gz, limit, "decompressed page")
    return ("<stdin>" if name == "-" else name), data
