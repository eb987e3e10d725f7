"""Near-duplicate engine: exact and near copies of one story, across outlets and runs.

- Exact level: a 64-bit hash of the normalised units (words or characters) of the text.
- Near level: datasketch MinHash (affine32) over the text's shingles, in two signatures:
  the whole body (128 permutations, 32 bands x 4 rows) and its lead, the first shingles
  (64 permutations, 16 x 4). Syndicated copies are usually trimmed at the end, so their Jaccard
  with the original can be as low as the share they keep, but their lead is the original's.
- Every candidate is verified exactly from the stored shingle sets: a copy when Jaccard >= 0.5
  or containment (shared shingles / smaller set) >= 0.7. Nothing joins a cluster on an
  unverified band collision; a new document attaches to its best verified match.
- Texts under ``min_shingles`` shingles are never MinHash-indexed (tiny sets match anything);
  only their exact hash is.

The LSH index is a compact, append-only structure of sorted numpy arrays (12 bytes per band
entry), not datasketch's dict-of-sets index (about 11 KB per document at this many bands).
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

from crawler.textnorm import SCHEMES, shingle_hashes

#: Bump when shingling or hashing code changes in a way that changes shingle values.
SHINGLING_VERSION = 1


class ParamsMismatch(RuntimeError):
    """Stored signatures were made with other parameters; they would silently never match."""


@dataclass(frozen=True)
class DedupParams:
    num_perm: int = 128
    bands: int = 32
    rows: int = 4
    lead_perm: int = 64
    lead_bands: int = 16
    lead_rows: int = 4
    seed: int = 20151009
    min_shingles: int = 50
    jaccard_min: float = 0.5
    containment_min: float = 0.7
    datasketch_scheme: str = "affine32"
    hash_function: str = "xxh64-polynomial-splitmix-32"

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError("bands x rows exceeds the permutations of the body signature")
        if self.lead_bands * self.lead_rows > self.lead_perm:
            raise ValueError(
                "lead_bands x lead_rows exceeds the permutations of the lead signature"
            )

    def identity(self) -> dict[str, Any]:
        """Everything that decides signature values and band keys."""
        return {
            **asdict(self),
            "shingling": {name: asdict(s) for name, s in SCHEMES.items()},
            "shingling_version": SHINGLING_VERSION,
        }

    def fingerprint(self) -> str:
        """A hash of the parameters that change stored data (thresholds excluded: they only
        decide verification, so changing them needs no re-indexing)."""
        ident = self.identity()
        for key in ("jaccard_min", "containment_min"):
            ident.pop(key)
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


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
    shingles: np.ndarray  # sorted unique uint32
    signature: np.ndarray | None = None  # body MinHash, uint32[num_perm]; None when too short
    lead: np.ndarray | None = None  # lead MinHash, uint32[lead_perm]
    keys: np.ndarray | None = None  # index keys, computed once

    @property
    def indexed(self) -> bool:
        return self.signature is not None


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


def fingerprint(text: str, params: DedupParams) -> Fingerprint:
    scheme, ordered = shingle_hashes(text)
    exact = xxhash.xxh64_intdigest(ordered.tobytes(), seed=params.seed)
    unique = sorted_unique(ordered)
    if len(unique) < params.min_shingles:
        fp = Fingerprint(scheme.name, exact, unique)
    else:
        fp = Fingerprint(
            scheme=scheme.name,
            exact=exact,
            shingles=unique,
            signature=minhash_values(unique, params.num_perm, params.seed),
            lead=minhash_values(
                sorted_unique(ordered[: scheme.lead]), params.lead_perm, params.seed + 1
            ),
        )
    fp.keys = index_keys(fp, params)
    return fp


_MUL = np.uint64(0x9E3779B97F4A7C15)


def _band_keys(sigs: np.ndarray, bands: int, rows: int, salts: np.ndarray) -> np.ndarray:
    """One 64-bit key per band for each signature row of ``sigs`` (documents x permutations):
    the band's rows hashed together with the band number and the document's scheme salt."""
    n = len(sigs)
    block = np.ascontiguousarray(sigs[:, : bands * rows], dtype=np.uint32)
    if rows % 2:  # pad odd rows with zeros so that pairs of rows read as one uint64
        block = np.concatenate(
            [block.reshape(n, bands, rows), np.zeros((n, bands, 1), np.uint32)], axis=2
        )
    words = block.reshape(n, bands, -1).view(np.uint64)  # (n, bands, ceil(rows / 2))
    keys: np.ndarray = (np.arange(bands, dtype=np.uint64)[None, :] + salts[:, None]) * _MUL
    for w in range(words.shape[2]):
        keys = (keys ^ words[:, :, w]) * _MUL
        keys ^= keys >> np.uint64(31)
    return keys


def scheme_salt(name: str) -> int:
    return xxhash.xxh32_intdigest(name.encode()) << 16


def index_keys_batch(
    salts: np.ndarray,
    exact: np.ndarray,
    signatures: np.ndarray,
    leads: np.ndarray,
    params: DedupParams,
) -> np.ndarray:
    """Index keys of many MinHash-indexed documents at once (documents x keys): the exact
    hash, then body bands, then lead bands, all salted with the shingling scheme."""
    salts = salts.astype(np.uint64)
    first = (exact.astype(np.uint64) ^ salts)[:, None]
    return np.concatenate(
        [
            first,
            _band_keys(signatures, params.bands, params.rows, salts + np.uint64(1)),
            _band_keys(leads, params.lead_bands, params.lead_rows, salts + np.uint64(1000)),
        ],
        axis=1,
    )


def index_keys(fp: Fingerprint, params: DedupParams) -> np.ndarray:
    """The keys a document is indexed and queried under: its exact hash, and (when long enough)
    its body and lead bands. Salted with the shingling scheme: schemes never meet."""
    salt = np.array([scheme_salt(fp.scheme)], dtype=np.uint64)
    exact = np.array([fp.exact], dtype=np.uint64)
    if fp.signature is None or fp.lead is None:
        only_exact: np.ndarray = exact ^ salt
        return only_exact
    keys: np.ndarray = index_keys_batch(
        salt, exact, fp.signature[None, :], fp.lead[None, :], params
    )[0]
    return keys


class BandIndex:
    """Append-only LSH index: band key -> document ids, in sorted numpy arrays.

    New entries collect in a dict; past ``flush_at`` entries they become a sorted level, and
    levels of similar size are merged (a log-structured merge), so memory stays at about 12
    bytes per entry and a query is a binary search per level."""

    def __init__(self, flush_at: int = 1 << 17) -> None:
        self.flush_at = flush_at
        self._levels: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending: dict[int, list[int]] = {}
        self._pending_entries = 0
        self.documents = 0

    def add(self, doc_id: int, keys: np.ndarray) -> None:
        for key in keys.tolist():
            self._pending.setdefault(key, []).append(doc_id)
        self._pending_entries += len(keys)
        self.documents += 1
        if self._pending_entries >= self.flush_at:
            self.flush()

    def add_many(self, doc_ids: np.ndarray, keys: np.ndarray) -> None:
        """Bulk load (index rebuild): ``keys`` is (documents, keys per document)."""
        if len(doc_ids) == 0:
            return
        flat_keys = keys.reshape(-1)
        flat_ids = np.repeat(doc_ids.astype(np.uint32), keys.shape[1])
        order = np.argsort(flat_keys, kind="stable")
        self._levels.append((flat_keys[order], flat_ids[order]))
        self.documents += len(doc_ids)
        self._merge()

    def flush(self) -> None:
        if not self._pending:
            return
        keys = np.fromiter(
            (k for k, ids in self._pending.items() for _ in ids),
            dtype=np.uint64,
            count=self._pending_entries,
        )
        ids = np.fromiter(
            (i for v in self._pending.values() for i in v),
            dtype=np.uint32,
            count=self._pending_entries,
        )
        order = np.argsort(keys, kind="stable")
        self._levels.append((keys[order], ids[order]))
        self._pending.clear()
        self._pending_entries = 0
        self._merge()

    def _merge(self) -> None:
        while len(self._levels) > 1 and len(self._levels[-1][0]) * 2 >= len(self._levels[-2][0]):
            k2, i2 = self._levels.pop()
            k1, i1 = self._levels.pop()
            keys = np.concatenate([k1, k2])
            ids = np.concatenate([i1, i2])
            order = np.argsort(keys, kind="stable")
            self._levels.append((keys[order], ids[order]))

    def query(self, keys: np.ndarray) -> set[int]:
        keys = np.sort(keys)  # sorted needles: numpy's searchsorted reuses the last position
        found: set[int] = set()
        for key in keys.tolist():
            hit = self._pending.get(key)
            if hit:
                found.update(hit)
        for level_keys, level_ids in self._levels:
            # One binary search per key; runs of equal keys (band collisions) are rare, so
            # the run is walked only where the first slot matches.
            pos = np.searchsorted(level_keys, keys)
            inside = pos < len(level_keys)
            hit = np.flatnonzero(inside)[level_keys[pos[inside]] == keys[inside]]
            for i in hit.tolist():
                j = int(pos[i])
                key = level_keys[j]
                while j < len(level_keys) and level_keys[j] == key:
                    found.add(int(level_ids[j]))
                    j += 1
        return found

    def nbytes(self) -> int:
        """Memory held by the sorted levels (the pending dict is bounded by ``flush_at``)."""
        return sum(k.nbytes + i.nbytes for k, i in self._levels)


@dataclass(frozen=True)
class DocInfo:
    """What verification and clustering need about an indexed document."""

    doc_id: int
    shingles: np.ndarray
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
    similarity: float
    containment: float
    exact: bool
    # The new document against the cluster's canonical article (verified too): the evidence
    # the old canonical keeps when the new document, published earlier, takes its place.
    canonical_similarity: float = 0.0
    canonical_containment: float = 0.0
    canonical_exact: bool = False


def overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Exact (Jaccard, containment) of two sorted unique shingle arrays."""
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared), shared / min(len(a), len(b))


