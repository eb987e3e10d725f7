"""Dedup quality gate: the realistic generator (copies as unlike their original as real
republished copies are, follow-ups quoting a paragraph or two, template items) over articles
that ship with the repository, scored as the benchmark scores it. The floor is pinned in
tests/data/dedup-floor.json; the full figures, on real pages too, are bench/dedup_bench.py's."""

from __future__ import annotations

import json
from pathlib import Path

from bench.dedup_bench import run_ours, score
from bench.syndication import build, distinct_articles, vendored_articles
from pipelines.dedup.params import DedupParams

FLOOR = Path(__file__).parent.parent / "data" / "dedup-floor.json"


def test_dedup_quality_does_not_fall_below_the_pinned_floor() -> None:
    floor = json.loads(FLOOR.read_text())
    articles = distinct_articles(vendored_articles())
    totals = {"tp": 0, "fp": 0, "fn": 0, "follow_ups_merged": 0}
    for seed in range(1, 9):
        style = "house" if seed % 2 else "other"
        docs = build(
            24, 12, 8, seed=seed, articles=articles, style=style, n_templates=15, n_same_topic=6
        )
        got = score(docs, run_ours(docs, DedupParams()))
        for key in totals:
            totals[key] += got[key]
    precision = totals["tp"] / (totals["tp"] + totals["fp"])
    recall = totals["tp"] / (totals["tp"] + totals["fn"])
    assert precision >= floor["precision"], (precision, totals)
    assert recall >= floor["recall"], (recall, totals)
    assert totals["follow_ups_merged"] <= floor["follow_ups_merged_max"], totals
