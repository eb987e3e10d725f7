"""Optional raw archive: every fetched response written to a WARC file (warcio), so a corpus can
be re-extracted later without re-crawling. On with ``newscrawl crawl --warc DIR`` (setting
``NEWSCRAWL_WARC_DIR``); one gzipped WARC file per outlet and run. ``read_responses`` reads
them back, and decodes a page as the crawl did (``crawler.decoding``).

An archive that cannot be written is not a detail to log and forget: ``newscrawl crawl`` checks
the folder before it crawls (``check_folder``), and a write that fails during the crawl (a full
disk) stops it with reason ``warc_error`` (the run ``failed``, exit 1)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.dates import utcnow
from crawler.decoding import Decoded, charset_from_content_type, decode_html

logger = logging.getLogger(__name__)


class WarcFolderError(ValueError):
    """The WARC folder is not a folder, or cannot be written."""


def check_folder(name: str) -> Path:
    """The WARC folder, created if missing, once a file could be created in it."""
    folder = Path(name)
    if folder.exists() and not folder.is_dir():
        raise WarcFolderError(f"{name} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".newscrawl-check-"):
            pass
    except OSError as exc:
        raise WarcFolderError(f"cannot write WARC files in {name}: {exc.strerror or exc}") from exc
    return folder


class WarcArchive:
    def __init__(self, crawler: Any, folder: Path) -> None:
        self.crawler = crawler
        self.folder = folder
        self.file: BinaryIO | None = None
        self.writer: WARCWriter | None = None
        self.failed = False
        self._closing: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # File writes and compression on their own thread, not the reactor's.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl-warc")
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcArchive:
        folder = crawler.settings.get("NEWSCRAWL_WARC_DIR")
        if not folder:
            raise NotConfigured  # off unless asked for: said nowhere (Scrapy warns when told why)
        return cls(crawler, Path(folder))

    def spider_opened(self, spider: Any) -> None:
        self._loop = asyncio.get_running_loop()  # the reactor's: failures are reported to it
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{spider.name}-{utcnow():%Y%m%dT%H%M%SZ}-{os.getpid()}.warc.gz"
            self.file = (self.folder / name).open("wb")
        except OSError as exc:
            self.fail(exc)
            return
        self.writer = WARCWriter(self.file, gzip=True)

    def fail(self, exc: BaseException) -> None:
        """Stop the crawl: responses that cannot be archived are not fetched silently."""
        if self.failed:
            return
        self.failed = True
        message = f"WARC archive failed, stopping the crawl: {exc}"
        logger.error(message)
        self.crawler.stats.set_value("newscrawl/warc_error", message[:1000])
        self._closing = asyncio.ensure_future(
            self.crawler.engine.close_spider_async(reason="warc_error")
        )

    def _written(self, future: Future[None]) -> None:
        exc = future.exception()
        if exc is not None and not self.failed and self._loop is not None:
            self._loop.call_soon_threadsafe(self.fail, exc)

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        if self.writer is None or self.failed:
            return
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in response.headers.items()
            for v in values
            if k.lower() not in (b"content-encoding", b"transfer-encoding")  # body is decoded
        ]
        future = self.executor.submit(
            self._write,
            response.url,
            response.status,
            headers,
            bytes(response.body),
            request.method,
            request.headers.to_unicode_dict(),
        )
        future.add_done_callback(self._written)

    def _write(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        method: str,
        request_headers: Any,
    ) -> None:
        assert self.writer is not None
        http = StatusAndHeaders(f"{status} -", headers, protocol="HTTP/1.1")
        record = self.writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http
        )
        self.writer.write_record(record)
        req_http = StatusAndHeaders(
            f"{method} {url} HTTP/1.1", list(request_headers.items()), is_http_request=True
        )
        self.writer.write_record(
            self.writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""), http_headers=req_http
            )
        )

    def spider_closed(self, spider: Any) -> None:
        self.executor.shutdown(wait=True)
        if self.file is not None:
            self.file.close()


@dataclass(frozen=True)
class ArchivedResponse:
    url: str
    status: int
    content_type: str
    body: bytes  # as the crawl saw it (after Content-Encoding)

    def decode(self) -> Decoded:
        """The page's text, decoded exactly as the crawl decodes a fetched page; raises
        crawler.decoding.Undecodable as the crawl would have recorded ``undecodable``."""
        return decode_html(self.body, charset_from_content_type(self.content_type))


def read_responses(path: Path) -> Iterator[ArchivedResponse]:
    """Every response record of a WARC file, in file order."""
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type != "response":
                continue
            http = record.http_headers
            yield ArchivedResponse(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(http.get_statuscode()) if http else 0,
                content_type=(http.get_header("Content-Type") or "") if http else "",
                body=record.content_stream().read(),
            )
