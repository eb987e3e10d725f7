"""Build Press TV's golden-test fixtures (``crawler/outlets/fixtures/presstv/``) from the seed
article in the shared research data (run once by a developer; the files are committed):

    python -m crawler.demo.build_presstv_fixtures ../shared/data/seed

The seed is the article's text only, as a page extraction left it: the lead photo's caption,
the site's credit line ``Presstv.com``, then the body with a second photo's caption run into it.
So ``article.html`` is a reconstruction: the seed's words, unchanged, split into paragraphs where
the seed shows a break (a line that ends a sentence, or the `` . `` the extraction left between
two paragraphs), put back into a page laid out as Press TV's
article pages were (headline, date line, lead photo with caption, credit line, body paragraphs
with an inline photo and caption, related links, site chrome), and ``feed.xml`` an RSS 2.0 feed
listing it. What is recorded and what is reconstructed: ``fixtures/presstv/README.md``. The
golden file is the replay of the two through the outlet's spider and extraction (later
changes: ``newscrawl outlet check presstv --update-golden``).
"""

from __future__ import annotations

import html
import re
import sys
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from crawler.demo.build_sample import seed_article
from crawler.outlet_kit import golden
from crawler.registry import load_registry

OUT = Path(__file__).resolve().parent.parent / "outlets" / "fixtures" / "presstv"
BASE = "https://www.presstv.ir"
FEED_URL = BASE + "/rss.xml"  # the outlet file's rss source

#: headlines of the related-news box: site chrome the extraction must leave out
RELATED = [
    ("/Section/10101", "Iran"),
    ("/Section/10102", "Middle East"),
    ("/Section/10104", "World"),
]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def article_page(art: dict[str, object]) -> str:
    paragraphs = [str(p) for p in art["paragraphs"]]  # type: ignore[attr-defined]
    figures = {int(f["before"]): str(f["caption"]) for f in art["figures"]}  # type: ignore[attr-defined]
    published = datetime.fromisoformat(str(art["published"]))
    url = BASE + str(art["path"])
    title = str(art["title"])
    lead = figures.pop(0)
    body = []
    for i, paragraph in enumerate(paragraphs):
        if i in figures:
            body.append(
                f'<div class="inline-photo"><img src="/photo/2015/09/10/inline-{i}.jpg" alt="">'
                f'<p class="photo-caption">{_e(figures[i])}</p></div>'
            )
        body.append(f"<p>{_e(paragraph)}</p>")
    related = "".join(f'<li><a href="{BASE}{path}">{_e(name)}</a></li>' for path, name in RELATED)
    body_html = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>PressTV-{_e(title)}</title>
<meta name="description" content="{_e(paragraphs[0])}">
<meta property="og:title" content="{_e(title)}">
<meta property="og:site_name" content="PressTV">
<meta property="og:url" content="{_e(url)}">
<meta property="og:image" content="{BASE}/photo/2015/09/10/lead.jpg">
<link rel="canonical" href="{_e(url)}">
</head>
<body>
<div id="header"><a href="/"><img src="/images/logo.png" alt="PressTV"></a>
<ul class="menu"><li><a href="/Section/10101">Iran</a></li>
<li><a href="/Section/10102">Middle East</a></li>
<li><a href="/Section/10104">World</a></li><li><a href="/Section/10105">Videos</a></li>
<li><a href="/live">Live</a></li></ul></div>
<div id="main">
<div class="main-body">
<h1 class="main-title">{_e(title)}</h1>
<div class="news-date">{published:%a %b %-d, %Y %-I:%M%p}</div>
<figure class="news-image"><img src="/photo/2015/09/10/lead.jpg" alt="">
<figcaption>{_e(lead)}</figcaption></figure>
<div class="news-body">
<p>{_e(art["credit_line"])}</p>
{body_html}
</div>
</div>
<div class="related-news"><h3>Related news</h3><ul>{related}</ul></div>
</div>
<div id="footer"><p>Copyright &copy; 2015 Press TV. All rights reserved.</p>
<a href="/About">About us</a> <a href="/Contact">Contact us</a></div>
</body>
</html>
"""


def feed(art: dict[str, object]) -> str:
    url = BASE + str(art["path"])
    published = format_datetime(datetime.fromisoformat(str(art["published"])), usegmt=True)
    summary = str(art["paragraphs"][0])  # type: ignore[index]
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
<title>PressTV</title>
<link>{BASE}/</link>
<description>PressTV News</description>
<item>
<title>{xml_escape(str(art["title"]))}</title>
<link>{xml_escape(url)}</link>
<guid>{xml_escape(url)}</guid>
<pubDate>{published}</pubDate>
<description>{xml_escape(summary)}</description>
</item>
<item>
<title>Iran</title>
<link>{BASE}/Section/10101</link>
<description>Latest news from Iran</description>
</item>
</channel>
</rss>
"""


def paragraphs_of(seed_text: str) -> tuple[list[str], int, str]:
    """The seed's body paragraphs, where the inline photo stood (the index of the paragraph it
    precedes) and its caption."""
    lines = [line.strip() for line in seed_text.splitlines()[2:]]
    blocks, current = [], []
    for line in lines:
        current.append(line)
        if line.endswith("."):
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    pieces = [p.strip(" .") + "." for block in blocks for p in block.split(" . ") if p.strip(" .")]
    caption_re = re.compile(r"\s*(A handout picture released .*?\(AFP Photo\))\s*")
    paragraphs: list[str] = []
    where, caption = -1, ""
    for piece in pieces:
        match = caption_re.search(piece)
        if match:
            caption = match.group(1)
            paragraphs.append(piece[: match.start()].strip())
            where = len(paragraphs)
            paragraphs.append(piece[match.end() :].strip())
        else:
            paragraphs.append(piece)
    assert where > 0, "seed layout changed: no inline photo caption"
    return paragraphs, where, caption


def main(seed_dir: Path) -> None:
    seed = sorted(seed_dir.glob("*.txt"))[0]
    text = seed.read_text(encoding="utf-8")
    art = seed_article(text)  # headline, date, URL, lead caption: as the demo outlet has them
    paragraphs, where, caption = paragraphs_of(text)
    art["paragraphs"] = paragraphs
    art["figures"] = [art["figures"][0], {"before": where, "caption": caption}]  # type: ignore[index]
    OUT.mkdir(parents=True, exist_ok=True)
    page, listing = article_page(art), feed(art)
    (OUT / golden.ARTICLE_FILE).write_text(page, encoding="utf-8")
    (OUT / golden.FEED_FILE).write_text(listing, encoding="utf-8")
    outlet = load_registry(include_builtin=True)["presstv"]
    recording = golden.Recording(
        "rss", FEED_URL, listing.encode(), BASE + str(art["path"]), page.encode()
    )
    golden.write_golden(outlet, golden.replay(outlet, recording))
    print(f"wrote {OUT}/ ({', '.join(golden.FIXTURE_FILES)}) from {seed.name}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/seed"))