def is_copy(similarity: float, containment: float, params: DedupParams) -> bool:
    return similarity >= params.jaccard_min or containment >= params.containment_min


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


@dataclass
class DedupEngine:
    params: DedupParams = field(default_factory=DedupParams)
    index: BandIndex = field(default_factory=BandIndex)

    def keys(self, fp: Fingerprint) -> np.ndarray:
        return fp.keys if fp.keys is not None else index_keys(fp, self.params)

    def candidates(self, fp: Fingerprint) -> set[int]:
        return self.index.query(self.keys(fp))

    def match(
        self, fp: Fingerprint, lookup: DocLookup, candidates: Sequence[int] | None = None
    ) -> Match | None:
        """The best verified earlier document for ``fp`` (among the index's candidates, or
        the given ones), or None."""
        ids = sorted(self.candidates(fp) if candidates is None else candidates)
        if not ids:
            return None
        infos = lookup.get_many(ids)
        verified: list[
            tuple[tuple[float, float, tuple[int, float, int]], DocInfo, float, float]
        ] = []
        for info in infos.values():
            checked = self._verify(fp, info)
            if checked is not None:
                sim, cont = checked
                # Highest containment, then Jaccard, then the earliest published, then lowest id.
                verified.append(
                    ((-cont, -sim, _published_key(info.published, info.doc_id)), info, sim, cont)
                )
        verified.sort(key=lambda v: v[0])
        for _rank, info, sim, cont in verified:
            # A document joins a cluster only as a verified copy of its canonical article too:
            # otherwise a digest page that quotes two stories would chain them into one cluster.
            canonical = infos.get(info.canonical_id) or lookup.get_many([info.canonical_id]).get(
                info.canonical_id
            )
            if canonical is None:
                continue
            against_canonical = (
                (sim, cont) if canonical.doc_id == info.doc_id else self._verify(fp, canonical)
            )
            if against_canonical is None:
                continue
            return Match(
                matched_id=info.doc_id,
                cluster_id=info.cluster_id,
                canonical_id=canonical.doc_id,
                canonical_published=canonical.published,
                similarity=round(sim, 4),
                containment=round(cont, 4),
                exact=info.exact == fp.exact,
                canonical_similarity=round(against_canonical[0], 4),
                canonical_containment=round(against_canonical[1], 4),
                canonical_exact=canonical.exact == fp.exact,
            )
        return None

    def _verify(self, fp: Fingerprint, info: DocInfo) -> tuple[float, float] | None:
        """(Jaccard, containment) when ``info`` is a copy of ``fp`` (or the reverse), else None."""
        if info.exact == fp.exact:
            return 1.0, 1.0
        if not fp.indexed or len(info.shingles) < self.params.min_shingles:
            return None  # short texts match exactly or not at all
        sim, cont = overlap(fp.shingles, info.shingles)
        return (sim, cont) if is_copy(sim, cont, self.params) else None

    def decide(
        self, fp: Fingerprint, published: datetime | None, new_id_hint: int, lookup: DocLookup
    ) -> Decision:
        return self._decision(self.match(fp, lookup), published, new_id_hint)

    def decide_among(
        self,
        fp: Fingerprint,
        published: datetime | None,
        candidates: Sequence[int],
        lookup: DocLookup,
    ) -> Decision:
        return self._decision(self.match(fp, lookup, candidates), published, 1 << 62)

    @staticmethod
    def _decision(match: Match | None, published: datetime | None, new_id_hint: int) -> Decision:
        if match is None:
            return Decision()
        earlier = _published_key(published, new_id_hint) < _published_key(
            match.canonical_published, match.canonical_id
        )
        return Decision(match=match, becomes_canonical=earlier)

    def add(self, doc_id: int, fp: Fingerprint) -> None:
        """Index a committed document (never before its commit: no ghosts after a rollback)."""
        self.index.add(doc_id, self.keys(fp))


def pack(values: np.ndarray | None) -> bytes:
    return b"" if values is None else np.ascontiguousarray(values, dtype="<u4").tobytes()


def unpack(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype="<u4")
