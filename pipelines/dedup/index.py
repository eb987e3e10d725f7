"""The inverted index of the engine: key -> document ids in sorted numpy arrays."""

from __future__ import annotations

import numpy as np


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


def _merge_sorted(
    keys_a: np.ndarray, ids_a: np.ndarray, keys_b: np.ndarray, ids_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted runs as one (``a``'s entries first among equal keys), without sorting them
    again: each of ``b``'s entries goes where a binary search puts it. The only temporaries are
    a position per entry of the smaller run and a mask."""
    total = len(keys_a) + len(keys_b)
    at = np.searchsorted(keys_a, keys_b, side="right") + np.arange(len(keys_b))
    from_b = np.zeros(total, dtype=bool)
    from_b[at] = True
    keys = np.empty(total, dtype=np.uint64)
    ids = np.empty(total, dtype=np.uint32)
    keys[at], ids[at] = keys_b, ids_b
    keys[~from_b], ids[~from_b] = keys_a, ids_a
    return keys, ids


def _release_freed_memory() -> None:
    """Hand the heap memory that merges freed back to the system. glibc raises its mmap
    threshold after large frees, so later big arrays come from the heap, whose freed pages stay
    resident: without this, resident memory ran at twice what the index holds."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


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
        merged = False
        while len(self._levels) > 1 and len(self._levels[-1]) * 2 >= len(self._levels[-2]):
            second = self._levels.pop()
            first = self._levels.pop()
            keys, ids = _merge_sorted(first.keys, first.ids, second.keys, second.ids)
            if self.min_id:
                live = ids >= self.min_id
                keys, ids = keys[live], ids[live]
            self._levels.append(_Level(keys, ids))
            merged = True
        if merged:
            _release_freed_memory()

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
