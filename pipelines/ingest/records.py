"""WARC records in, the pages worth extracting out: HTML responses with status 200, each with
where it lies in its file (record id and offset) so the raw page can be read again.

The reader is FastWARC (``fastwarc``, Resiliparse's WARC library; Apache 2.0, maintained, typed,
wheels on PyPI). Measured on this machine on a 120 MB gzipped WARC of 3,000 news pages (the
extraction benchmark's pages, cycled), reading every response's headers and payload: warcio
2.23 s, FastWARC 1.06 s (2.1x). Reading is a small share of an ingest next to extraction, but
it happens in the one main process that also stores, which is what limits the scaling across
cores. warcio stays the crawl's writer (``crawler/extensions/warc.py``).

FastWARC stops quietly at the end of a truncated gzip member, so the payload read is checked
against the record's declared length: a short one is ``WarcDamaged`` (as is a decompression or
header error, which FastWARC raises as OSError); the records before it were read and stored."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

HTML_TYPES = ("text/html", "application/xhtml+xml")


class WarcDamaged(Exception):
    """The file cannot be read on from here: truncated, corrupt, or not a WARC file."""

    def __init__(self, path: Path, offset: int | None, detail: str) -> None:
        self.path = path
        self.offset = offset
        self.detail = detail
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{path}{where}: {detail}")


@dataclass(frozen=True)
class WarcPage:
    """An HTML 200 response, as the archive holds it."""

    record_id: str
    offset: int  # the record's start in the file (of its gzip member, in a .warc.gz)
    url: str
    date: datetime | None  # WARC-Date: when it was fetched
    charset: str | None  # the Content-Type's charset label
    body: bytes


@dataclass(frozen=True)
class Skipped:
    """A response record that holds no article: ``reason`` says why (counted, not stored)."""

    reason: str  # "status", "not_html", "too_large", "content_encoded", "no_url"
    record_id: str


def _skip_reason(record: WarcRecord, max_size: int) -> str | None:
    http = record.http_headers
    if http is None:
        return "not_http"
    if http.status_code != 200:
        return "status"
    if (record.http_content_type or "").lower() not in HTML_TYPES:
        return "not_html"
    encoding = (http.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", ""):
        # archives store the payload decoded (CC renames the header, the crawl drops it)
        return "content_encoded"
    if record.content_length > max_size:
        return "too_large"
    return None


def _complete(path: Path, offset: int) -> bool:
    """Whether the file ends where its record at ``offset`` ends: the record holds all the
    bytes its header declares and, in a gzipped file, its gzip member is whole and nothing
    follows it (a cut that falls inside the next record's header leaves such a fragment)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        if fh.read(2) == b"\x1f\x8b":
            fh.seek(offset)
            member = zlib.decompressobj(wbits=31)
            while not member.eof and (chunk := fh.read(1 << 16)):
                while chunk and not member.eof:
                    member.decompress(chunk, 1 << 20)  # output discarded, memory bounded
                    chunk = member.unconsumed_tail
            if not member.eof or member.unused_data or fh.read(1):
                return False
        fh.seek(offset)
        for record in ArchiveIterator(fh, parse_http=False):
            expected = record.content_length
            return len(record.reader.read() if record.reader is not None else b"") >= expected
    return False


def read_pages(path: Path, max_size: int) -> Iterator[WarcPage | Skipped]:
    """Every response record of ``path`` in file order: a WarcPage, or why it was skipped.
    Other record types (request, warcinfo, metadata) are not returned. Raises WarcDamaged
    where the file stops making sense: a record cut short (FastWARC ends quietly at the end
    of a truncated file, so the last record is read again and its length checked), a
    decompression or header error."""
    offset: int | None = None
    try:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh, parse_http=False):
                offset = record.stream_pos
                if record.record_type != WarcRecordType.response:
                    continue
                record.parse_http()
                reason = _skip_reason(record, max_size)
                url = record.headers.get("WARC-Target-URI") or ""
                if reason is None and not url:
                    reason = "no_url"
                if reason is not None:
                    yield Skipped(reason, record.record_id or "")
                    continue
                expected = record.content_length
                body = record.reader.read() if record.reader is not None else b""
                if len(body) < expected:
                    raise WarcDamaged(path, offset, f"truncated: {len(body)} of {expected} bytes")
                yield WarcPage(
                    record_id=record.record_id or f"{path.name}@{offset}",
                    offset=offset,
                    url=url,
                    date=record.record_date,
                    charset=record.http_charset,
                    body=body,
                )
        if offset is not None and not _complete(path, offset):
            raise WarcDamaged(path, offset, "truncated: the last record ends early")
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise WarcDamaged(path, None, exc.strerror or str(exc)) from exc
        raise WarcDamaged(path, offset, f"unreadable after this record: {exc}") from exc


def read_page_at(path: Path, offset: int, record_id: str, max_size: int) -> WarcPage | Skipped:
    """The response record ``record_id`` at ``offset`` of ``path``, read again (``newscrawl
    reextract``). Raises WarcDamaged when the file is missing or unreadable, or holds another
    record there, or the record is cut short."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh, parse_http=False)), None)
            if record is None or (record.record_id or "") != record_id:
                raise WarcDamaged(path, offset, f"no record {record_id} here")
            record.parse_http()
            reason = _skip_reason(record, max_size)
            if reason is not None:
                return Skipped(reason, record_id)
            expected = record.content_length
            body = record.reader.read() if record.reader is not None else b""
            if len(body) < expected:
                raise WarcDamaged(path, offset, f"truncated: {len(body)} of {expected} bytes")
            return WarcPage(
                record_id=record_id,
                offset=offset,
                url=record.headers.get("WARC-Target-URI") or "",
                date=record.record_date,
                charset=record.http_charset,
                body=body,
            )
    except OSError as exc:
        raise WarcDamaged(path, offset, exc.strerror or str(exc)) from exc
