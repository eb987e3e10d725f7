"""Build ``crawler/demo/sample.json``, the small offline news web behind ``newscrawl demo`` and the
tests, from the shared research data (run once by a developer; users get the JSON file).

    python -m crawler.demo.build_sample ../shared/data

Three mock outlets: ``demo_bbc`` (BBC News articles, RSS 2.0 + robots.txt -> sitemap index ->
Google News sitemap), ``demo_presstv`` (the Press TV seed article with its photo captions and
credit line, plus BBC articles; Atom + news sitemap) and ``demo_wire`` (an RSS 1.0 wire service
that republishes stories of the other two with new headlines, trimmed ends and captions).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "sample.json"


def slugify(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:80]


def seed_article(seed_text: str) -> dict[str, object]:
    lines = seed_text.splitlines()
    lead_caption = lines[0].strip()  # "Russian Foreign Minister Sergei Lavrov (AFP Photo)"
    body = " ".join(line.strip() for line in lines[2:])
    mid_caption_re = re.compile(r"A handout picture released .*?\(AFP Photo\)")
    mid_caption = mid_caption_re.search(body)
    assert mid_caption, "seed layout changed"
    before, after = body[: mid_caption.start()], body[mid_caption.end() :]
    paragraphs_before = [p.strip(" .") + "." for p in before.split(" . ") if p.strip(" .")]
    paragraphs_after = [p.strip(" .") + "." for p in after.split(" . ") if p.strip(" .")]
    paragraphs = paragraphs_before + paragraphs_after
    return {
        "title": "Russia to keep helping Syria to avoid Libya scenario: Lavrov",
        "paragraphs": paragraphs,
        "figures": [
            {"before": 0, "caption": lead_caption},
            {"before": len(paragraphs_before), "caption": mid_caption.group(0)},
        ],
        "credit_line": "Presstv.com",
        "author": None,
        "published": "2015-09-10T14:26:00+00:00",
        "path": "/Detail/2015/09/10/428783/Russia-Syria-Lavrov-Libya-scenario",
    }


def main(shared_data: Path) -> None:
    with gzip.open(shared_data / "bbc-news" / "articles.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    bodies_seen: set[str] = set()
    picked: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        paragraphs = [p.strip() for p in row["body"].split("\n\n") if p.strip()]
        words = len(row["body"].split())
        if row["body"] in bodies_seen or not 250 <= words <= 520 or len(paragraphs) < 5:
            continue
        bodies_seen.add(row["body"])
        picked.setdefault(row["category"], []).append(
            {"bbc_id": row["id"], "title": row["title"].strip(), "paragraphs": paragraphs}
        )
    base = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
    authors = ["Alex Morgan", "Priya Shah", "Tom Reid", None]

    bbc = []
    for i, art in enumerate(
        picked["business"][:3] + picked["tech"][:3] + picked["sport"][:3] + picked["politics"][:3]
    ):
        published = base + timedelta(hours=5 * i, minutes=7 * i)
        bbc.append(
            {
                **art,
                "path": "/news/{}-{}".format(
                    str(art["bbc_id"]).replace("/", "-"), slugify(str(art["title"]))
                ),
                "published": published.isoformat(),
                "author": authors[i % len(authors)],
                "figures": [],
            }
        )

    seed = (shared_data / "seed").glob("*.txt")
    presstv = [seed_article(next(seed).read_text(encoding="utf-8"))]
    for i, art in enumerate(picked["entertainment"][:5]):
        published = base + timedelta(days=1, hours=3 * i)
        presstv.append(
            {
                **art,
                "path": f"/Detail/{published:%Y/%m/%d}/{430000 + i}/{slugify(str(art['title']))}",
                "published": published.isoformat(),
                "author": None,
                "figures": [],
            }
        )

    wire = []
    # The seed story as another outlet carried it: new headline, no captions, a shorter end.
    s = presstv[0]
    seed_paragraphs = list(s["paragraphs"])  # type: ignore[call-overload]
    wire.append(
        {
            "title": "Moscow vows to keep arming Damascus, citing Libya",
            "paragraphs": seed_paragraphs[: max(3, int(len(seed_paragraphs) * 0.7))],
            "figures": [],
            "path": "/story/moscow-vows-to-keep-arming-damascus",
            "published": "2015-09-10T17:40:00+00:00",
            "author": "Wire staff",
            "copy_of": "demo_presstv:0",
            "feed_date": True,
        }
    )
    # BBC stories republished: new headline, end trimmed to 50-90 %, a caption, light edits.
    for n, (src_index, keep) in enumerate([(0, 0.9), (3, 0.6), (6, 0.5), (9, 0.75)]):
        src = bbc[src_index]
        paragraphs = list(src["paragraphs"])  # type: ignore[call-overload]
        kept = paragraphs[: max(3, round(len(paragraphs) * keep))]
        kept[0] = kept[0].replace(" said ", " says ", 1)
        published = datetime.fromisoformat(str(src["published"])) + timedelta(hours=2 + n)
        wire.append(
            {
                "title": f"{src['title']}, reports say",
                "paragraphs": kept,
                "figures": [{"before": 1, "caption": "A file photo of the scene. (Wire Photo)"}],
                "path": f"/story/{slugify(str(src['title'])).lower()}-{n}",
                "published": published.isoformat(),
                "author": "Wire staff",
                "copy_of": f"demo_bbc:{src_index}",
                "feed_date": n % 2 == 0,  # some RSS 1.0 items carry no date: the page's is used
            }
        )
    for n, art in enumerate(picked["politics"][5:8]):
        published = base + timedelta(days=2, hours=4 * n)
        wire.append(
            {
                **art,
                "path": f"/story/{slugify(str(art['title'])).lower()}",
                "published": published.isoformat(),
                "author": "Wire staff",
                "figures": [],
                "feed_date": True,
            }
        )

    outlets: list[dict[str, Any]] = []
    sample = {
        "outlets": outlets,
        "credits": (
            "Article texts: BBC News dataset (D. Greene and P. Cunningham, ICML 2006), content "
            "(c) BBC, for research and testing; one Press TV article (2015), the project's seed."
        ),
    }
    outlets += [
        {
            "id": "demo_bbc",
            "name": "BBC News (sample)",
            "host": "bbc.mocknews.localhost",
            "language": "en",
            "feed": "rss2",
            "sitemaps": "robots_index",
            "articles": bbc,
        },
        {
            "id": "demo_presstv",
            "name": "Press TV (sample)",
            "host": "presstv.mocknews.localhost",
            "language": "en",
            "feed": "atom",
            "sitemaps": "news",
            "articles": presstv,
        },
        {
            "id": "demo_wire",
            "name": "Newswire (sample)",
            "host": "wire.mocknews.localhost",
            "language": "en",
            "feed": "rss1",
            "sitemaps": "none",
            "articles": wire,
        },
    ]
    OUT.write_text(json.dumps(sample, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(len(o["articles"]) for o in outlets)
    print(f"wrote {OUT} with {total} articles")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
