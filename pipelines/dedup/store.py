"""The dedup engine's part in storing an article, taken inside the article's own transaction
(``storage.articles.upsert_article`` calls back at its fixed points): the cluster decision, the
cluster link and the signature commit with the article, or not at all. With the shared index
(``DedupContext.shared``) candidates come from the database's band table, under advisory locks
on the article's keys (``storage.bands.lock_keys``), so two copies stored at the same moment by
two processes still meet. Engine objects in, storage's plain values out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from pipelines.dedup.engine import Decision, DedupEngine, DocInfo, rank_candidates
from pipelines.dedup.evidence import Evidence
from pipelines.dedup.fingerprint import Fingerprint, anchors, pack, unpack
from pipelines.dedup.index import BandIndex
from pipelines.dedup.params import DedupParams, ParamsMismatch
from storage import bands, clusters, signatures
from storage.articles import ArticleRow, StoreResult
from storage.articles import upsert_article as upsert_row
from storage.db import Database


def ensure_scheme(db: Database, params: DedupParams) -> int:
    """The id of ``params``' scheme; refuses when stored signatures were made otherwise."""
    try:
        return signatures.ensure_scheme(db, params.fingerprint(), params.identity())
    except signatures.SchemeMismatch as exc:
        raise ParamsMismatch(
            f"the database holds {exc.count} signatures made with other dedup parameters "
            f"(scheme {exc.scheme}: {exc.params}); new ones would silently never match them. "
            "Re-fingerprint the stored articles with 'newscrawl upgrade --reindex' "
            "(clusters are kept), use the same parameters, or use a new database."
        ) from exc


def signature_values(fp: Fingerprint, params: DedupParams) -> signatures.SignatureValues:
    """The signature stored for ``fp``."""
    return signatures.SignatureValues(
        shingling=fp.scheme,
        exact=fp.exact,
        shingle_count=len(fp.shingles),
        minhash=pack(fp.signature),
        lead_minhash=pack(fp.lead),
        anchors=pack(anchors(fp.shingles, params)) if fp.indexed else b"",
        shingles=pack(fp.tokens),
    )


class SqlDocs:
    """Candidate documents for verification, read inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_many(self, doc_ids: Sequence[int]) -> Mapping[int, DocInfo]:
        return {
            r.article_id: DocInfo(
                doc_id=r.article_id,
                tokens=unpack(r.shingles),
                exact=r.exact,
                published=r.published_at,
                cluster_id=r.cluster_id,
                canonical_id=r.canonical_id,
            )
            for r in signatures.doc_rows(self.session, doc_ids)
        }


@dataclass
class BatchDocs:
    """The articles stored so far in one group-commit transaction: not in ``engine``'s index
    until the commit (no ghosts after a rollback), yet a copy later in the same batch must
    meet them, so they are candidates from a small index of their own."""

    engine: DedupEngine
    learned: list[tuple[int, Fingerprint]] = field(default_factory=list)
    _own: DedupEngine | None = None

    def add(self, article_id: int, fp: Fingerprint) -> None:
        self.learned.append((article_id, fp))
        if self._own is None:
            self._own = DedupEngine(self.engine.params, BandIndex())
        self._own.add(article_id, fp)

    def candidates(self, fp: Fingerprint) -> list[int]:
        return self._own.candidates(fp) if self._own is not None else []

    def committed(self) -> None:
        """The batch's transaction committed: the engine's index learns of its articles."""
        for article_id, fp in self.learned:
            self.engine.add(article_id, fp)


@dataclass(frozen=True)
class DedupContext:
    """The dedup engine's part in one store: the article's fingerprint, the engine that decides
    its cluster, and the parameter scheme its signature is stored under."""

    engine: DedupEngine
    scheme_id: int
    fingerprint: Fingerprint
    #: candidates come from the shared band table (every process's articles), not the
    #: engine's in-memory index (see ``storage.bands.lock_keys``)
    shared: bool = False
    #: the articles stored before this one in the same transaction (``store_articles``)
    batch: BatchDocs | None = None


@dataclass(frozen=True)
class DedupResult(StoreResult):
    #: where a newly created article went (None when it was not created)
    decision: Decision | None = None


def _decide(s: Session, row: ArticleRow, dedup: DedupContext) -> Decision:
    lookup = SqlDocs(s)
    fp = dedup.fingerprint
    if dedup.shared:
        params = dedup.engine.params
        keys = dedup.engine.keys(fp)
        exact, anchored, sizes = bands.band_candidates(s, keys, params.stop_postings)
        candidates = rank_candidates(exact, anchored, sizes, len(keys) - 1, params)
        return dedup.engine.decide_among(fp, row.content.published_at, candidates, lookup)
    if dedup.batch is not None and (pending := dedup.batch.candidates(fp)):
        ids = list(dict.fromkeys([*dedup.engine.candidates(fp), *pending]))
        decision = dedup.engine.decide_among(fp, row.content.published_at, ids, lookup)
    else:
        decision = dedup.engine.decide(
            fp, row.content.published_at, new_id_hint=1 << 62, lookup=lookup
        )
    if decision.match is None and not fp.empty:
        # Exact copies stored by another process since this one built its index.
        others = signatures.exact_matches(s, dedup.scheme_id, fp.exact)
        if others:
            decision = dedup.engine.decide_among(fp, row.content.published_at, others, lookup)
    return decision


def _link(
    evidence: Evidence, match_id: int, scheme: str, text: str | None, quoted_in: int
) -> clusters.Link:
    """A copy's link: the match that verified it and why (its passages are quoted from
    ``text``, the article ``quoted_in``)."""
    return clusters.Link(
        similarity=evidence.similarity,
        containment=evidence.containment,
        kind="exact" if evidence.exact else "near",
        match_id=match_id,
        evidence=evidence.describe(scheme, text, quoted_in),
    )


def apply_decision(
    session: Session, article_id: int, decision: Decision | None, text: str | None = None
) -> None:
    """Cluster links for a newly inserted article, with the evidence of the match (its
    passages quoted from ``text``). A canonical article's own link fields stay empty."""
    if decision is None or decision.match is None:
        clusters.start_cluster(session, article_id)
        return
    m = decision.match
    scheme = decision.scheme
    if decision.becomes_canonical:
        # Published before the cluster's canonical article: it leads the cluster from now on,
        # and the old canonical keeps the evidence that links it to the new one.
        old_link = _link(m.canonical_evidence, article_id, scheme, text, article_id)
        clusters.lead_cluster(session, article_id, m.cluster_id, m.canonical_id, old_link)
    else:
        link = _link(m.evidence, m.matched_id, scheme, text, article_id)
        clusters.join_cluster(session, article_id, m.cluster_id, m.canonical_id, link)


