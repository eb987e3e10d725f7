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

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import xxhash

from crawler.textnorm import SCHEMES, shingle_hashes, unit_spans

#: Bump when shingling or hashing code changes in a way that changes stored values.
#: 2: look-alike letters folded; shingles stored in text order; anchors.
SHINGLING_VERSION = 2


class ParamsMismatch(RuntimeError):
    """Stored signatures were made with other parameters; they would silently never match."""


@dataclass(frozen=True)
class DedupParams:
    num_perm: int = 128
    lead_perm: int = 64
    seed: int = 20151009
    min_shingles: int = 50
    anchor_bits: int = 3  # 1 in 2**anchor_bits shingles is an anchor
    max_anchors: int = 48  # per document (the lowest-hashed, when there are more)
    # -- lookup and verification: change nothing stored, so changing them needs no re-index --
    stop_postings: int = 400  # anchors listed by more documents are not looked up
    min_shared_anchors: int = 2
    anchor_share_min: float = 0.2  # of the smaller document's anchors
    max_candidates: int = 32  # verified per document, most shared anchors first
    passage_seed_words: float = 6.0  # shared runs this long (in words' worth) seed passages...
    passage_gap_words: float = 2.0  # ...joined across gaps this long (an edit)...
    min_passage_words: float = 16.0  # ...into passages, when they span this many
    # A copy: shared passages cover most of the shorter text and some of the longer (a brief
    # made from a long wire story), or much of both (a copy with its own additions).
    coverage_min: float = 0.4
    coverage_longer_min: float = 0.1
    coverage_both_min: float = 0.3
    jaccard_min: float = 0.6  # or the two texts' shingle sets overlap this much
    containment_floor: float = 0.1  # below it, passages are not even looked for
    datasketch_scheme: str = "affine32"
    hash_function: str = "xxh64-polynomial-splitmix-32"

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.lead_perm < 1:
            raise ValueError("MinHash signatures need at least one permutation")
        if not 0 <= self.anchor_bits <= 8:
            raise ValueError("anchor_bits must be between 0 and 8")

    #: Fields that only steer lookup and verification: stored data does not depend on them.
    LOOKUP_FIELDS = (
        "stop_postings",
        "min_shared_anchors",
        "anchor_share_min",
        "max_candidates",
        "passage_seed_words",
        "passage_gap_words",
        "min_passage_words",
        "coverage_min",
        "coverage_longer_min",
        "coverage_both_min",
        "jaccard_min",
        "containment_floor",
    )

    def identity(self) -> dict[str, Any]:
        """Everything that decides signature values and index keys."""
        return {
            **asdict(self),
            "shingling": {name: asdict(s) for name, s in SCHEMES.items()},
            "shingling_version": SHINGLING_VERSION,
        }

    def fingerprint(self) -> str:
        """A hash of the parameters that change stored data (lookup and verification settings
        excluded: changing them needs no re-indexing)."""
        ident = self.identity()
        for key in self.LOOKUP_FIELDS:
            ident.pop(key)
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    @property
    def keys_per_document(self) -> int:
        """Index keys of a full-length document at most: its exact hash and its anchors."""
        return 1 + self.max_anchors


def _identity(x: int) -> int:
    return x


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> Any:
    # datasketch is imported where it is used: it pulls in scipy (0.7 s at every start-up)
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity).permutations


def datasketch_minhash(shingles: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """datasketch's own MinHash.update_batch (affine32) over 32-bit shingle hashes: the reference
    that ``minhash_values`` must equal (tests check it)."""
    from datasketch import MinHash

    m = MinHash(
        num_perm=num_perm,
        seed=seed,
        hashfunc=_identity,
        permutations=_permutations(num_perm, seed),
        scheme="affine32",
    )
    m.update_batch(shingles.tolist())
    return np.asarray(m.hashvalues, dtype=np.uint32)


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))


