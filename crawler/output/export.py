"""Corpus export: JSON Lines, CSV and Parquet, streamed in constant memory.

Schema version 5 (every record carries ``schema_version``; Parquet also in its metadata).
Version 2 added ``matched``, ``coverage`` and ``evidence``; a canonical article's link fields
are all null. Version 3 made Parquet's ``published`` and ``fetched`` timestamps (UTC, to the
microsecond), so readers filter and sort them as times (JSON Lines and CSV keep ISO 8601 text),
and added ``extraction_confidence`` and ``extraction_evidence``. Version 4 added
``language_confidence`` and ``language_source``. Version 5 added ``modified``.

| field | type | meaning |
|---|---|---|
| schema_version | int | 1 |
| id | int | article id in this database |
| url | str | canonical URL |
| outlet | str | outlet id |
| title, author, description, language, image, site_name | str or null | metadata |
| published | str or null | ISO 8601, UTC (Parquet: timestamp, UTC) |
| modified | str or null | last modified, as the page (else its feed or sitemap) says; likewise |
| fetched | str | ISO 8601, UTC (Parquet: timestamp, UTC) |
| tags | list of str | (CSV: joined with " | ") |
| text | str | the article text |
| extraction_confidence | float or null | 0..1: how sure extraction is that this is the article |
| extraction_evidence | str or null | which extraction candidate won and why |
| language_confidence | float or null | 0..1: the language identifier's confidence in ``language`` |
| language_source | str or null | what set ``language``: "declared", "outlet" or "detected" |
| cluster | int or null | cluster id (the id of the cluster's first-stored member) |
| duplicate_of | int or null | the cluster's canonical article; null for the canonical one |
| similarity, containment | float or null | the verified match that linked a duplicate |
| matched | int or null | the article that match was made with |
| coverage | float or null | share of the shorter text inside passages the two share |
| evidence | object or null | why: the scores, and the shared passages (``at``, ``units``, |
| | | first words ``text``) in article ``in``; JSON text in CSV and Parquet |

Revisions (``--revisions``, revisions schema version 2, which added ``cause``): one record per
kept earlier version of an article, by article id and revision number; the article's current
version is the plain export's record.

| field | type | meaning |
|---|---|---|
| schema_version | int | 1 (of the revisions schema) |
| id | int | the article's id in this database |
| url | str | the article's canonical URL |
| outlet | str | outlet id |
| revision | int | 1 for the oldest version kept, then 2, 3, ... |
| seen | str | when this version was fetched: ISO 8601, UTC (Parquet: timestamp, UTC) |
| replaced | str | when the next version was fetched, replacing it (likewise) |
| changed | str | what the next version changed: ``title``, ``text`` or ``both`` |
| cause | str or null | what brought it: ``refetch``, ``ingest``, ``import`` or ``reextract`` (a |
| | | newer extractor on the same page: not the outlet's edit); null before version 2 |
| words_added, words_removed | int | words the next version added and removed |
| excerpt | str | the first changed passages: ``[-removed-] {+added+}`` in context |
| title | str or null | this version's headline |
| text | str | this version's text |
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from storage.content import EXPORT_FIELDS

if TYPE_CHECKING:
    from storage import exports

SCHEMA_VERSION = 5
FIELDS = ("schema_version", *EXPORT_FIELDS)
REVISIONS_SCHEMA_VERSION = 2
REVISION_FIELDS = (
    "schema_version",
    "id",
    "url",
    "outlet",
    "revision",
    "seen",
    "replaced",
    "changed",
    "cause",
    "words_added",
    "words_removed",
    "excerpt",
    "title",
    "text",
)


_REVISION_ONLY = frozenset(REVISION_FIELDS) - frozenset(FIELDS)


def check_fields(fields: Sequence[str] | None, known: tuple[str, ...] = FIELDS) -> tuple[str, ...]:
    if not fields:
        return known
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(fields)


def records(
    rows: Iterator[exports.ExportRow] | Iterator[exports.RevisionRow],
    fields: Sequence[str],
    version: int = SCHEMA_VERSION,
) -> Iterator[dict[str, Any]]:
    for row in rows:
        full = {"schema_version": version, **row.as_dict()}
        yield {f: full[f] for f in fields}


def write_jsonl(out: TextIO, recs: Iterator[dict[str, Any]]) -> int:
    n = 0
    for rec in recs:
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(out: TextIO, recs: Iterator[dict[str, Any]], fields: Sequence[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=list(fields))
    writer.writeheader()
    n = 0
    for rec in recs:
        if "tags" in rec:
            rec = {**rec, "tags": " | ".join(rec["tags"] or [])}
        writer.writerow(_evidence_as_text(rec))
        n += 1
    return n


def _evidence_as_text(rec: dict[str, Any]) -> dict[str, Any]:
    if rec.get("evidence") is None:
        return rec
    return {**rec, "evidence": json.dumps(rec["evidence"], ensure_ascii=False)}


_TIME_FIELDS = ("published", "modified", "fetched", "seen", "replaced")


def _times_as_datetimes(rec: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    return {
        k: datetime.fromisoformat(v) if k in _TIME_FIELDS and isinstance(v, str) else v
        for k, v in rec.items()
    }


def parquet_schema(fields: Sequence[str]) -> Any:
    import pyarrow as pa

    types = {
        "schema_version": pa.int32(),
        "id": pa.int64(),
        "tags": pa.list_(pa.string()),
        "cluster": pa.int64(),
        "duplicate_of": pa.int64(),
        "similarity": pa.float64(),
        "containment": pa.float64(),
        "matched": pa.int64(),
        "coverage": pa.float64(),
        "published": pa.timestamp("us", tz="UTC"),
        "modified": pa.timestamp("us", tz="UTC"),
        "fetched": pa.timestamp("us", tz="UTC"),
        # revisions
        "revision": pa.int32(),
        "seen": pa.timestamp("us", tz="UTC"),
        "replaced": pa.timestamp("us", tz="UTC"),
        "words_added": pa.int64(),
        "words_removed": pa.int64(),
        "extraction_confidence": pa.float64(),
        "language_confidence": pa.float64(),
    }
    schema = pa.schema([(f, types.get(f, pa.string())) for f in fields])
    if set(fields) & _REVISION_ONLY:
        meta = {"newscrawl_revisions_schema_version": str(REVISIONS_SCHEMA_VERSION)}
    else:
        meta = {"newscrawl_schema_version": str(SCHEMA_VERSION)}
    return schema.with_metadata(meta)


def write_parquet(path: Any, recs: Iterator[dict[str, Any]], fields: Sequence[str]) -> int:
    """Row groups of 2,000 records: memory stays flat however many rows there are."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(fields)
    n = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for rec in recs:
            batch.append(_times_as_datetimes(_evidence_as_text(rec)))
            if len(batch) >= 2000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
                batch.clear()
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n


