"""Dedup benchmark: quality on a labelled syndication set, throughput, memory and index rebuild,
each beside plain datasketch defaults (MinHashLSH(threshold=0.8), word 5-grams) in the same run.

    python bench/dedup_bench.py            # full run (about 10 minutes on 2 cores)
    python bench/dedup_bench.py --quick    # smaller sizes, for a smoke test

Figures are medians of ``--repeats`` runs where timing is involved.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.syndication import KEEP_LEVELS, Doc, build, long_documents
from crawler.corpus_dedup import MemoryDeduper
from crawler.dedup import DedupParams, fingerprint


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# -- the baseline: datasketch defaults -----------------------------------------------------------


def baseline_shingles(text: str) -> list[bytes]:
    words = re.findall(r"\w+", text.lower())
    return [" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))]


class Baseline:
    """What a user of datasketch gets with its defaults: MinHash() (SHA-1, 128 permutations),
    MinHashLSH(threshold=0.8), query then insert; a candidate counts as a copy."""

    def __init__(self) -> None:
        from datasketch import MinHashLSH

        self.lsh = MinHashLSH(threshold=0.8, num_perm=128)
        self.n = 0

    @staticmethod
    def minhash(text: str) -> Any:
        from datasketch import MinHash

        m = MinHash(num_perm=128)
        m.update_batch(baseline_shingles(text))
        return m

    def add(self, text: str) -> list[str]:
        m = self.minhash(text)
        found = self.lsh.query(m)
        self.lsh.insert(f"d{self.n}", m)
        self.n += 1
        return list(found)


# -- quality ------------------------------------------------------------------------------------


def score(docs: list[Doc], predicted_story: list[str | None]) -> dict[str, Any]:
    """Precision and recall of "is a copy of an earlier-arrived article", per trim level too."""
    seen_story: set[str] = set()
    tp = fp = fn = 0
    by_keep: dict[float, list[int]] = defaultdict(lambda: [0, 0])
    follow_ups_merged = 0
    for doc, pred in zip(docs, predicted_story, strict=True):
        truth = doc.story in seen_story
        seen_story.add(doc.story)
        if pred is not None:
            if truth and pred == doc.story:
                tp += 1
            else:
                fp += 1
                if doc.kind == "follow_up":
                    follow_ups_merged += 1
        if truth and pred != doc.story:
            fn += 1
        if truth and doc.keep is not None and doc.kind == "copy":
            by_keep[doc.keep][1] += 1
            by_keep[doc.keep][0] += int(pred == doc.story)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "follow_ups_merged": follow_ups_merged,
        "recall_by_keep": {k: v[0] / v[1] for k, v in sorted(by_keep.items()) if v[1]},
    }


def run_ours(docs: list[Doc], params: DedupParams) -> list[str | None]:
    d = MemoryDeduper(params)
    out: list[str | None] = []
    for doc in docs:
        i = d.add_fingerprint(fingerprint(doc.text, params), doc.published)
        matched = d.docs[i].matched_id
        out.append(docs[matched].story if matched is not None else None)
    return out


def run_baseline(docs: list[Doc]) -> list[str | None]:
    b = Baseline()
    out: list[str | None] = []
    for doc in docs:
        found = b.add(doc.text)
        # The earliest-arrived candidate, as a user of plain LSH would take it.
        out.append(docs[min(int(k[1:]) for k in found)].story if found else None)
    return out


def quality(args: argparse.Namespace) -> None:
    print("== quality: labelled syndication set (real BBC articles) ==")
    docs = build(args.stories, args.follow_ups, args.unrelated, seed=args.seed)
    kinds = defaultdict(int)
    for d in docs:
        kinds[d.kind] += 1
    print(f"documents: {len(docs)} ({dict(kinds)}), random arrival order, seed {args.seed}")
    params = DedupParams()
    ours = score(docs, run_ours(docs, params))
    base = score(docs, run_baseline(docs))
    for name, s in (("newscrawl", ours), ("datasketch defaults", base)):
        print(
            f"{name:<20} precision {s['precision']:.4f}  recall {s['recall']:.4f}  "
            f"(tp {s['tp']}, fp {s['fp']}, fn {s['fn']}); "
            f"follow-ups merged: {s['follow_ups_merged']}"
        )
    print("recall by share of paragraphs kept (copies arriving after another member):")
    print("  keep   newscrawl  datasketch")
    for keep in KEEP_LEVELS:
        print(
            f"  {keep:.1f}   {ours['recall_by_keep'].get(keep, float('nan')):.3f}      "
            f"{base['recall_by_keep'].get(keep, float('nan')):.3f}"
        )
    ratio = ours["recall"] / base["recall"] if base["recall"] else float("inf")
    print(f"recall ratio newscrawl / datasketch: {ratio:.2f}")


# -- throughput ---------------------------------------------------------------------------------


def median_rate(fn: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - started))
    return statistics.median(rates)


def throughput(args: argparse.Namespace) -> None:
    print(f"== throughput: about 800-word documents, {args.prefill:,} already indexed, one core ==")
    texts = long_documents(args.timed_docs)
    words = statistics.median(len(t.split()) for t in texts)
    params = DedupParams()
    rng = np.random.default_rng(5)

    def ours() -> int:
        d = MemoryDeduper(params)
        # Prefill: documents with random band keys (the index's size is what a query pays for).
        width = 1 + params.bands + params.lead_bands
        d.engine.index.add_many(
            np.arange(args.prefill, dtype=np.uint32) + np.uint32(10_000_000),
            rng.integers(0, 2**63, size=(args.prefill, width), dtype=np.uint64),
        )
        started = time.perf_counter()
        for t in texts:
            d.add(t)
        ours.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
        return len(texts)

    def baseline() -> int:
        from datasketch import LeanMinHash, MinHash

        b = Baseline()
        for i in range(args.prefill):
            hv = rng.integers(0, 2**32 - 1, size=128, dtype=np.uint64)
            b.lsh.insert(
                f"p{i}", LeanMinHash(MinHash(num_perm=128, hashvalues=hv, scheme="affine32"))
            )
        started = time.perf_counter()
        for t in texts:
            b.add(t)
        baseline.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
        return len(texts)

    ours_rates, base_rates = [], []
    for _ in range(args.repeats):
        ours()
        ours_rates.append(len(texts) / ours.elapsed)  # type: ignore[attr-defined]
        baseline()
        base_rates.append(len(texts) / baseline.elapsed)  # type: ignore[attr-defined]
    o, b = statistics.median(ours_rates), statistics.median(base_rates)
    print(f"documents timed: {len(texts)} (median {words:.0f} words); runs: {args.repeats}")
    print(f"newscrawl (normalise+shingle+signatures+query+verify+insert): {o:,.0f} docs/s")
    print(f"datasketch defaults (shingle+MinHash+query+insert):             {b:,.0f} docs/s")
    print(f"ratio newscrawl / datasketch: {o / b:.2f}")


# -- memory and rebuild ---------------------------------------------------------------------------


def memory(args: argparse.Namespace) -> None:
    print(f"== memory: index of {args.memory_docs:,} documents ==")
    from crawler.dedup import BandIndex

    params = DedupParams()
    width = 1 + params.bands + params.lead_bands
    rng = np.random.default_rng(7)
    gc.collect()
    before = rss_bytes()
    index = BandIndex()
    step = 100_000
    for start in range(0, args.memory_docs, step):
        n = min(step, args.memory_docs - start)
        index.add_many(
            np.arange(start, start + n, dtype=np.uint32),
            rng.integers(0, 2**63, size=(n, width), dtype=np.uint64),
        )
    gc.collect()
    ours_rss = (rss_bytes() - before) / args.memory_docs
    ours_bytes = index.nbytes() / args.memory_docs
    del index
    gc.collect()

    from datasketch import LeanMinHash, MinHash, MinHashLSH

    n_base = args.baseline_memory_docs
    before = rss_bytes()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i in range(n_base):
        hv = rng.integers(0, 2**32 - 1, size=128, dtype=np.uint64)
        lsh.insert(f"d{i}", LeanMinHash(MinHash(num_perm=128, hashvalues=hv, scheme="affine32")))
    gc.collect()
    base_rss = (rss_bytes() - before) / n_base
    print(
        f"newscrawl index: {ours_bytes:,.0f} B/doc in its arrays, {ours_rss:,.0f} B/doc resident "
        f"({width} keys/doc) at {args.memory_docs:,} documents"
    )
    print(
        f"datasketch MinHashLSH(threshold=0.8) ({lsh.b} bands x {lsh.r} rows): "
        f"{base_rss:,.0f} B/doc resident at {n_base:,} documents"
    )
    print(f"ratio datasketch / newscrawl (resident per document): {base_rss / ours_rss:.1f}")
    del lsh
    gc.collect()


def rebuild(args: argparse.Namespace) -> None:
    n = args.rebuild_docs
    print(f"== rebuild: index from {n:,} signatures stored in SQLite ==")
    from sqlalchemy import insert

    from crawler.dates import utcnow
    from crawler.dedup import DedupEngine
    from storage import signatures
    from storage.db import Database
    from storage.models import Article, Outlet, Signature

    params = DedupParams()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        db = Database(f"sqlite:///{folder}/rebuild.db")
        scheme_id = signatures.ensure_scheme(db, params)
        now = utcnow()
        started = time.perf_counter()
        shingle_blob = rng.integers(0, 2**32, size=800, dtype=np.uint32).tobytes()
        with db.write() as s:
            s.execute(
                insert(Outlet).values(
                    id="o", name="o", homepage="http://o/", language="en", updated_at=now
                )
            )
        for start in range(0, n, 50_000):
            m = min(50_000, n - start)
            sigs = rng.integers(0, 2**32, size=(m, params.num_perm), dtype=np.uint32)
            leads = rng.integers(0, 2**32, size=(m, params.lead_perm), dtype=np.uint32)
            exact = rng.integers(-(2**63), 2**63 - 1, size=m, dtype=np.int64)
            with db.write() as s:
                s.execute(
                    insert(Article),
                    [
                        {
                            "id": start + i + 1,
                            "url": f"http://o/{start + i}",
                            "outlet_id": "o",
                            "text": "",
                            "text_hash": "",
                            "tags": [],
                            "fetched_at": now,
                            "first_stored_at": now,
                        }
                        for i in range(m)
                    ],
                )
                s.execute(
                    insert(Signature),
                    [
                        {
                            "article_id": start + i + 1,
                            "scheme_id": scheme_id,
                            "indexed_at": now,
                            "shingling": "word",
                            "exact_hash": int(exact[i]),
                            "shingle_count": 800,
                            "minhash": sigs[i].tobytes(),
                            "lead_minhash": leads[i].tobytes(),
                            "shingles": shingle_blob,
                        }
                        for i in range(m)
                    ],
                )
        print(
            f"(wrote the signatures in {time.perf_counter() - started:.0f} s; "
            f"file {os.path.getsize(f'{folder}/rebuild.db') / 2**30:.1f} GiB)"
        )
        times = []
        for _ in range(args.repeats):
            gc.collect()
            engine = DedupEngine(params)
            started = time.perf_counter()
            for ids, keys in signatures.iter_index_rows(db, scheme_id, params, 30):
                engine.index.add_many(ids, keys)
            times.append(time.perf_counter() - started)
            assert engine.index.documents == n
            del engine
        ours = statistics.median(times)
        print(
            f"newscrawl rebuild: {ours:.1f} s for {n:,} ({n / ours:,.0f} docs/s), median of "
            f"{args.repeats}"
        )

        from datasketch import LeanMinHash, MinHash, MinHashLSH

        from storage.models import Signature as Sig

        nb = min(n, args.baseline_memory_docs)
        from sqlalchemy import select

        started = time.perf_counter()
        lsh = MinHashLSH(threshold=0.8, num_perm=128)
        with db.read() as s:
            for article_id, blob in s.execute(select(Sig.article_id, Sig.minhash).limit(nb)):
                hv = np.frombuffer(blob, dtype="<u4").astype(np.uint64)
                lsh.insert(
                    article_id, LeanMinHash(MinHash(num_perm=128, hashvalues=hv, scheme="affine32"))
                )
        base = time.perf_counter() - started
        print(f"datasketch MinHashLSH rebuild: {base:.1f} s for {nb:,} ({nb / base:,.0f} docs/s)")
        print(f"ratio newscrawl / datasketch (docs/s): {(n / ours) / (nb / base):.1f}")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["quality", "throughput", "memory", "rebuild"])
    parser.add_argument("--stories", type=int, default=300)
    parser.add_argument("--follow-ups", type=int, default=300)
    parser.add_argument("--unrelated", type=int, default=900)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timed-docs", type=int, default=3000)
    parser.add_argument("--prefill", type=int, default=100_000)
    parser.add_argument("--memory-docs", type=int, default=1_000_000)
    parser.add_argument("--baseline-memory-docs", type=int, default=100_000)
    parser.add_argument("--rebuild-docs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="folder for the rebuild database")
    args = parser.parse_args()
    if args.quick:
        args.stories, args.follow_ups, args.unrelated = 100, 100, 300
        args.timed_docs, args.prefill, args.repeats = 500, 20_000, 1
        args.memory_docs, args.baseline_memory_docs, args.rebuild_docs = 100_000, 20_000, 50_000
    steps = {"quality": quality, "throughput": throughput, "memory": memory, "rebuild": rebuild}
    for name, step in steps.items():
        if args.only in (None, name):
            step(args)
            print()


if __name__ == "__main__":
    main()