def minhash_values(shingles: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """The same values as datasketch's affine32 MinHash of ``shingles`` (its permutations, its
    MurmurHash3 pre-mix, min of a*h+b mod 2**32), without a Python call per shingle: this is
    most of the cost of a document otherwise."""
    a, b = _permutations(num_perm, seed)
    s1, m1, s2, m2 = _FMIX32
    h = shingles.astype(np.uint32, copy=False)
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    h = h ^ (h >> s1)
    if len(h) == 0:
        return np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32)
    # multiply.outer and an in-place add: several times faster than broadcasting h[:, None]
    table = np.multiply.outer(h, a)
    table += b
    values: np.ndarray = table.min(axis=0)
    return values.astype(np.uint32, copy=False)


@dataclass
class Fingerprint:
    """What the engine knows of one text; computed in worker processes, stored in SQL."""

    scheme: str
    exact: int  # 64-bit hash of the normalised text
    tokens: np.ndarray  # uint32 shingle hashes in text order, repeats kept
    indexed: bool = False  # long enough to be matched on its anchors, not only exactly
    signature: np.ndarray | None = None  # body MinHash, uint32[num_perm], when made
    lead: np.ndarray | None = None  # lead MinHash, uint32[lead_perm], when made
    keys: np.ndarray | None = None  # index keys, computed once
    _unique: np.ndarray | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        """No words at all: nothing to compare, never linked."""
        return len(self.tokens) == 0

    @property
    def shingles(self) -> np.ndarray:
        """Sorted unique shingle hashes."""
        if self._unique is None:
            self._unique = sorted_unique(self.tokens)
        return self._unique


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique for small uint32 arrays, by sort and mask (numpy's hash-based unique is
    slower at this size)."""
    if len(values) < 2:
        return np.array(values, dtype=np.uint32)
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    unique: np.ndarray = ordered[keep]
    return unique


def fingerprint(text: str, params: DedupParams, *, minhash: bool = True) -> Fingerprint:
    """The text's fingerprint. ``minhash``: also its datasketch MinHash signatures, which are
    stored with every article for corpus users (a third of the cost; matching does not use
    them, so an in-memory run that stores nothing skips them)."""
    scheme, ordered = shingle_hashes(text)
    exact = xxhash.xxh64_intdigest(ordered.tobytes(), seed=params.seed)
    unique = sorted_unique(ordered)
    fp = Fingerprint(
        scheme.name, exact, ordered, len(unique) >= params.min_shingles, _unique=unique
    )
    if fp.indexed and minhash:
        fp.signature = minhash_values(unique, params.num_perm, params.seed)
        fp.lead = minhash_values(
            sorted_unique(ordered[: scheme.lead]), params.lead_perm, params.seed + 1
        )
    fp.keys = index_keys(fp, params)
    return fp


def scheme_salt(name: str) -> int:
    return xxhash.xxh32_intdigest(name.encode()) << 16


def anchors(shingles: np.ndarray, params: DedupParams) -> np.ndarray:
    """The document's anchors: its unique shingles whose low ``anchor_bits`` bits are zero, at
    most ``max_anchors`` of them (the lowest: a long text and a trimmed copy of it then keep
    the same ones where they overlap, more often than not)."""
    mask = np.uint32((1 << params.anchor_bits) - 1)
    sampled: np.ndarray = shingles[(shingles & mask) == 0]  # sorted: the input is
    return sampled[: params.max_anchors]


def anchor_keys(sampled: np.ndarray, salt: int | np.ndarray) -> np.ndarray:
    """Index keys of anchors: the shingle hash in the high bits, salted with the scheme (one
    salt, or one per anchor), bit 0 set. Band keys are mixed and may collide with them, which
    costs a rare spurious candidate, verified away like any other."""
    salts = np.asarray(salt, dtype=np.uint64) | np.uint64(1)
    keys = (sampled.astype(np.uint64) << np.uint64(32)) ^ salts
    return np.asarray(keys, dtype=np.uint64)


def index_keys(fp: Fingerprint, params: DedupParams) -> np.ndarray:
    """The keys a document is indexed and queried under: its exact hash first, then (when long
    enough) its anchors. Salted with the shingling scheme: schemes never meet. A text with no
    words has none."""
    if fp.empty:
        return np.zeros(0, dtype=np.uint64)
    salt = scheme_salt(fp.scheme)
    exact = np.array([fp.exact ^ salt], dtype=np.uint64)
    if not fp.indexed:
        return exact
    return np.concatenate([exact, anchor_keys(anchors(fp.shingles, params), salt)])


class _Level:
    """One sorted run of the index: keys (uint64) and their document ids, and for a big run a
    directory of where each bucket of the key space (its top bits) starts, so that a lookup
    reads a few neighbouring entries instead of binary-searching megabytes (the keys are
    hashes: evenly spread, about two to a bucket)."""

    WINDOW = 8  # entries read per key; a longer run of one key falls back to binary search
    DIRECTORY_FROM = 1 << 16  # smaller runs stay in cache: binary search is fine

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
        self.keys = keys
        self.ids = ids
        self.shift = np.uint64(64)
        self.directory: np.ndarray | None = None
        if len(keys) >= self.DIRECTORY_FROM:
            bits = max(1, len(keys).bit_length() - 2)
            self.shift = np.uint64(64 - bits)
            counts = np.bincount((keys >> self.shift).astype(np.int64), minlength=1 << bits)
            self.directory = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        extra = self.directory.nbytes if self.directory is not None else 0
        return int(self.keys.nbytes + self.ids.nbytes + extra)

    def find(self, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first position, run length) of each sorted needle; length 0 where absent."""
        keys = self.keys
        if self.directory is None:
            lo = np.searchsorted(keys, needles, side="left")
            return lo, np.searchsorted(keys, needles, side="right") - lo
        bucket = (needles >> self.shift).astype(np.int64)
        start = self.directory[bucket].astype(np.int64)
        end = self.directory[bucket + 1].astype(np.int64)
        at = start[:, None] + np.arange(self.WINDOW)
        inside = at < end[:, None]
        hits = inside & (keys[np.minimum(at, len(keys) - 1)] == needles[:, None])
        sizes = hits.sum(axis=1)
        lo = start + np.argmax(hits, axis=1)
        spill = np.flatnonzero(end - start > self.WINDOW)  # a crowded bucket: search it
        if len(spill):
            wide = needles[spill]
            left = np.searchsorted(keys, wide, side="left")
            lo[spill] = left
            sizes[spill] = np.searchsorted(keys, wide, side="right") - left
        return lo, sizes


