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

from bench.syndication import Doc, build, distinct_articles, load_articles
from pipelines.dedup.corpus import MemoryDeduper
from pipelines.dedup.params import DedupParams


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
        i = d.add(doc.text, doc.published)
        matched = d.result(i).matched_id
        out.append(docs[matched].story if matched is not None else None)
    d.close()
    return out


def run_baseline(docs: list[Doc]) -> list[str | None]:
    b = Baseline()
    out: list[str | None] = []
    for doc in docs:
        found = b.add(doc.text)
        # The earliest-arrived candidate, as a user of plain LSH would take it.
        out.append(docs[min(int(k[1:]) for k in found)].story if found else None)
    return out


def run_brute_force(docs: list[Doc], threshold: float = 0.3) -> list[str | None]:
    """The reference with no index: every earlier document compared, exact containment of
    word 5-grams, the best one taken at ``threshold`` and above."""
    sets = [set(baseline_shingles(d.text)) for d in docs]
    out: list[str | None] = []
    for i, mine in enumerate(sets):
        best, best_c = None, 0.0
        for j in range(i):
            other = sets[j]
            if mine and other:
                c = len(mine & other) / min(len(mine), len(other))
                if c > best_c:
                    best, best_c = j, c
        out.append(docs[best].story if best is not None and best_c >= threshold else None)
    return out


METHODS: dict[str, Callable[[list[Doc]], list[str | None]]] = {
    "newscrawl": lambda docs: run_ours(docs, DedupParams()),
    "datasketch defaults": run_baseline,
    "brute force C5>=0.3": run_brute_force,
}


def print_scores(docs: list[Doc], rounds: int = 1, seed: int = 1) -> dict[str, dict[str, Any]]:
    """Each method on ``docs`` in ``rounds`` shuffled arrival orders, scores summed."""
    import random

    totals: dict[str, dict[str, Any]] = {}
    for r in range(rounds):
        order = list(docs)
        random.Random(seed + r).shuffle(order)
        for name, method in METHODS.items():
            got = score(order, method(order))
            t = totals.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "follow_ups_merged": 0})
            for key in t:
                t[key] += got[key]
    for name, t in totals.items():
        t["precision"] = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else 1.0
        t["recall"] = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else 1.0
        print(
            f"  {name:<21} precision {t['precision']:.3f}  recall {t['recall']:.3f}  "
            f"(tp {t['tp']}, fp {t['fp']}, fn {t['fn']}; follow-ups merged "
            f"{t['follow_ups_merged']})"
        )
    return totals


REAL_LABELS = Path(__file__).parent / "data" / "syndication-real.tsv"


def load_real(texts: Path) -> dict[str, list[Doc]]:
    """The real development set by split: labels from ``bench/data/syndication-real.tsv``,
    texts from a JSON Lines file of ``id`` and ``text`` (kept outside the repository: the
    pages are third-party text). Same-topic and template pages are each their own story."""
    import csv
    import hashlib
    import json
    from datetime import UTC, datetime

    with REAL_LABELS.open(encoding="utf-8", newline="") as fh:
        labels = {row["id"]: row for row in csv.DictReader(fh, delimiter="\t")}
    by_split: dict[str, list[Doc]] = defaultdict(list)
    missing = changed = 0
    with texts.open(encoding="utf-8") as fh:
        rows = {r["id"]: r for r in map(json.loads, fh) if r.get("id") in labels}
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    for doc_id, label in labels.items():
        row = rows.get(doc_id)
        if row is None:
            missing += 1
            continue
        if hashlib.sha256(row["text"].encode()).hexdigest()[:16] != label["sha256"]:
            changed += 1
        kind = "copy" if label["kind"] == "copy" else label["kind"]
        by_split[label["split"]].append(Doc(doc_id, row["text"], label["cluster"], kind, None, t0))
    if missing or changed:
        print(f"  (real set: {missing} texts missing, {changed} differ from the labelled ones)")
    return by_split


def quality(args: argparse.Namespace) -> None:
    print("== quality: precision and recall of 'a copy of an earlier-arrived document' ==")
    if args.real:
        real = load_real(Path(args.real))
        for split in ("dev", "test"):
            docs = real[split]
            stories = len({d.story for d in docs if d.kind == "copy"})
            role = "parameters chosen on it" if split == "dev" else "held out"
            print(
                f"real pages, {split} split ({role}): "
                f"{len(docs)} pages, {stories} stories, {args.real_rounds} shuffled orders"
            )
            print_scores(docs, rounds=args.real_rounds)
    else:
        print(
            "real pages: skipped (give --real FILE, the texts of bench/data/syndication-real.tsv)"
        )
    articles = distinct_articles(load_articles())
    for style, seed in (("house", args.seed), ("other", args.seed + 1)):
        docs = build(
            args.stories,
            args.follow_ups,
            args.unrelated,
            seed=seed,
            articles=articles,
            style=style,
            n_templates=args.templates,
            n_same_topic=args.same_topic,
        )
        kinds: dict[str, int] = defaultdict(int)
        for d in docs:
            kinds[d.kind] += 1
        tuned = "parameters chosen on it" if style == "house" else "held out"
        print(
            f"generator, '{style}' outlet furniture ({tuned}): {len(docs)} documents {dict(kinds)}"
        )
        print_scores(docs)
        ours = score(docs, run_ours(docs, DedupParams()))
        print(
            "  newscrawl recall by share of paragraphs kept: "
            + ", ".join(f"{k:.1f}: {v:.3f}" for k, v in ours["recall_by_keep"].items())
        )