class DedupHook:
    """The dedup engine's writes at the fixed points of one article's store transaction."""

    def __init__(self, row: ArticleRow, dedup: DedupContext) -> None:
        self.row = row
        self.dedup = dedup
        self.decision: Decision | None = None
        self.created = False

    def begin(self, s: Session) -> None:
        if self.dedup.shared:
            # first of all, before any row lock: copies stored concurrently meet here
            bands.lock_keys(s, self.dedup.engine.keys(self.dedup.fingerprint))

    def new_url(self, s: Session) -> None:
        self.decision = _decide(s, self.row, self.dedup)

    def inserted(self, s: Session, article_id: int) -> None:
        dedup = self.dedup
        self.created = True
        apply_decision(s, article_id, self.decision, self.row.content.text)
        values = signature_values(dedup.fingerprint, dedup.engine.params)
        signatures.save_signature(s, article_id, dedup.scheme_id, values, new=True)
        if dedup.shared:
            bands.save_bands(s, article_id, dedup.engine.keys(dedup.fingerprint))

    def text_changed(self, s: Session, article_id: int) -> None:
        # same cluster; the signature follows the new text
        dedup = self.dedup
        values = signature_values(dedup.fingerprint, dedup.engine.params)
        signatures.save_signature(s, article_id, dedup.scheme_id, values)
        if dedup.shared:
            bands.save_bands(s, article_id, dedup.engine.keys(dedup.fingerprint), replace=True)


def upsert_article(
    s: Session, row: ArticleRow, dedup: DedupContext, hook: DedupHook | None = None
) -> DedupResult:
    """``storage.articles.upsert_article`` with the engine's decision, cluster link and
    signature, inside the caller's write transaction (``hook``: the engine's writes, its
    default ``DedupHook``; ``pipelines.dedup.relink`` passes one that re-decides the cluster)."""
    hook = hook or DedupHook(row, dedup)
    result = upsert_row(s, row, hook)
    decision = hook.decision if hook.created else None
    return DedupResult(
        result.article_id,
        result.outcome,
        result.changed,
        result.modified_moved,
        decision=decision,
    )


def store_article(
    db: Database,
    row: ArticleRow,
    dedup: DedupContext,
    also: Callable[[Session, DedupResult], None] | None = None,
    hook: DedupHook | None = None,
) -> DedupResult:
    """Store one article in its own transaction; the in-memory index learns of it only after
    the commit, so a failed commit leaves no ghost entry behind. ``also`` writes what belongs
    with the article in the same transaction (an ingested article's provenance)."""
    with db.write() as s:
        result = upsert_article(s, row, dedup, hook)
        if also is not None:
            also(s, result)
    if not dedup.shared and _learns(result):
        dedup.engine.add(result.article_id, dedup.fingerprint)
    return result


def _learns(result: StoreResult) -> bool:
    # a headline-only edit keeps the text, and so the index entry, it had
    return result.outcome == "created" or result.changed in ("text", "both")


def store_articles(
    db: Database,
    items: Sequence[tuple[ArticleRow, DedupContext | None]],
    also: Callable[[Session, int, StoreResult], None] | None = None,
) -> list[StoreResult]:
    """Store many articles in one transaction (group commit: one BEGIN and COMMIT, one
    session, for a batch), each exactly as ``store_article`` would, in order; an item without
    a dedup context is stored without one. The in-memory index learns of them only after the
    commit; before it, a copy later in the batch meets the earlier ones through ``BatchDocs``.
    ``also(session, k, result)`` writes what belongs with item ``k`` in the same transaction
    (an ingested article's provenance). A failure rolls the whole batch back and raises: none
    of it was stored."""
    results: list[StoreResult] = []
    batches: dict[int, BatchDocs] = {}  # by engine: one per process, in practice
    with db.write() as s:
        for k, (row, dedup) in enumerate(items):
            result: StoreResult
            if dedup is None:
                result = upsert_row(s, row)
            elif dedup.shared:  # the band table, written in this transaction, is the index
                result = upsert_article(s, row, dedup)
            else:
                batch = batches.setdefault(id(dedup.engine), BatchDocs(dedup.engine))
                result = upsert_article(s, row, replace(dedup, batch=batch))
                if _learns(result):
                    batch.add(result.article_id, dedup.fingerprint)
            if also is not None:
                also(s, k, result)
            results.append(result)
    for batch in batches.values():
        batch.committed()
    return results
