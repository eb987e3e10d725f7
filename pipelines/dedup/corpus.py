"""Deduplicate any corpus: documents in arrival order in, one cluster decision each out. The same
engine and defaults as the crawl pipeline (``newscrawl dedup``).

Memory is bounded per remembered document: the index (about 12 bytes per key) and a few numbers
live in RAM; the shingle sequences that verification reads, the ids and the evidence are
spooled to an unlinked temporary file. Documents older than the window (``window`` documents
back) are forgotten: nothing new is matched against them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, TextIO

import numpy as np
import xxhash

from crawler.dates import parse_date
from pipelines.dedup.engine import DedupEngine, DocInfo
from pipelines.dedup.evidence import Evidence
from pipelines.dedup.fingerprint import Fingerprint, fingerprint
from pipelines.dedup.params import DedupParams
from pipelines.dedup.rebuild import load_index
from pipelines.dedup.shingles import SCHEMES
from pipelines.dedup.spool import Column, Spool
from pipelines.dedup.store import DedupContext, ensure_scheme, store_article
from pipelines.extract.hygiene import clean_text
from storage.articles import ArticleRow
from storage.clusters import links_by_url
from storage.content import ArticleContent
from storage.db import Database
from storage.outlets import ensure_outlet

#: What a decision line says when a text could not take part: no words to compare.
NO_WORDS = "no_words"


@dataclass
class DocResult:
    """One document's decision, as the output line states it."""

    cluster_id: int | None  # None: a stored article that was never clustered
    duplicate_of: int | None
    matched_id: int | None
    evidence: dict[str, Any] | None
    reason: str | None


class MemoryDeduper:
    """Documents get internal ids 0, 1, 2... in arrival order; clusters are named by the id of
    their first-arrived member and led by their earliest-published member. ``window``: how
    many of the latest documents are remembered (None: all)."""

    def __init__(
        self,
        params: DedupParams | None = None,
        window: int | None = None,
        spool_dir: str | None = None,
    ) -> None:
        self.engine = DedupEngine(params or DedupParams())
        self.window = window
        self._tokens = Spool(spool_dir)
        self._evidence = Spool(spool_dir)
        self._exact = Column(np.uint64)
        self._published = Column(np.float64, np.nan)
        self._cluster = Column(np.int32)
        self._canonical = Column(np.int32)  # by cluster id (= the first member's id)
        self._matched = Column(np.int32, -1)
        self._scheme = Column(np.uint8)
        self._empty = Column(np.bool_)
        self._scheme_names = list(SCHEMES)

    def __len__(self) -> int:
        return len(self._cluster)

    # -- the engine's view of remembered documents ------------------------------------------

    def get_many(self, doc_ids: Sequence[int]) -> Mapping[int, DocInfo]:
        out = {}
        low = self._oldest_remembered()
        for i in doc_ids:
            if i < low or i >= len(self):
                continue
            cluster = int(self._cluster[i])
            published = float(self._published[i])
            out[i] = DocInfo(
                i,
                np.frombuffer(self._tokens.get(i), dtype="<u4"),
                int(self._exact[i]),
                None if np.isnan(published) else _from_timestamp(published),
                cluster,
                int(self._canonical[cluster]),
            )
        return out

    def _oldest_remembered(self) -> int:
        return 0 if self.window is None else max(0, len(self) - self.window)

    # -- adding documents ---------------------------------------------------------------------

    def add(self, text: str, published: datetime | None = None) -> int:
        # nothing is stored: the MinHash signatures (for corpus users) would be thrown away
        fp = fingerprint(text, self.engine.params, minhash=False)
        return self.add_fingerprint(fp, published, text)

    def add_fingerprint(
        self, fp: Fingerprint, published: datetime | None = None, text: str | None = None
    ) -> int:
        doc_id = len(self)
        decision = self.engine.decide(fp, published, doc_id, self)
        self._tokens.append(np.ascontiguousarray(fp.tokens, dtype="<u4").tobytes())
        self._exact.append(fp.exact)
        self._published.append(published.timestamp() if published else np.nan)
        self._scheme.append(self._scheme_names.index(fp.scheme))
        self._empty.append(fp.empty)
        self._canonical.append(doc_id)  # its own cluster's slot, used if it leads one
        self._matched.append(-1)
        m = decision.match
        if m is None:
            self._cluster.append(doc_id)
            self._evidence.append(b"")
        else:
            self._cluster.append(m.cluster_id)
            self._matched[doc_id] = m.matched_id
            self._evidence.append(_evidence_blob(m.evidence, fp, text, doc_id))
            if decision.becomes_canonical:
                old = int(self._canonical[m.cluster_id])
                # the old canonical keeps the evidence that links it to the new one
                self._matched[old] = doc_id
                self._evidence.replace(old, _evidence_blob(m.canonical_evidence, fp, text, doc_id))
                self._canonical[m.cluster_id] = doc_id
        self.engine.add(doc_id, fp)
        if self.window is not None and doc_id >= self.window:
            self.engine.index.forget_below(doc_id + 1 - self.window)
        return doc_id

    # -- reading decisions ----------------------------------------------------------------------

    def duplicate_of(self, doc_id: int) -> int | None:
        canonical = int(self._canonical[int(self._cluster[doc_id])])
        return None if canonical == doc_id else canonical

    def cluster_of(self, doc_id: int) -> int:
        return int(self._cluster[doc_id])

    def result(self, doc_id: int) -> DocResult:
        matched = int(self._matched[doc_id])
        blob = self._evidence.get(doc_id)
        return DocResult(
            cluster_id=self.cluster_of(doc_id),
            duplicate_of=self.duplicate_of(doc_id),
            matched_id=None if matched < 0 else matched,
            evidence=json.loads(blob) if blob else None,
            reason=NO_WORDS if self._empty[doc_id] else None,
        )

    def close(self) -> None:
        self._tokens.close()
        self._evidence.close()


