"""Dedup indexes rebuilt from the stored signatures: the in-memory index at a crawl's start
(``load_index``), the shared band table's missing keys (``backfill_bands``), and every
signature again after a change of parameters (``reindex``). Storage reads and writes the rows;
the keys are computed here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import numpy as np

from pipelines.dedup.engine import DedupEngine
from pipelines.dedup.fingerprint import Fingerprint, anchor_keys, index_keys, scheme_salt
from pipelines.dedup.params import DedupParams
from pipelines.dedup.store import signature_values
from storage import bands, signatures
from storage.clock import utcnow
from storage.db import Database


def keys_for_rows(
    rows: signatures.IndexRows, params: DedupParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index keys for a batch of stored rows, vectorised: per row its exact key, then its
    anchors. Returns (ids, keys end to end, keys per row)."""
    n = len(rows.article_ids)
    ids = np.fromiter(rows.article_ids, dtype=np.uint32, count=n)
    exact = np.fromiter(rows.exact_hashes, dtype=np.uint64, count=n)
    salt_of = {name: scheme_salt(name) for name in set(rows.shinglings)}
    salts = np.fromiter((salt_of[name] for name in rows.shinglings), dtype=np.uint64, count=n)
    sampled_counts = np.fromiter((len(a or b"") // 4 for a in rows.anchors), np.int64, count=n)
    sampled = np.frombuffer(b"".join(a or b"" for a in rows.anchors), dtype="<u4")
    counts = 1 + sampled_counts
    # Row by row: the exact key where the row's keys begin, the anchors after it.
    firsts = np.cumsum(counts) - counts
    keys = np.empty(int(counts.sum()), dtype=np.uint64)
    keys[firsts] = exact ^ salts
    rows_of = np.repeat(np.arange(n), sampled_counts)
    first_anchor = np.cumsum(sampled_counts) - sampled_counts  # of each row, in ``sampled``
    slots = np.repeat(firsts + 1 - first_anchor, sampled_counts) + np.arange(len(sampled))
    keys[slots] = anchor_keys(sampled, salts[rows_of])
    return ids, keys, counts


def iter_index_rows(
    db: Database, scheme_id: int, params: DedupParams, window_days: float, batch: int = 20_000
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(article ids, their index keys end to end, keys per article) in batches, for
    signatures stored within the window."""
    for rows in signatures.iter_index_rows(db, scheme_id, window_days, batch):
        yield keys_for_rows(rows, params)


def load_index(db: Database, engine: DedupEngine, scheme_id: int, window_days: float) -> int:
    """Fill ``engine``'s in-memory index from the signatures stored within the window;
    returns how many documents it holds."""
    for ids, keys, counts in iter_index_rows(db, scheme_id, engine.params, window_days):
        engine.index.add_many(ids, keys, counts)
    return engine.index.documents


def backfill_bands(
    db: Database, scheme_id: int, params: DedupParams, window_days: float, batch: int = 5_000
) -> int:
    """Keys for signatures within the window that have none in the shared index: a database
    crawled with the in-memory index before, switched to the shared one. Idempotent."""
    since: datetime = utcnow() - timedelta(days=window_days)
    added = 0
    while True:
        with db.write() as s:
            rows = bands.unbanded_rows(s, scheme_id, since, batch)
            if not rows.article_ids:
                return added
            bands.add_bands(s, *keys_for_rows(rows, params))
            added += len(rows.article_ids)


def reindex(
    db: Database,
    params: DedupParams,
    fingerprint_text: Callable[[str], Fingerprint],
    batch: int = 500,
) -> int:
    """Fingerprint again, with ``params``, every stored article whose signature was made
    with other parameters (or that has none): after a change of the engine's shingling or a
    deliberate change of parameters. Clusters and links stay as they are; the shared index's
    keys follow. Returns how many articles were fingerprinted."""
    current = signatures.scheme_for(db, params.fingerprint(), params.identity())
    done = 0
    while True:
        with db.write() as s:
            rows = signatures.texts_to_reindex(s, current, batch)
            if not rows:
                break
            shared = bands.has_bands(s)
            for article_id, body in rows:
                fp = fingerprint_text(body)
                signatures.save_signature(s, article_id, current, signature_values(fp, params))
                if shared:
                    bands.save_bands(s, article_id, index_keys(fp, params), replace=True)
            done += len(rows)
    signatures.drop_other_schemes(db, current)
    return done
