"""A text's fingerprint: its shingles in text order, exact hash, anchors and index keys, and the
datasketch MinHash signatures stored for corpus users."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import xxhash

from pipelines.dedup.params import DedupParams
from pipelines.dedup.shingles import shingle_hashes


def _identity(x: int) -> int:
    return x


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations for ``seed`` (``MinHash._init_permutations``, 2.x),
    drawn here as it draws them: importing datasketch in a worker to get them costs it scipy
    (about 45 MiB of each worker's memory and 0.7 s of its start-up). ``datasketch_minhash``
    is the reference the tests hold this to."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def datasketch_minhash(shingles: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """datasketch's own MinHash.update_batch (affine32, its own permutations from ``seed``)
    over 32-bit shingle hashes: the reference that ``minhash_values`` must equal (tests check
    it)."""
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity, scheme="affine32")
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


def pack(values: np.ndarray | None) -> bytes:
    return b"" if values is None else np.ascontiguousarray(values, dtype="<u4").tobytes()


def unpack(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype="<u4")