class BandIndex:
    """Append-only inverted index: key -> document ids, in sorted numpy arrays.

    New entries collect in a dict; past ``flush_at`` entries they become a sorted level, and
    levels of similar size are merged (a log-structured merge), so memory stays at about 14
    bytes per entry (12, and a bucket directory) and a query reads a few entries per level.
    Documents below ``min_id`` are forgotten (a window): queries skip them and merges drop
    them."""

    def __init__(self, flush_at: int = 1 << 15) -> None:
        self.flush_at = flush_at
        self._levels: list[_Level] = []
        self._pending: dict[int, list[int]] = {}  # for queries
        self._pending_keys: list[int] = []  # the same entries in order, for the flush
        self._pending_ids: list[int] = []
        self._pending_entries = 0
        self.documents = 0
        self.min_id = 0
        # keys per document, by id (one byte each, capped at 255): a candidate's share of
        # common anchors is judged against the smaller of the two documents
        self._key_counts = np.zeros(1024, dtype=np.uint8)

    def _count(self, doc_ids: np.ndarray, counts: np.ndarray) -> None:
        top = int(doc_ids.max()) + 1
        if top > len(self._key_counts):
            grown = np.zeros(max(top, 2 * len(self._key_counts)), dtype=np.uint8)
            grown[: len(self._key_counts)] = self._key_counts
            self._key_counts = grown
        self._key_counts[doc_ids] = np.minimum(counts, 255)

    def key_count(self, doc_id: int) -> int:
        return int(self._key_counts[doc_id]) if doc_id < len(self._key_counts) else 0

    def add(self, doc_id: int, keys: np.ndarray) -> None:
        listed = keys.tolist()
        for key in listed:
            self._pending.setdefault(key, []).append(doc_id)
        self._pending_keys.extend(listed)
        self._pending_ids.extend([doc_id] * len(listed))
        self._pending_entries += len(keys)
        self.documents += 1
        if doc_id >= len(self._key_counts):
            self._count(np.array([doc_id]), np.array([len(keys)]))
        else:
            self._key_counts[doc_id] = min(len(keys), 255)
        if self._pending_entries >= self.flush_at:
            self.flush()

    def add_many(self, doc_ids: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> None:
        """Bulk load (index rebuild): ``keys`` holds the documents' keys end to end,
        ``counts[i]`` of them for ``doc_ids[i]``."""
        if len(doc_ids) == 0:
            return
        flat_keys = keys.astype(np.uint64, copy=False)
        flat_ids = np.repeat(doc_ids.astype(np.uint32), counts)
        self._count(doc_ids.astype(np.int64), counts)
        order = np.argsort(flat_keys, kind="stable")
        self._levels.append(_Level(flat_keys[order], flat_ids[order]))
        self.documents += len(doc_ids)
        self._merge()

    def flush(self) -> None:
        if not self._pending:
            return
        keys = np.array(self._pending_keys, dtype=np.uint64)
        ids = np.array(self._pending_ids, dtype=np.uint32)
        order = np.argsort(keys, kind="stable")
        self._levels.append(_Level(keys[order], ids[order]))
        self._pending.clear()
        self._pending_keys.clear()
        self._pending_ids.clear()
        self._pending_entries = 0
        self._merge()

    def _merge(self) -> None:
        while len(self._levels) > 1 and len(self._levels[-1]) * 2 >= len(self._levels[-2]):
            second = self._levels.pop()
            first = self._levels.pop()
            keys = np.concatenate([first.keys, second.keys])
            ids = np.concatenate([first.ids, second.ids])
            if self.min_id:
                live = ids >= self.min_id
                keys, ids = keys[live], ids[live]
            order = np.argsort(keys, kind="stable")
            self._levels.append(_Level(keys[order], ids[order]))

    def forget_below(self, min_id: int) -> None:
        """Forget documents with ids below ``min_id``; their entries go at the next merges."""
        self.min_id = max(self.min_id, min_id)
        if self._levels and len(self._levels) == 1:
            level = self._levels[0]
            dead = int(np.count_nonzero(level.ids < self.min_id))
            if dead * 2 > len(level):  # one big level, mostly dead: compact it now
                live = level.ids >= self.min_id
                self._levels[0] = _Level(level.keys[live], level.ids[live])

    def query(self, keys: np.ndarray, stop: int | None = None) -> dict[int, int]:
        """Documents sharing any of ``keys``, with how many they share; keys listed by more
        than ``stop`` documents are skipped (too common to say anything)."""
        docs, shared = self.query_arrays(keys, stop)
        return dict(zip(docs.tolist(), shared.tolist(), strict=True))

    def query_arrays(
        self, keys: np.ndarray, stop: int | None = None, keep: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``query`` as two arrays: document ids (sorted) and keys shared. The key ``keep``
        is never skipped however common."""
        keys = np.unique(keys)  # sorted needles: numpy's searchsorted reuses the last position
        # (key position, document) pairs from every level and the pending entries
        key_parts: list[np.ndarray] = []
        id_parts: list[np.ndarray] = []
        for level in self._levels:
            lo, sizes = level.find(keys)
            total = int(sizes.sum())
            if not total:
                continue
            which = np.repeat(np.arange(len(keys)), sizes)
            offsets = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            key_parts.append(which)
            id_parts.append(level.ids[lo[which] + offsets])
        if self._pending:
            pending_keys: list[int] = []
            pending_ids: list[int] = []
            for k, key in enumerate(keys.tolist()):
                hit = self._pending.get(key)
                if hit:
                    pending_keys.extend([k] * len(hit))
                    pending_ids.extend(hit)
            if pending_ids:
                key_parts.append(np.asarray(pending_keys, dtype=np.int64))
                id_parts.append(np.asarray(pending_ids, dtype=np.uint32))
        if not id_parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        which = np.concatenate(key_parts)
        ids = np.concatenate(id_parts).astype(np.int64)
        live = ids >= self.min_id
        which, ids = which[live], ids[live]
        if stop is not None and len(ids):
            per_key = np.bincount(which, minlength=len(keys))
            common = per_key > stop
            if keep is not None:
                common[np.searchsorted(keys, np.uint64(keep))] = False
            ids = ids[~common[which]]
        docs, shared = np.unique(ids, return_counts=True)
        return docs, shared

    def key_counts(self, doc_ids: np.ndarray) -> np.ndarray:
        """``key_count`` of many documents at once."""
        inside = doc_ids < len(self._key_counts)
        out = np.zeros(len(doc_ids), dtype=np.int64)
        out[inside] = self._key_counts[doc_ids[inside]]
        return out

    def nbytes(self) -> int:
        """Memory held by the sorted levels (the pending dict is bounded by ``flush_at``)."""
        return sum(level.nbytes for level in self._levels)


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
class Passage:
    """A passage the two texts share, in the new text: where it starts and how many units it
    spans (words, or characters for character schemes)."""

    start: int
    length: int


@dataclass(frozen=True)
class Evidence:
    """Why two texts were judged copies (or not): exact overlap scores and shared passages."""

    similarity: float  # Jaccard of the shingle sets
    containment: float  # shared shingles / the smaller set
    coverage: float  # share of the shorter text inside shared passages (min_passage_words+)
    coverage_longer: float = 0.0  # the same, of the longer text
    longer_offset: float = 0.0  # where the first passage starts in the longer text (share)
    passages: tuple[Passage, ...] = ()  # the longest shared passages, in the new text
    exact: bool = False

    def describe(self, scheme_name: str, text: str | None, quoted_in: Any = None) -> dict[str, Any]:
        """The evidence as stored and printed: the scores, and each shared passage as its
        start and length in units (words, or characters) of the newer text (``quoted_in``
        names it), with its first words (from ``text``, folded as shingling saw it)."""
        scheme = SCHEMES[scheme_name]
        spans = [(p.start, p.length) for p in self.passages]
        quotes: list[str | None] = [None] * len(spans)
        if text and spans:
            folded, units = unit_spans(text, scheme)
            words = 8 if scheme.unit == "word" else 40
            for i, (start, length) in enumerate(spans):
                end = min(start + min(length, words), len(units)) - 1
                if start <= end:
                    quote = folded[int(units[start, 0]) : int(units[end, 1])]
                    quotes[i] = " ".join(quote.split())
        return {
            "similarity": self.similarity,
            "containment": self.containment,
            "coverage": self.coverage,
            "coverage_longer": self.coverage_longer,
            "exact": self.exact,
            "in": quoted_in,
            "passages": [
                {"at": start, "units": length, "text": quote}
                for (start, length), quote in zip(spans, quotes, strict=True)
            ],
        }


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the runs of True in a boolean array."""
    if len(mask) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts, ends - starts


def members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted unique set, by binary search (no sort of
    the two arrays together: several times faster at this size)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    at[at == len(sorted_set)] = 0
    found: np.ndarray = sorted_set[at] == values
    return found


def passages_of(
    mask: np.ndarray, n: int, seed_units: float, max_gap_units: float, min_units: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shared passages of a text, from a mask over its shingles (True: the other text has it):
    runs of at least ``seed_units`` units, joined across gaps of at most ``max_gap_units``
    (a word changed, a name spelled another way), kept when they span ``min_units`` units.
    Returns (first shingle, units spanned) per passage."""
    starts, lengths = _runs(mask)
    seeds = lengths + (n - 1) >= seed_units
    starts, lengths = starts[seeds], lengths[seeds]
    if len(starts) == 0:
        return starts, lengths
    ends = starts + lengths  # exclusive, in shingles
    # a gap between runs: shingles between them, less the n - 1 that overlap the next run
    gaps = starts[1:] - ends[:-1]
    breaks = np.flatnonzero(gaps > max_gap_units)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [len(starts) - 1]])
    span_starts = starts[first]
    span_units = ends[last] - span_starts + (n - 1)
    keep = span_units >= min_units
    return span_starts[keep], span_units[keep]


def compare(
    new: Fingerprint,
    old_tokens: np.ndarray,
    old_unique: np.ndarray,
    params: DedupParams,
    keep_passages: int = 3,
) -> Evidence:
    """Exact evidence between a new text and an earlier one (shingles in text order, and
    the earlier one's unique set)."""
    new_unique = new.shingles
    if len(new_unique) == 0 or len(old_unique) == 0:
        return Evidence(0.0, 0.0, 0.0)
    shared = int(members(new_unique, old_unique).sum())
    if shared == 0:
        return Evidence(0.0, 0.0, 0.0)
    similarity = shared / (len(new_unique) + len(old_unique) - shared)
    containment = shared / min(len(new_unique), len(old_unique))
    if containment < params.containment_floor:
        # too little in common to cover anything: no need to look for passages
        return Evidence(round(similarity, 4), round(containment, 4), 0.0)
    scheme = SCHEMES[new.scheme]
    per_word = scheme.units_per_word
    shape = (
        params.passage_seed_words * per_word,
        params.passage_gap_words * per_word,
        params.min_passage_words * per_word,
    )
    starts, units = passages_of(members(new.tokens, old_unique), scheme.n, *shape)
    old_starts, old_units = passages_of(members(old_tokens, new_unique), scheme.n, *shape)
    new_cover = float(units.sum()) / (len(new.tokens) + scheme.n - 1)
    old_cover = float(old_units.sum()) / (len(old_tokens) + scheme.n - 1)
    new_offset = float(starts[0]) / len(new.tokens) if len(starts) else 1.0
    old_offset = float(old_starts[0]) / len(old_tokens) if len(old_starts) else 1.0
    shorter, longer, offset = (
        (new_cover, old_cover, old_offset)
        if len(new.tokens) <= len(old_tokens)
        else (old_cover, new_cover, new_offset)
    )
    longest = np.argsort(-units, kind="stable")[:keep_passages]
    passages = tuple(
        Passage(int(starts[i]), int(units[i]))
        for i in sorted(longest.tolist(), key=lambda i: int(starts[i]))
    )
    return Evidence(
        round(similarity, 4),
        round(containment, 4),
        round(min(shorter, 1.0), 4),
        round(min(longer, 1.0), 4),
        round(offset, 4),
        passages,
    )


def is_mutual_copy(evidence: Evidence, params: DedupParams) -> bool:
    """Much of both texts is shared (or they are the same): not merely one text quoting part
    of the other."""
    return (
        evidence.exact
        or evidence.similarity >= params.jaccard_min
        or (
            evidence.coverage >= params.coverage_both_min
            and evidence.coverage_longer >= params.coverage_both_min
        )
    )


def is_copy(evidence: Evidence, params: DedupParams) -> bool:
    """The verification rule: shared passages covering enough of the shorter text and of the
    longer one (a brief from a long wire keeps its lead; a story quoting a paragraph of
    another covers little of it), or plain overlap high enough on its own."""
    shorter, longer = evidence.coverage, evidence.coverage_longer
    return (
        evidence.exact
        or (shorter >= params.coverage_min and longer >= params.coverage_longer_min)
        or (shorter >= params.coverage_both_min and longer >= params.coverage_both_min)
        or evidence.similarity >= params.jaccard_min
    )


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


def pack(values: np.ndarray | None) -> bytes:
    return b"" if values is None else np.ascontiguousarray(values, dtype="<u4").tobytes()


def unpack(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype="<u4")
