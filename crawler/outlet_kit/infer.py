"""What ``outlet add`` infers from the URLs and pages it sampled: the outlet's id, its
``allowed_domains``, its language, candidate ``article_url_patterns``, and (for a site with
neither feed nor sitemap) which homepage links look like articles and which like sections.
Guesses from what was seen, each written with a comment saying so, for review."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit

from crawler.outlet_kit.discover import host_domain, looks_like_feed, same_site, site_domain
from crawler.outlet_kit.fetch import Fetched
from crawler.outlet_kit.sample import Sample, _language
from pipelines.extract.page import declared_language

_YEAR = re.compile(r"(19|20)\d\d")
_ANY_HOST = r"^https?://[^/]+"


def _segments(url: str) -> list[str]:
    return [s for s in urlsplit(url).path.split("/") if s]


def outlet_id(homepage: str) -> str:
    """``www.riverside-gazette.example`` -> ``riverside_gazette``."""
    label = site_domain(homepage).split(".")[0]
    name = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:48]
    return name if re.match(r"[a-z]", name) else f"outlet_{name or 'site'}"


def allowed_domains(homepage: str, urls: Sequence[str]) -> list[str]:
    """The homepage's host (without ``www.``) and those of the sources and articles on the same
    site, without a domain that another one covers (subdomains are included)."""
    found = {host_domain(homepage)} | {host_domain(u) for u in urls if same_site(u, homepage)}
    return sorted(d for d in found if not any(d.endswith("." + e) for e in found if e != d))


def _looks_like_article(url: str) -> bool:
    segments = _segments(url)
    if not segments:
        return False
    last = segments[-1].rsplit(".", 1)[0]
    slug = last.count("-") >= 2 or (last.count("-") >= 1 and len(last) >= 12)
    numbered = bool(re.search(r"\d{4,}", last))
    return (len(segments) >= 2 and (slug or numbered)) or (len(segments) == 1 and slug)


def article_candidates(links: Sequence[str], homepage: str) -> list[str]:
    """Homepage links on the site whose path looks like an article's (a slug or an id)."""
    return [
        u
        for u in links
        if same_site(u, homepage) and _looks_like_article(u) and not looks_like_feed(u)
    ]


def patterns(urls: Sequence[str]) -> list[str]:
    """Regular expressions from article URLs: their first directory (a year as ``\\d{4}``),
    or for articles at the top level, the shape of a slug; most common first."""
    counts: Counter[str] = Counter()
    for url in urls:
        segments = _segments(url)
        if len(segments) >= 2:
            first = segments[0]
            key = r"\d{4}" if _YEAR.fullmatch(first) else re.escape(first)
            counts[f"{_ANY_HOST}/{key}/"] += 1
        elif segments and segments[0].count("-") >= 1:
            counts[f"{_ANY_HOST}/[^/?#]*-[^/?#]*/?$"] += 1
    return [p for p, _n in counts.most_common()]


def matches(url: str, found: Sequence[str]) -> bool:
    return any(re.search(p, url) for p in found)


def section_pages(links: Sequence[str], homepage: str, found: Sequence[str]) -> list[str]:
    """Homepage links one directory deep on the homepage's host that are not articles:
    sections, whose pages list more articles."""
    host = urlsplit(homepage).netloc
    sections: list[str] = []
    for url in links:
        parts = urlsplit(url)
        segments = _segments(url)
        if (
            parts.netloc == host
            and len(segments) == 1
            and not parts.query
            and not matches(url, found)
            and not _looks_like_article(url)
            and not looks_like_feed(url)
            and url not in sections
        ):
            sections.append(url)
    return sections


def language(samples: Sequence[Sample], homepage: Fetched) -> tuple[str, str]:
    """(ISO 639-1 code, where it comes from)."""
    counted = Counter(s.language for s in samples if s.language)
    if counted:
        code, n = counted.most_common(1)[0]
        return code, f"declared by {n} of {len(samples)} sampled articles"
    text = homepage.body[:65536].decode("utf-8", "replace")
    code_or_none = _language(declared_language(text))
    if code_or_none:
        return code_or_none, "declared by the homepage"
    return "en", "nothing declares one: a guess, check it"
