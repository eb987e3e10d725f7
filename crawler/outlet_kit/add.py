"""``newscrawl outlet add URL``: from a homepage to an outlet file. The site's feeds and
sitemaps are found and checked (``discover.py``), a few articles of the best sources are
fetched and extracted (``sample.py``), ``allowed_domains``, ``language`` and
``article_url_patterns`` are inferred from them (``infer.py``), and ``<id>.toml`` is written with
a comment per source, with fixtures and a golden file as ``outlet new`` writes them. A site
with neither feed nor sitemap gets ``homepage`` sources: its homepage and a few section pages,
read for links that match the patterns."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from crawler.outlet_kit import golden, infer
from crawler.outlet_kit.discover import Checked, Site, check_page, discover, same_site
from crawler.outlet_kit.draft import (
    _stage,
    check_id,
    free_target,
    install,
    render_outlet,
    report_written,
)
from crawler.outlet_kit.fetch import Fetcher, ToolError
from crawler.outlet_kit.sample import Sample, extract_sample
from crawler.urls import is_fetchable

#: articles sampled at most, and section pages read besides the homepage (homepage kind)
SAMPLES = 3
SECTIONS = 2
#: feeds written as sources at most (sites announce one per section)
MAX_FEEDS = 3
#: links not used, listed one by one at most in the file's closing comments
MAX_NOTES = 12


@dataclass
class Plan:
    """What the outlet file will say."""

    active: list[Checked]  # written as [[sources]]
    inactive: list[Checked]  # written commented out, with why
    samples: list[Sample]
    homepage_kind: bool = False


def _samples(fetcher: Fetcher, sources: list[Checked], home: str, want: int) -> list[Sample]:
    """The newest article of each source (its sample in the table), then more of the newest
    entries in turn up to ``want``; same site only, each URL fetched once."""
    done: dict[str, Sample] = {}
    queues = [[u for u in s.entries if same_site(u, home)] for s in sources]

    def take(source: Checked, url: str) -> Sample:
        if url not in done:
            done[url] = extract_sample(fetcher, url, source.titles.get(url))
        return done[url]

    for source, queue in zip(sources, queues, strict=True):
        if queue:
            source.sample = take(source, queue[0]).describe()
    for round_ in range(1, want):
        for source, queue in zip(sources, queues, strict=True):
            if len(done) < want and round_ < len(queue):
                take(source, queue[round_])
    return list(done.values())


def plan_sources(fetcher: Fetcher, site: Site, sections: int = SECTIONS) -> Plan:
    usable = site.usable()
    all_feeds = [c for c in usable if c.kind in ("rss", "atom")]
    feeds = all_feeds[:MAX_FEEDS]
    news = [c for c in usable if c.kind == "news_sitemap"]
    plain = [c for c in usable if c.kind == "sitemap"]
    indexes = [c for c in site.sources if c.kind == "sitemap_index" and c.ok]
    if feeds or news:
        active = news + feeds
        inactive = [*all_feeds[MAX_FEEDS:], *plain, *indexes]
    else:
        active = plain
        inactive = []
    if active:
        samples = _samples(fetcher, active, site.homepage.url, SAMPLES)
        return Plan(active, inactive, samples)
    return _homepage_plan(fetcher, site, sections)


def _homepage_plan(fetcher: Fetcher, site: Site, sections: int) -> Plan:
    """No feed, no sitemap: the homepage's links that look like articles, sampled; the
    patterns of those that extract; a few section pages to read as well."""
    home = site.homepage.url
    page = check_page(fetcher, home, "the homepage", site.homepage)
    candidates = infer.article_candidates(page.entries, home)
    samples: list[Sample] = []
    for url in candidates[: SAMPLES * 2]:
        samples.append(extract_sample(fetcher, url))
        if sum(s.ok for s in samples) >= SAMPLES:
            break
    good = [s.url for s in samples if s.ok]
    if not good:
        raise ToolError(
            f"{home}: found no feed and no sitemap, and none of the {len(candidates)} "
            "article-like links of the homepage extracts: write the outlet by hand "
            "(docs/adding-an-outlet.md)"
        )
    patterns = infer.patterns(good)
    links = page.entries
    page.entries = [u for u in links if infer.matches(u, patterns)]
    page.sample = next(s.describe() for s in samples if s.ok)
    active = [page]
    for url in infer.section_pages(links, home, patterns)[:sections]:
        section = check_page(fetcher, url, "a section page of the homepage")
        section.entries = [u for u in section.entries if infer.matches(u, patterns)]
        if section.ok:
            active.append(section)
    return Plan(active, [], samples, homepage_kind=True)


def _comment(c: Checked) -> str:
    newest = f", newest {c.newest:%Y-%m-%d %H:%M} UTC" if c.newest else ""
    sample = f"; sample article: {c.sample}" if c.sample else ""
    what = {"homepage": "links matching article_url_patterns"}.get(c.kind, "entries")
    count = f"{len(c.entries)} {what}"
    if c.kind == "sitemap_index":
        listed = sum(len(x.entries) for x in c.children)
        count = f"{len(c.children)} sitemaps checked ({listed} entries)"
    return f"{c.kind}, found by {c.found_by}: {count}{newest}{sample}"


def _notes(site: Site, plan: Plan) -> list[str]:
    notes = [f"robots.txt: {site.robots}"]
    if plan.homepage_kind:
        notes.append(
            "No feed and no sitemap found: the homepage (and section pages) are read for "
            "links matching article_url_patterns, and polled like a feed."
        )
    for c in site.sources:
        if not c.ok and c.kind != "sitemap_index":
            notes.append(f"not used: {c.url} ({c.found_by}): {c.error}")
        for child in c.children:
            if not child.ok:
                notes.append(f"not used: {child.url} ({child.found_by}): {child.error}")
    notes += [f"not used: {url} ({why})" for url, why in site.skipped[:MAX_NOTES]]
    if len(site.skipped) > MAX_NOTES:
        notes.append(f"... and {len(site.skipped) - MAX_NOTES} more links not used")
    if site.tried:
        notes.append(f"common paths tried, nothing there: {', '.join(site.tried)}")
    return notes


def draft_add_toml(outlet_id: str, site: Site, plan: Plan, name: str | None) -> str:
    home = site.homepage.url
    good = [s for s in plan.samples if s.ok]
    entry_urls = [u for c in plan.active for u in c.entries if same_site(u, home)]
    patterns = infer.patterns([s.url for s in good]) if good else []
    covered = sum(infer.matches(u, patterns) for u in entry_urls)
    language, language_note = infer.language(good, site.homepage)
    domains = infer.allowed_domains(home, [c.url for c in plan.active] + [s.url for s in good])
    sources = [
        {"kind": c.kind, "url": c.url, "comment": _comment(c), "active": True} for c in plan.active
    ]
    sources += [
        {
            "kind": c.kind,
            "url": c.url,
            "comment": _comment(c),
            "active": False,
            "why": f"a feed beyond the first {MAX_FEEDS}: uncomment it to crawl it too"
            if c.kind in ("rss", "atom")
            else "the feeds or news sitemaps above list the newest articles; this lists them all.",
        }
        for c in plan.inactive
    ]
    return render_outlet(
        "outlet_add.toml.j2",
        id=outlet_id,
        name=name or outlet_id,
        homepage=home,
        language=language,
        language_note=language_note,
        allowed_domains=domains,
        patterns=patterns,
        # patterns that drop entries a source lists are only offered, never imposed (a
        # homepage source needs them: its other links are navigation)
        patterns_active=plan.homepage_kind or (bool(patterns) and covered == len(entry_urls)),
        patterns_note=f"from {len(good)} sampled articles; they match {covered} of the "
        f"{len(entry_urls)} entries of the sources",
        sources=sources,
        notes=_notes(site, plan),
    )


def print_table(site: Site, plan: Plan, out: TextIO) -> None:
    rows = [("source", "kind", "entries", "newest", "sample extraction")]
    listed = [*plan.active, *plan.inactive]
    for c in site.sources:
        if c not in listed and not c.ok:
            listed.append(c)
    for c in listed:
        newest = f"{c.newest:%Y-%m-%d %H:%M}" if c.newest else "-"
        detail = c.sample or (c.error or "")
        kind = c.kind + ("" if c in plan.active else " (not used)" if c.ok else " (broken)")
        entries = f"{len(c.children)} maps" if c.kind == "sitemap_index" else str(len(c.entries))
        rows.append((c.url, kind, entries, newest, detail))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2])]
        print("  ".join([*cells, r[3].ljust(widths[3]), r[4]]).rstrip(), file=out)


def add_outlet(
    homepage: str,
    *,
    outlet_id: str | None = None,
    name: str | None = None,
    force: bool = False,
    sections: int = SECTIONS,
    outlets_dir: str | None = None,
    out: TextIO | None = None,
) -> Path:
    """Discover, check, sample, write ``<id>.toml`` and its fixtures; returns the file."""
    out = out or sys.stdout
    if not is_fetchable(homepage):
        raise ToolError(f"not an http(s) URL: {homepage}")
    outlet_id = outlet_id or infer.outlet_id(homepage)
    check_id(outlet_id)
    folder = free_target(outlet_id, outlets_dir, force=force)
    fetcher = Fetcher()
    site = discover(fetcher, homepage)
    plan = plan_sources(fetcher, site, sections)
    if plan.homepage_kind:
        print(
            f"{site.homepage.url}: no feed and no sitemap found; using homepage sources", file=out
        )
    print_table(site, plan, out)
    toml = draft_add_toml(outlet_id, site, plan, name)
    with tempfile.TemporaryDirectory(prefix=f".add-{outlet_id}-", dir=folder) as scratch:
        staging = Path(scratch)
        source = plan.active[0]
        recording = golden.Recording(source.kind, source.url, source.body, "", b"")
        outlet = _stage(staging, outlet_id, toml, recording)
        requested = golden.article_urls(outlet, recording)
        if not requested:
            raise ToolError(
                f"the drafted outlet's spider requests no article from {source.url}: its "
                "entries are on another site or match no pattern; write the outlet by hand"
            )
        # a sample that extracted, else one that did not (the golden file and a warning say
        # so, as with outlet new), else the first article requested
        fetched_samples = [s for s in plan.samples if s.fetched and s.url in requested]
        pick = next((s for s in fetched_samples if s.ok), None) or next(iter(fetched_samples), None)
        article_url = pick.url if pick else requested[0]
        fetched = pick.fetched if pick and pick.fetched else fetcher.fetch(article_url)
        recording = golden.Recording(
            source.kind,
            source.url,
            source.body,
            article_url,
            fetched.body,
            fetched.url if fetched.url != article_url else None,
        )
        for path in golden.fixtures_dir(outlet).iterdir():
            path.unlink()
        golden.fixtures_dir(outlet).rmdir()
        outlet = _stage(staging, outlet_id, toml, recording)
        result = golden.replay(outlet, recording)
        golden.write_golden(outlet, result)
        problems = golden.problems(outlet, recording, result)
        final_toml = install(staging, outlet, folder, force=force)
    report_written(final_toml, problems, out)
    return final_toml