def _from_timestamp(value: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(value, UTC)


def _evidence_blob(evidence: Evidence, fp: Fingerprint, text: str | None, doc_id: int) -> bytes:
    return json.dumps(evidence.describe(fp.scheme, text, doc_id), ensure_ascii=False).encode()


# -- JSON Lines in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str


@dataclass
class ReadReport:
    documents: int = 0
    bad: list[BadLine] = field(default_factory=list)


class BadInput(ValueError):
    """A line that cannot be a document (and ``--skip-bad`` was not given)."""

    def __init__(self, bad: BadLine) -> None:
        super().__init__(f"line {bad.number}: {bad.reason}")
        self.bad = bad


def _has_surrogates(value: Any) -> bool:
    return isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value)


def parse_line(raw: bytes, number: int) -> dict[str, Any] | BadLine | None:
    """One input line: a document, a BadLine saying why not, or None for a blank line."""
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(number, f"not UTF-8 (byte {exc.start})")
    if not line.strip():
        return None
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(number, f"not JSON: {exc.msg}")
    if not isinstance(doc, dict) or "id" not in doc or not isinstance(doc.get("text"), str):
        return BadLine(number, "needs an object with 'id' and a string 'text'")
    if not isinstance(doc["id"], str | int) or isinstance(doc["id"], bool):
        return BadLine(number, "'id' must be a string or an integer")
    if _has_surrogates(doc["id"]) or _has_surrogates(doc.get("url")):
        return BadLine(number, "'id' or 'url' holds a lone surrogate (not Unicode text)")
    return doc


def read_jsonl(
    lines: Iterable[bytes], report: ReadReport, skip_bad: bool = False
) -> Iterator[dict[str, Any]]:
    """Documents from JSON Lines bytes. A bad line, or an id seen before, is reported in
    ``report`` and skipped (``skip_bad``) or raises BadInput; the documents before it were
    already given out."""
    first_line: dict[int, int] = {}  # 64-bit hash of the id -> its line
    for number, raw in enumerate(lines, 1):
        doc = parse_line(raw, number)
        if doc is None:
            continue
        if isinstance(doc, dict):
            key = xxhash.xxh64_intdigest(json.dumps(doc["id"]).encode())
            seen = first_line.get(key)
            if seen is None:
                first_line[key] = number
                report.documents += 1
                yield doc
                continue
            doc = BadLine(number, f"id {json.dumps(doc['id'])} repeats line {seen}")
        report.bad.append(doc)
        if not skip_bad:
            raise BadInput(doc)


def _published(doc: Mapping[str, Any]) -> datetime | None:
    value = doc.get("published")
    return parse_date(value) if isinstance(value, str) else None


