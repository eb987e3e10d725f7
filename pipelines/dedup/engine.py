"""Near-duplicate engine: exact and near copies of one story, across outlets and runs.

Real syndicated copies are far less alike than one would guess: another headline, dateline and
byline, a rewritten lead, paragraphs added in the middle, the end trimmed. A copy's containment
against an earlier member of its story is often 0.3-0.6, its Jaccard 0.15-0.4; same-topic
reporting that shares two quotes can reach the same figures. So the engine finds candidates
at low overlap and decides on what copies have and same-topic stories lack: long verbatim
passages, in the same order, covering much of the shorter text.

- Exact level: a 64-bit hash of the normalised units (words or characters) of the text. A text
  with no units at all (empty, punctuation, symbols) has no fingerprint and is never linked.
- Candidates: *anchors*, a content-defined sample of the text's shingles (those whose hash has
  its low ``anchor_bits`` bits zero: 1 in 8), in an inverted index. A copy that keeps a third of
  another text keeps about a third of its anchors, wherever the cut falls (a min-hash sample
  would not: it follows Jaccard, which trimming sinks). Anchors listed by more than
  ``stop_postings`` documents are stock phrases or boilerplate and are not used for lookup.
  datasketch MinHash signatures (affine32) of the body and of its lead are stored with every
  text, a standard sketch for corpus users; their LSH bands are no longer index keys:
  measured on real copies, they found no copy the anchors missed (docs/benchmarks.md).
- Verification, exact, on the two texts' shingle sequences (``compare``): the passages they
  share (runs of consecutive shared shingles), their coverage of each text, and the plain
  Jaccard and containment. A copy shares long passages (``min_passage`` shingles and more)
  that cover much of the shorter text; same-topic stories share short quotes and names. Every
  link keeps this evidence: the scores and the longest shared passages.
- Clusters: a new document attaches to its best verified match, and only if it is a verified
  copy of that cluster's canonical article too, so a digest quoting two stories cannot chain
  them together. The canonical article is the earliest published member.
- Texts under ``min_shingles`` shingles are matched by their exact hash only (tiny sets match
  anything).

The index is a compact, append-only structure of sorted numpy arrays (12 bytes per entry), not
datasketch's dict-of-sets index (about 11 KB per document at this many bands).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from pipelines.dedup.evidence import Evidence, compare, is_copy, is_mutual_copy
from pipelines.dedup.fingerprint import Fingerprint, index_keys, sorted_unique
from pipelines.dedup.index import BandIndex
from pipelines.dedup.params import DedupParams


@dataclass(frozen=True)
class DocInfo:
    """What verification and clustering need about an indexed document."""

    doc_id: int
    tokens: np.ndarray  # shingle hashes in text order
    exact: int
    published: datetime | None
    cluster_id: int
    canonical_id: int


class DocLookup(Protocol):
    def get_many(self, doc_ids: Sequence[int]) -> Mapping[int, DocInfo]: ...


@dataclass(frozen=True)
class Match:
    matched_id: int
    cluster_id: int
    canonical_id: int
    canonical_published: datetime | None
    evidence: Evidence
    # The new document against the cluster's canonical article (verified too): the evidence
    # the old canonical keeps when the new document, published earlier, takes its place.
    canonical_evidence: Evidence

    @property
    def similarity(self) -> float:
        return self.evidence.similarity

    @property
    def containment(self) -> float:
        return self.evidence.containment

    @property
    def exact(self) -> bool:
        return self.evidence.exact


def _published_key(published: datetime | None, doc_id: int) -> tuple[int, float, int]:
    """Earliest published first; unknown dates after known ones; then the lower id."""
    if published is None:
        return (1, 0.0, doc_id)
    return (0, published.timestamp(), doc_id)


@dataclass
class Decision:
    """Where a new document goes: a new cluster, or an existing one (maybe as its new
    canonical member, when it was published before the current canonical)."""

    match: Match | None = None
    becomes_canonical: bool = True
    scheme: str = "word"  # the new document's shingling scheme (to quote its passages)


@dataclass
class DedupEngine:
    params: DedupParams = field(default_factory=DedupParams)
    index: BandIndex = field(default_factory=BandIndex)

    def keys(self, fp: Fingerprint) -> np.ndarray:
        return fp.keys if fp.keys is not None else index_keys(fp, self.params)

    def candidates(self, fp: Fingerprint) -> list[int]:
        """Indexed documents worth verifying: the same exact hash, or at least
        ``min_shared_anchors`` anchors in common; most anchors in common first, at most
        ``max_candidates``."""
        if fp.empty:
            return []
        keys = self.keys(fp)
        if len(keys) == 1:  # a short text: its exact key only
            return rank_candidates(self.index.query(keys), {}, {}, 0, self.params)
        # One lookup for all keys: a document sharing the exact key shares all the anchors
        # too, and one sharing the anchors without the text is what the anchors are for.
        docs, shared = self.index.query_arrays(keys, self.params.stop_postings, int(keys[0]))
        enough = shared >= self.params.min_shared_anchors  # before looking up their sizes
        docs, shared = docs[enough], shared[enough]
        sizes = self.index.key_counts(docs) - 1
        anchored = dict(zip(docs.tolist(), shared.tolist(), strict=True))
        counts = dict(zip(docs.tolist(), sizes.tolist(), strict=True))
        return rank_candidates({}, anchored, counts, len(keys) - 1, self.params)

    def match(
        self, fp: Fingerprint, lookup: DocLookup, candidates: Sequence[int] | None = None
    ) -> Match | None:
        """The best verified earlier document for ``fp`` (among the index's candidates, or
        the given ones), or None."""
        if fp.empty:
            return None
        ids = self.candidates(fp) if candidates is None else list(candidates)
        if not ids:
            return None
        infos = lookup.get_many(ids)
        verified: list[tuple[tuple[float, float, float, tuple[int, float, int]], DocInfo]] = []
        evidence: dict[int, Evidence] = {}
        for info in infos.values():
            checked = self.verify(fp, info)
            if checked is not None:
                evidence[info.doc_id] = checked
                # Most covered, then containment, then the earliest published, then lowest id.
                rank = (-checked.coverage, -checked.containment, -checked.similarity)
                verified.append(((*rank, _published_key(info.published, info.doc_id)), info))
        verified.sort(key=lambda v: v[0])
        for _rank, info in verified:
            # A document joins a cluster only if the cluster's canonical article confirms it:
            # otherwise a digest page that quotes two stories would chain them into one
            # cluster, and a follow-up quoting a paragraph would join through a short copy that
            # is little more than that paragraph. A mutual copy of the matched document needs
            # only a shared passage with the canonical (two copies may keep different parts of
            # a story); a text that merely contains, or is contained in, the matched one must be
            # a copy of the canonical too.
            canonical = infos.get(info.canonical_id) or lookup.get_many([info.canonical_id]).get(
                info.canonical_id
            )
            if canonical is None:
                continue
            if canonical.doc_id == info.doc_id:
                against_canonical: Evidence | None = evidence[info.doc_id]
            elif canonical.doc_id in evidence:
                against_canonical = evidence[canonical.doc_id]
            elif is_mutual_copy(evidence[info.doc_id], self.params):
                against_canonical = self.related(fp, canonical)
            else:
                against_canonical = self.verify(fp, canonical)
            if against_canonical is None:
                continue
            return Match(
                matched_id=info.doc_id,
                cluster_id=info.cluster_id,
                canonical_id=canonical.doc_id,
                canonical_published=canonical.published,
                evidence=evidence[info.doc_id],
                canonical_evidence=against_canonical,
            )
        return None

    def _evidence(self, fp: Fingerprint, info: DocInfo) -> Evidence | None:
        """Exact evidence between ``fp`` and ``info``; None when either has too little text."""
        if len(info.tokens) == 0:
            return None
        if info.exact == fp.exact:
            return Evidence(1.0, 1.0, 1.0, 1.0, exact=True)
        if not fp.indexed or len(info.tokens) < self.params.min_shingles:
            return None  # short texts match exactly or not at all
        old_unique = sorted_unique(info.tokens)
        if len(old_unique) < self.params.min_shingles:
            return None
        return compare(fp, info.tokens, old_unique, self.params)

    def related(self, fp: Fingerprint, info: DocInfo) -> Evidence | None:
        """The evidence when the two texts share at least one passage, else None."""
        checked = self._evidence(fp, info)
        return checked if checked is not None and (checked.exact or checked.passages) else None

    def verify(self, fp: Fingerprint, info: DocInfo) -> Evidence | None:
        """The evidence when ``info`` is a copy of ``fp`` (or the reverse), else None."""
        checked = self._evidence(fp, info)
        return checked if checked is not None and is_copy(checked, self.params) else None

    def decide(
        self, fp: Fingerprint, published: datetime | None, new_id_hint: int, lookup: DocLookup
    ) -> Decision:
        return self._decision(self.match(fp, lookup), published, new_id_hint, fp.scheme)

    def decide_among(
        self,
        fp: Fingerprint,
        published: datetime | None,
        candidates: Sequence[int],
        lookup: DocLookup,
    ) -> Decision:
        return self._decision(self.match(fp, lookup, candidates), published, 1 << 62, fp.scheme)

    @staticmethod
    def _decision(
        match: Match | None, published: datetime | None, new_id_hint: int, scheme: str
    ) -> Decision:
        if match is None:
            return Decision(scheme=scheme)
        earlier = _published_key(published, new_id_hint) < _published_key(
            match.canonical_published, match.canonical_id
        )
        return Decision(match=match, becomes_canonical=earlier, scheme=scheme)

    def add(self, doc_id: int, fp: Fingerprint) -> None:
        """Index a committed document (never before its commit: no ghosts after a rollback)."""
        keys = self.keys(fp)
        if len(keys):
            self.index.add(doc_id, keys)


def rank_candidates(
    exact: Mapping[int, int],
    anchored: Mapping[int, int],
    anchor_counts: Mapping[int, int],
    own_anchors: int,
    params: DedupParams,
) -> list[int]:
    """Candidates from the documents sharing the exact hash (``exact``, each worth verifying)
    and anchors (``anchored``, with how many they share): at least ``min_shared_anchors``, and
    at least ``anchor_share_min`` of the smaller document's anchors (``anchor_counts`` has
    each candidate's; an estimate of containment, since anchors are a sample). Most keys in
    common first, ties by the lower id, at most ``max_candidates``."""
    score = {
        doc: n
        for doc, n in anchored.items()
        if n >= params.min_shared_anchors
        and n >= params.anchor_share_min * min(own_anchors, anchor_counts.get(doc, own_anchors))
    }
    for doc in exact:
        score[doc] = score.get(doc, 0) + params.max_anchors + 1  # exact copies first
    ranked = sorted((-n, doc) for doc, n in score.items())
    return [doc for _n, doc in ranked[: params.max_candidates]]
