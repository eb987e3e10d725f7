"""Deduplicate any corpus in memory: documents in arrival order in, one cluster decision each
out. The same engine and defaults as the crawl pipeline (``newscrawl dedup``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import numpy as np

from crawler.dates import parse_date
from crawler.dedup import DedupEngine, DedupParams, DocInfo, Fingerprint, fingerprint
from storage.db import Database


@dataclass
class _Doc:
    shingles: np.ndarray
    exact: int
    published: datetime | None
    cluster_id: int
    matched_id: int | None = None
    similarity: float | None = None
    containment: float | None = None


class MemoryDeduper:
    """Documents get internal ids 0, 1, 2... in arrival order; clusters are named by the id of
    their first-arrived member and led by their earliest-published member."""

    def __init__(self, params: DedupParams | None = None) -> None:
        self.engine = DedupEngine(params or DedupParams())
        self.docs: list[_Doc] = []
        self.canonical: dict[int, int] = {}  # cluster id -> canonical doc id

    def get_many(self, doc_ids: Sequence[int]) -> Mapping[int, DocInfo]:
        out = {}
        for i in doc_ids:
            d = self.docs[i]
            out[i] = DocInfo(
                i, d.shingles, d.exact, d.published, d.cluster_id, self.canonical[d.cluster_id]
            )
        return out

    def add(self, text: str, published: datetime | None = None) -> int:
        return self.add_fingerprint(fingerprint(text, self.engine.params), published)

    def add_fingerprint(self, fp: Fingerprint, published: datetime | None = None) -> int:
        doc_id = len(self.docs)
        decision = self.engine.decide(fp, published, doc_id, self)
        if decision.match is None:
            self.docs.append(_Doc(fp.shingles, fp.exact, published, doc_id))
            self.canonical[doc_id] = doc_id
        else:
            m = decision.match
            self.docs.append(
                _Doc(
                    fp.shingles,
                    fp.exact,
                    published,
                    m.cluster_id,
                    m.matched_id,
                    m.similarity,
                    m.containment,
                )
            )
            if decision.becomes_canonical:
                old = self.docs[m.canonical_id]
                old.matched_id = doc_id
                old.similarity, old.containment = m.canonical_similarity, m.canonical_containment
                self.canonical[m.cluster_id] = doc_id
        self.engine.add(doc_id, fp)
        return doc_id

    def duplicate_of(self, doc_id: int) -> int | None:
        canonical = self.canonical[self.docs[doc_id].cluster_id]
        return None if canonical == doc_id else canonical


def read_jsonl(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not JSON: {exc.msg}") from exc
        if not isinstance(doc, dict) or "id" not in doc or not isinstance(doc.get("text"), str):
            raise ValueError(f"line {number}: needs an object with 'id' and a string 'text'")
        yield doc


def dedup_jsonl(source: Iterable[str], out: TextIO, params: DedupParams | None = None) -> int:
    """Read documents, write one decision line per document in input order; returns the count.
    Decisions are written at the end, so that each cluster's canonical member is the earliest
    published one however late it arrived."""
    deduper = MemoryDeduper(params)
    ids: list[Any] = []
    for doc in read_jsonl(source):
        published = parse_date(doc["published"]) if doc.get("published") else None
        deduper.add(doc["text"], published)
        ids.append(doc["id"])
    for i, doc_id in enumerate(ids):
        d = deduper.docs[i]
        dup = deduper.duplicate_of(i)
        record = {
            "id": doc_id,
            "cluster": ids[d.cluster_id],
            "duplicate_of": None if dup is None else ids[dup],
            "matched": None if d.matched_id is None else ids[d.matched_id],
            "similarity": d.similarity,
            "containment": d.containment,
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(ids)


DOC_URN = "urn:newscrawl:doc:"


def dedup_jsonl_into_database(
    source: Iterable[str],
    out: TextIO,
    db: Database,
    params: DedupParams | None = None,
    window_days: float = 30.0,
) -> int:
    """The same, with the database as the memory: documents are stored as articles (outlet
    ``outlet`` or ``corpus``; URL ``url`` or ``urn:newscrawl:doc:<id>``) with their signatures,
    so that a later run, or a crawl, finds them. Clusters and links are read back from SQL."""
    from sqlalchemy import select

    from crawler.dates import utcnow
    from crawler.extraction import text_hash
    from crawler.text import clean_field, clean_text
    from storage import repo, signatures
    from storage.models import Article

    params = params or DedupParams()
    scheme_id = signatures.ensure_scheme(db, params)
    engine = DedupEngine(params)
    for ids, keys in signatures.iter_index_rows(db, scheme_id, params, window_days):
        engine.index.add_many(ids, keys)
    order: list[tuple[Any, str]] = []
    outlets: set[str] = set()
    for doc in read_jsonl(source):
        text = clean_text(doc["text"])
        url = str(doc.get("url") or f"{DOC_URN}{doc['id']}")
        outlet = str(doc.get("outlet") or "corpus")
        if outlet not in outlets:
            repo.ensure_outlet(db, outlet)
            outlets.add(outlet)
        row = repo.ArticleRow(
            outlet_id=outlet,
            url=url,
            aliases=[],
            title=clean_field(doc.get("title")),
            author=None,
            published_at=parse_date(doc["published"]) if doc.get("published") else None,
            published_source="input" if doc.get("published") else None,
            language=None,
            description=None,
            tags=[],
            image=None,
            site_name=None,
            text=text,
            text_hash=text_hash(text),
            discovered_via=None,
            fetched_at=utcnow(),
        )
        repo.store_article(db, row, repo.DedupContext(engine, scheme_id, fingerprint(text, params)))
        order.append((doc["id"], url))
    with db.read() as s:
        rows = {
            a.url: a
            for a in s.scalars(select(Article).where(Article.url.in_([u for _, u in order])))
        }
        wanted = {r.cluster_id for r in rows.values()} | {
            x for r in rows.values() for x in (r.duplicate_of, r.dedup_match_id) if x
        }
        urls_by_id = dict(
            s.execute(select(Article.id, Article.url).where(Article.id.in_(wanted))).all()
        )

    def name(article_id: int | None) -> Any:
        if article_id is None:
            return None
        url = urls_by_id.get(article_id, "")
        return url[len(DOC_URN) :] if url.startswith(DOC_URN) else url

    for doc_id, url in order:
        a = rows[url]
        record = {
            "id": doc_id,
            "cluster": name(a.cluster_id),
            "duplicate_of": name(a.duplicate_of),
            "matched": name(a.dedup_match_id),
            "similarity": a.similarity,
            "containment": a.containment,
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(order)
