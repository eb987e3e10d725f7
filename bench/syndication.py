"""A labelled syndication set built from the real BBC articles in ``../shared/data/bbc-news``.

Stories: an original article and its republished copies (another outlet's header and footer
lines, image captions, light copy-edits, the end trimmed to 40-100 % of paragraphs). Hard
negatives: same-story follow-ups (new reporting on the topic that quotes one paragraph of the
original as background). The rest: unrelated articles. Everything arrives in random order.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KEEP_LEVELS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

OUTLETS = [
    ("LONDON (Wire) -", "Follow The Daily Courier on social media for the latest updates."),
    (
        "By Staff Reporter | The Globe Herald",
        "Copyright 2025 The Globe Herald. All rights reserved.",
    ),
    ("NEW YORK (NewsAgency) --", "Reporting by NewsAgency staff; editing by the desk."),
    ("", "Read more: the day's top stories, in your inbox every morning. Sign up now."),
    ("Published by Metro Online", ""),
]
EDITS = [
    (r"\bsaid\b", "says"),
    (r"\bper cent\b", "percent"),
    (r"\bhowever\b", "but"),
    (r"\bcompany\b", "firm"),
    (r"\bgovernment\b", "administration"),
    (r"\balso\b", "additionally"),
    (r"\bMr\b", "Mr."),
    (r"\bUS\b", "U.S."),
    (r"\bfavour", "favor"),
    (r"\borganis", "organiz"),
]
CAPTIONS = [
    "A file photo taken in the capital last year. (AFP Photo)",
    "Officials speak to reporters after the meeting. (Reuters Photo)",
    "The building where the announcement was made. (Getty Images)",
]


@dataclass
class Doc:
    id: str
    text: str
    story: str  # documents of one story are copies of each other
    kind: str  # original, copy, follow_up, unrelated
    keep: float | None
    published: datetime


def load_articles(path: Path | None = None) -> list[dict[str, str]]:
    path = path or SHARED / "bbc-news" / "articles.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows


def distinct_articles(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Drop the BBC set's own duplicates (exact bodies, and updated versions of one story found
    by datasketch at a low threshold and a containment check), so that 'unrelated' is true."""
    from datasketch import MinHash, MinHashLSH

    def shingles(text: str) -> set[bytes]:
        words = re.findall(r"\w+", text.lower())
        return {" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))}

    lsh = MinHashLSH(threshold=0.2, num_perm=64)
    kept: list[dict[str, str]] = []
    sets: dict[str, set[bytes]] = {}
    for row in rows:
        sh = shingles(row["body"])
        m = MinHash(num_perm=64)
        m.update_batch(list(sh))
        near = False
        for other in lsh.query(m):
            inter = len(sh & sets[other])
            if inter / max(1, min(len(sh), len(sets[other]))) > 0.2:
                near = True
                break
        if near:
            continue
        lsh.insert(row["id"], m)
        sets[row["id"]] = sh
        kept.append(row)
    return kept


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def make_copy(paras: list[str], keep: float, rng: random.Random) -> str:
    kept = paras[: max(1, round(len(paras) * keep))]
    edited = []
    for p in kept:
        for pattern, repl in EDITS:
            if rng.random() < 0.3:
                p = re.sub(pattern, repl, p, count=1)
        edited.append(p)
    for _ in range(rng.randint(0, 2)):
        edited.insert(rng.randint(1, max(1, len(edited))), rng.choice(CAPTIONS))
    header, footer = rng.choice(OUTLETS)
    if header:
        edited[0] = f"{header} {edited[0]}"
    if footer:
        edited.append(footer)
    return "\n\n".join(edited)


def build(
    n_stories: int = 300,
    n_follow_ups: int = 300,
    n_unrelated: int = 900,
    seed: int = 1,
    articles: list[dict[str, str]] | None = None,
) -> list[Doc]:
    rng = random.Random(seed)
    pool = list(articles or distinct_articles(load_articles()))
    rng.shuffle(pool)
    # Originals need paragraphs to trim; the others only need to be distinct articles.
    long = [a for a in pool if len(paragraphs(a["body"])) >= 4]
    originals = long[:n_stories]
    rest = [a for a in pool if a not in originals and len(paragraphs(a["body"])) >= 2]
    if len(originals) < n_stories or len(rest) < n_follow_ups + n_unrelated:
        raise SystemExit(f"not enough distinct articles ({len(pool)}) for the sizes asked")
    fresh = rest[:n_follow_ups]
    unrelated = rest[n_follow_ups : n_follow_ups + n_unrelated]
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    docs: list[Doc] = []
    for i, art in enumerate(originals):
        paras = paragraphs(art["body"])
        published = t0 + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
        story = f"s{i}"
        docs.append(Doc(f"{story}-orig", art["body"], story, "original", 1.0, published))
        for c in range(rng.randint(1, 4)):
            keep = rng.choice(KEEP_LEVELS)
            docs.append(
                Doc(
                    f"{story}-copy{c}",
                    make_copy(paras, keep, rng),
                    story,
                    "copy",
                    keep,
                    published + timedelta(minutes=rng.randint(5, 60 * 48)),
                )
            )
    for i, art in enumerate(fresh):
        # Follow-up on story i: new reporting, with one paragraph of the original as background.
        source = paragraphs(originals[i % n_stories]["body"])
        new = paragraphs(art["body"])
        quoted = source[rng.randint(1, len(source) - 1)]
        body = [*new[:2], quoted, *new[2:]]
        docs.append(
            Doc(
                f"f{i}",
                "\n\n".join(body),
                f"f{i}",
                "follow_up",
                None,
                t0 + timedelta(days=21, minutes=i),
            )
        )
    for i, art in enumerate(unrelated):
        docs.append(
            Doc(
                f"u{i}",
                art["body"],
                f"u{i}",
                "unrelated",
                None,
                t0 + timedelta(minutes=rng.randint(0, 60 * 24 * 20)),
            )
        )
    rng.shuffle(docs)
    return docs


def long_documents(count: int, seed: int = 2, words: int = 800) -> list[str]:
    """News-length texts (about ``words`` words) made of real BBC paragraphs drawn at random,
    so that documents share a paragraph now and then, as unrelated news does, but no more."""
    rng = random.Random(seed)
    pool = [p for row in load_articles() for p in paragraphs(row["body"])]
    out = []
    for _ in range(count):
        parts: list[str] = []
        total = 0
        while total < words:
            para = rng.choice(pool)
            parts.append(para)
            total += len(para.split())
        out.append("\n\n".join(parts))
    return out
