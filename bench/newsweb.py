"""A mock news web for benchmarks, built from the real BBC articles in ``../shared/data/bbc-news``:
N outlets x M articles in the sample format ``crawler.demo.mockweb`` serves (page chrome, an RSS or
Atom feed per outlet, news sitemaps on half of them), with a share of syndicated copies (another
outlet's story, re-headlined, trimmed, with captions and a credit line).

Beyond the 2,225 real articles, articles are assembled from paragraphs drawn at random from the
whole set, so that every page is a distinct text (a large crawl is not one giant cluster).

``build_real_web`` gives the same outlets and feeds with real article pages instead: the
Scrapinghub benchmark's pages (all 181 when ``../shared`` has them, else the 46 in
``tests/data``), cycled and served as they were saved, whole.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.syndication import load_articles, make_copy, paragraphs

AUTHORS = ["Jane Smith", "Ali Rahimi", "Maria Costa", "Chen Wei", "Tom Okafor", None]


def build_web(
    outlets: int, per_outlet: int, copy_share: float = 0.1, seed: int = 7
) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = load_articles()
    rng.shuffle(rows)
    pool = [p for r in rows for p in paragraphs(r["body"]) if len(p.split()) >= 8]
    start = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    originals: list[dict[str, Any]] = []

    def article(i: int) -> dict[str, Any]:
        if i < len(rows):
            row = rows[i]
            title, paras = row["title"], paragraphs(row["body"])
        else:  # a distinct text assembled from random paragraphs
            paras = rng.sample(pool, rng.randint(6, 14))
            title = " ".join(paras[0].split()[:9]).rstrip(".,;:") + f" ({i})"
        return {"title": title, "paragraphs": paras}

    specs = []
    for o in range(outlets):
        spec = {**_outlet_spec(o), "heavy_chrome": True}
        for j in range(per_outlet):
            n = o * per_outlet + j
            published = start + timedelta(seconds=37 * n)
            if originals and rng.random() < copy_share:
                src = rng.choice(originals)
                body = make_copy(src["paragraphs"], rng.choice((0.6, 0.8, 1.0)), rng)
                art = {"title": "Wire: " + src["title"], "paragraphs": paragraphs(body)}
            else:
                art = article(n)
                originals.append(art)
            author = rng.choice(AUTHORS)
            entry = {
                "title": art["title"],
                "paragraphs": art["paragraphs"],
                "path": f"/news/{published:%Y/%m/%d}/story-{n}",
                "published": published.isoformat(),
                "figures": [{"before": 1, "caption": "A scene from the story. (Photo: Agency)"}],
            }
            if author:
                entry["author"] = author
            spec["articles"].append(entry)
        specs.append(spec)
    return {"outlets": specs, "credits": "BBC News dataset (Greene & Cunningham 2006)"}


ROOT = Path(__file__).resolve().parents[1]
SCRAPINGHUB_DIRS = (
    ROOT.parent / "shared" / "data" / "article-extraction-benchmark",
    ROOT / "tests" / "data" / "extraction-benchmark",
)
_TITLE_RE = re.compile(r"<title[^>]*>([^<]{3,300})</title>", re.IGNORECASE)


def _outlet_spec(o: int) -> dict[str, Any]:
    return {
        "id": f"bench{o:03d}",
        "name": f"Bench Outlet {o}",
        "host": f"o{o:03d}.mocknews.localhost",
        "language": "en",
        "feed": "rss2" if o % 2 == 0 else "atom",
        "sitemaps": "news" if o % 2 == 1 else "none",
        "articles": [],
    }


def build_real_web(outlets: int, per_outlet: int, folder: Path) -> dict[str, Any]:
    """N outlets x M articles whose pages are the Scrapinghub benchmark's real pages, cycled; the
    pages are written once to ``folder`` (decoded as the extraction sets decode them) and each
    feed entry carries the page's <title> and the first paragraph of its ground-truth body."""
    from bench.extraction_sets import load_scrapinghub

    root = next(d for d in SCRAPINGHUB_DIRS if (d / "ground-truth.json").is_file())
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for i, page in enumerate(load_scrapinghub(root)):
        path = folder / f"page-{i:03d}.html"
        path.write_text(page.html, encoding="utf-8")
        match = _TITLE_RE.search(page.html)
        body = page.body or ""
        title = " ".join(match.group(1).split()) if match else " ".join(body.split()[:9])
        first = next((p for p in body.split("\n") if p.strip()), body)
        saved.append({"title": title, "paragraphs": [first], "html_file": str(path)})
    start = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    specs = []
    for o in range(outlets):
        spec = _outlet_spec(o)
        for j in range(per_outlet):
            n = o * per_outlet + j
            published = start + timedelta(seconds=37 * n)
            spec["articles"].append(
                {
                    **saved[n % len(saved)],
                    "path": f"/news/{published:%Y/%m/%d}/story-{n}",
                    "published": published.isoformat(),
                }
            )
        specs.append(spec)
    return {"outlets": specs, "credits": "Scrapinghub article-extraction-benchmark (MIT)"}