@contextlib.contextmanager
def open_output(name: str, binary: bool = False) -> Iterator[IO[Any]]:
    """The file an export or a report goes to. A regular file (or a new one) is written beside
    it as ``NAME.partial`` and renamed over it once complete, so a reader never sees half a
    file; on any failure (a full disk, an interrupt) the partial file is removed and the old
    file, if any, is left as it was. Anything else that exists (``/dev/null``, a FIFO) is
    written to directly: renaming over a device would replace it with a regular file."""
    target = Path(name)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    mode = "wb" if binary else "w"
    encoding = None if binary else "utf-8"
    newline = None if binary else ""
    if target.exists() and not target.is_file():
        with open(target, mode, encoding=encoding, newline=newline) as out:
            yield out
        return
    real = Path(os.path.realpath(target))  # through a symlink: the link keeps its target
    partial = real.with_name(real.name + ".partial")
    try:
        with open(partial, mode, encoding=encoding, newline=newline) as out:
            yield out
        os.replace(partial, real)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


@dataclass(frozen=True)
class Writer:
    """One export format: whether it writes bytes, and how it writes records."""

    binary: bool
    write: Callable[[Any, Iterator[dict[str, Any]], Sequence[str]], int]


#: the export formats by name (``newscrawl export --format``); a new format is one entry here
WRITERS: dict[str, Writer] = {
    "jsonl": Writer(binary=False, write=lambda out, recs, _fields: write_jsonl(out, recs)),
    "csv": Writer(binary=False, write=write_csv),
    "parquet": Writer(binary=True, write=write_parquet),
}
FORMATS = tuple(WRITERS)


def write_to(
    name: str | None, writer: Writer, recs: Iterator[dict[str, Any]], fields: Sequence[str]
) -> int:
    """Write the records to the named file (``-`` or None: standard output); how many."""
    if name in (None, "-"):
        return writer.write(sys.stdout.buffer if writer.binary else sys.stdout, recs, fields)
    assert name is not None
    with open_output(name, binary=writer.binary) as out:
        return writer.write(out, recs, fields)


def write_error(name: str | None, exc: OSError) -> str:
    """``cannot write FILE: No space left on device``: the file and the reason, on one line."""
    if exc.strerror and name not in (None, "-"):
        return f"cannot write {name}: {exc.strerror}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