def _line(
    doc_id: Any, result: DocResult, name: Any, similarity: Any = None, containment: Any = None
) -> str:
    evidence = result.evidence or {}
    record = {
        "id": doc_id,
        "cluster": name(result.cluster_id),
        "duplicate_of": name(result.duplicate_of),
        "matched": name(result.matched_id),
        "similarity": evidence.get("similarity", similarity),
        "containment": evidence.get("containment", containment),
        "coverage": evidence.get("coverage"),
        "passages": evidence.get("passages"),
        "passages_in": name(evidence.get("in")),
        "reason": result.reason,
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


def dedup_jsonl(
    source: Iterable[bytes],
    out: TextIO,
    params: DedupParams | None = None,
    *,
    window: int | None = None,
    skip_bad: bool = False,
    spool_dir: str | None = None,
) -> ReadReport:
    """Read documents, write one decision line per document in input order. Decisions are
    written at the end, so that each cluster's canonical member is the earliest published one
    however late it arrived; until then they wait in the spool file, not in RAM. A bad line
    without ``skip_bad`` stops the reading, and the documents before it are still written."""
    deduper = MemoryDeduper(params, window=window, spool_dir=spool_dir)
    ids = Spool(spool_dir)
    report = ReadReport()
    try:
        try:
            for doc in read_jsonl(source, report, skip_bad):
                deduper.add(clean_text(doc["text"]), _published(doc))
                ids.append(json.dumps(doc["id"]).encode())
        finally:

            def name(i: int | None) -> Any:
                return None if i is None else json.loads(ids.get(i))

            for i in range(len(deduper)):
                out.write(_line(name(i), deduper.result(i), name))
            out.flush()
    finally:
        deduper.close()
        ids.close()
    return report


DOC_URN = "urn:newscrawl:doc:"


def dedup_jsonl_into_database(
    source: Iterable[bytes],
    out: TextIO,
    db: Database,
    params: DedupParams | None = None,
    window_days: float = 30.0,
    *,
    skip_bad: bool = False,
) -> ReadReport:
    """The same, with the database as the memory: documents are stored as articles (outlet
    ``outlet`` or ``corpus``; URL ``url`` or ``urn:newscrawl:doc:<id>``) with their signatures,
    so that a later run, or a crawl, finds them. Clusters and links are read back from SQL."""
    from crawler.dates import utcnow
    from pipelines.extract.hygiene import clean_field
    from pipelines.extract.page import text_hash

    params = params or DedupParams()
    scheme_id = ensure_scheme(db, params)
    engine = DedupEngine(params)
    load_index(db, engine, scheme_id, window_days)
    order: list[tuple[Any, str, bool]] = []  # id, URL, has no words
    outlets: set[str] = set()
    report = ReadReport()
    try:
        for doc in read_jsonl(source, report, skip_bad):
            text = clean_text(doc["text"])
            url = str(doc.get("url") or f"{DOC_URN}{doc['id']}")
            outlet = str(doc.get("outlet") or "corpus")
            if outlet not in outlets:
                ensure_outlet(db, outlet)
                outlets.add(outlet)
            row = ArticleRow(
                outlet_id=outlet,
                url=url,
                aliases=[],
                content=ArticleContent(
                    title=clean_field(title)
                    if isinstance(title := doc.get("title"), str)
                    else None,
                    published_at=_published(doc),
                    published_source="input" if _published(doc) else None,
                    text=text,
                    text_hash=text_hash(text),
                ),
                discovered_via=None,
                fetched_at=utcnow(),
                revision_cause="import",
            )
            fp = fingerprint(text, params)
            store_article(db, row, DedupContext(engine, scheme_id, fp))
            order.append((doc["id"], url, fp.empty))
    finally:
        _write_stored_decisions(db, order, out)
    return report


def _write_stored_decisions(db: Database, order: list[tuple[Any, str, bool]], out: TextIO) -> None:
    """Decision lines for the stored documents, read back from SQL in input order."""
    if not order:
        return
    rows, urls_by_id = links_by_url(db, [u for _, u, _ in order])

    def name(article_id: int | None) -> Any:
        if article_id is None:
            return None
        url = urls_by_id.get(article_id, "")
        return url[len(DOC_URN) :] if url.startswith(DOC_URN) else url

    for doc_id, url, empty in order:
        a = rows[url]
        result = DocResult(
            cluster_id=a.cluster_id,
            duplicate_of=a.duplicate_of,
            matched_id=a.matched_id,
            evidence=a.evidence,
            reason=NO_WORDS if empty else None,
        )
        out.write(_line(doc_id, result, name, a.similarity, a.containment))
    out.flush()


def binary_lines(name: str) -> Iterator[bytes]:
    """The input's lines as bytes (``-``: standard input)."""
    stream: BinaryIO = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
    try:
        yield from stream
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