# -- throughput ---------------------------------------------------------------------------------


def median_rate(fn: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - started))
    return statistics.median(rates)


class NewsStream:
    """An endless stream of news-length texts for speed and memory figures, with what a real
    stream has: most texts new (real BBC sentences with a third of their words swapped for
    others from the set's vocabulary, so two texts share a stock phrase now and then but not
    whole sentences, as unrelated news does), and a tenth of them trimmed copies of a recent
    text. (A few thousand real articles cannot make 100,000 distinct ones: drawing whole
    sentences or paragraphs again makes every text a partial copy of hundreds of others.)"""

    def __init__(self, seed: int, words: int = 800) -> None:
        import random
        import re

        self.rng = random.Random(seed)
        self.words = words
        rows = load_articles()
        self.sentences = [
            x.split()
            for row in rows
            for x in re.split(r"(?<=[.!?])\s+", row["body"].replace("\n\n", " "))
            if len(x.split()) > 3
        ]
        self.vocabulary = [w for sentence in self.sentences for w in sentence]
        self.recent: list[str] = []

    def next(self) -> str:
        rng = self.rng
        if self.recent and rng.random() < 0.1:
            paras = rng.choice(self.recent).split("\n\n")
            return "\n\n".join(paras[: max(2, len(paras) // 2)])
        paras: list[str] = []
        total = 0
        while total < self.words:
            sentences = []
            for sentence in rng.sample(self.sentences, 3):
                sentences.append(
                    " ".join(
                        w if rng.random() > 0.33 else rng.choice(self.vocabulary) for w in sentence
                    )
                )
            para = " ".join(sentences)
            paras.append(para)
            total += len(para.split())
        text = "\n\n".join(paras)
        self.recent = [*self.recent[-999:], text]
        return text


def _corpus(count: int, seed: int) -> list[str]:
    stream = NewsStream(seed)
    return [stream.next() for _ in range(count)]


def throughput(args: argparse.Namespace) -> None:
    print(
        f"== throughput: about 800-word documents, {args.prefill:,} already indexed, one core "
        "(a tenth are copies) =="
    )
    params = DedupParams()
    prefill = _corpus(args.prefill, seed=5)
    texts = _corpus(args.timed_docs, seed=6)
    words = statistics.median(len(t.split()) for t in texts)
    d = MemoryDeduper(params)
    started = time.perf_counter()
    for t in prefill:
        d.add(t)
    print(
        f"(indexed {len(prefill):,} real documents first, in {time.perf_counter() - started:.0f} s)"
    )

    def ours() -> float:
        begun = time.process_time()
        for t in texts:
            d.add(t)
        return len(texts) / (time.process_time() - begun)

    def baseline() -> float:
        from datasketch import LeanMinHash, MinHash

        b = Baseline()
        rng = np.random.default_rng(5)
        for i in range(args.prefill):
            hv = rng.integers(0, 2**32 - 1, size=128, dtype=np.uint64)
            b.lsh.insert(
                f"p{i}", LeanMinHash(MinHash(num_perm=128, hashvalues=hv, scheme="affine32"))
            )
        begun = time.process_time()
        for t in texts:
            b.add(t)
        return len(texts) / (time.process_time() - begun)

    ours_rates, base_rates = [], []
    for _ in range(args.repeats):
        ours_rates.append(ours())
        base_rates.append(baseline())
    d.close()
    o, b = statistics.median(ours_rates), statistics.median(base_rates)
    print(f"documents timed: {len(texts)} (median {words:.0f} words); runs: {args.repeats}")
    print(f"newscrawl (shingle, MinHash, anchors, query, verify, insert): {o:,.0f} docs/CPU-s")
    print(f"datasketch defaults (shingle, MinHash, query, insert):        {b:,.0f} docs/CPU-s")
    print(f"ratio newscrawl / datasketch: {o / b:.2f}")
    cli_rate(args)


def cli_rate(args: argparse.Namespace) -> None:
    """``newscrawl dedup`` end to end on a JSON Lines file: CPU-seconds of the whole process."""
    import json
    import resource
    import subprocess

    n = args.cli_docs
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        source = Path(folder) / "in.jsonl"
        with source.open("w", encoding="utf-8") as fh:
            for i, t in enumerate(_corpus(n, seed=8)):
                fh.write(json.dumps({"id": i, "text": t}) + "\n")
        rates = []
        for _ in range(args.repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                [sys.executable, "-m", "crawler.cli", "dedup", str(source), "-o", os.devnull],
                check=True,
                stderr=subprocess.DEVNULL,
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            rates.append(n / cpu)
    print(
        f"newscrawl dedup (CLI, {n:,} documents, start-up and JSON included): "
        f"{statistics.median(rates):,.0f} docs per CPU-second (median of {args.repeats})"
    )


# -- memory and rebuild ---------------------------------------------------------------------------


def memory(args: argparse.Namespace) -> None:
    """RAM per remembered document of ``newscrawl dedup``'s engine, over a long stream: the
    resident size sampled as documents arrive, its growth per document from the half-way
    point to the end (the spool file on disk is not RAM)."""
    n = args.memory_docs
    print(f"== memory: newscrawl dedup remembering {n:,} documents ==")
    stream = NewsStream(seed=9, words=650)
    d = MemoryDeduper(DedupParams(), spool_dir=args.tmp)
    gc.collect()
    start_rss = rss_bytes()
    half_rss = 0
    started = time.perf_counter()
    for i in range(n):
        d.add(stream.next())
        if i + 1 == n // 2:
            gc.collect()
            half_rss = rss_bytes()
        if (i + 1) % 100_000 == 0:
            print(f"  {i + 1:>9,} documents: {(rss_bytes() - start_rss) / 2**20:,.0f} MiB")
    gc.collect()
    end_rss = rss_bytes()
    per_doc = (end_rss - half_rss) / (n - n // 2)
    print(
        f"newscrawl dedup: {per_doc:,.0f} B of RAM per remembered document (growth from "
        f"{n // 2:,} to {n:,}); {(end_rss - start_rss) / n:,.0f} B/doc overall; index "
        f"arrays {d.engine.index.nbytes() / n:,.0f} B/doc; "
        f"{n / (time.perf_counter() - started):,.0f} docs/s"
    )
    d.close()


def rebuild(args: argparse.Namespace) -> None:
    n = args.rebuild_docs
    print(f"== rebuild: index from {n:,} signatures stored in SQLite ==")
    from sqlalchemy import insert

    from crawler.dates import utcnow
    from pipelines.dedup.engine import DedupEngine
    from pipelines.dedup.rebuild import iter_index_rows
    from pipelines.dedup.store import ensure_scheme
    from storage.db import Database
    from storage.models import Article, Outlet, Signature

    params = DedupParams()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        db = Database(f"sqlite:///{folder}/rebuild.db")
        scheme_id = ensure_scheme(db, params)
        now = utcnow()
        started = time.perf_counter()
        shingle_blob = rng.integers(0, 2**32, size=800, dtype=np.uint32).tobytes()
        # a full-length text's anchors: its 64 sampled shingles (distinct per document)
        anchor_blobs = [
            np.sort(rng.integers(0, 2**29, size=64, dtype=np.uint32) << np.uint32(3)).tobytes()
            for _ in range(4096)
        ]
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
                            "anchors": anchor_blobs[i % len(anchor_blobs)],
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
            for ids, keys, counts in iter_index_rows(db, scheme_id, params, 30):
                engine.index.add_many(ids, keys, counts)
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
    parser.add_argument("--real", help="JSON Lines texts (id, text) of the real development set")
    parser.add_argument("--real-rounds", type=int, default=5)
    parser.add_argument("--stories", type=int, default=250)
    parser.add_argument("--follow-ups", type=int, default=200)
    parser.add_argument("--unrelated", type=int, default=500)
    parser.add_argument("--templates", type=int, default=60)
    parser.add_argument("--same-topic", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timed-docs", type=int, default=3000)
    parser.add_argument("--prefill", type=int, default=100_000)
    parser.add_argument("--memory-docs", type=int, default=1_000_000)
    parser.add_argument("--baseline-memory-docs", type=int, default=100_000)
    parser.add_argument("--cli-docs", type=int, default=20_000)
    parser.add_argument("--rebuild-docs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="folder for the rebuild database")
    args = parser.parse_args()
    if args.quick:
        args.stories, args.follow_ups, args.unrelated = 100, 100, 200
        args.templates, args.same_topic, args.real_rounds = 30, 50, 2
        args.timed_docs, args.prefill, args.repeats = 500, 20_000, 1
        args.memory_docs, args.baseline_memory_docs, args.rebuild_docs = 100_000, 20_000, 50_000
        args.cli_docs = 3_000
    steps = {"quality": quality, "throughput": throughput, "memory": memory, "rebuild": rebuild}
    for name, step in steps.items():
        if args.only in (None, name):
            step(args)
            print()


if __name__ == "__main__":
    main()
