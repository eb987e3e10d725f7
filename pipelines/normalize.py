"""Normalize: one canonical URL per article, every other URL that led to it kept as an alias."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crawler.failures import ArticleDropped
from crawler.items import ArticleItem
from crawler.urls import canonical_url


def plausible_canonical(declared: str | None, is_article: Any) -> str | None:
    """A page's rel=canonical, believed only when it names one of the outlet's own article
    URLs: not the homepage, not another site (pages that point every article at the homepage,
    or at a syndication partner, must not collapse into one row)."""
    if not declared:
        return None
    try:
        url = canonical_url(declared)
    except ValueError:
        return None
    path = urlsplit(url).path
    if path in ("", "/") or not is_article(url):
        return None
    return url


def canonical_and_aliases(
    requested: str, final: str, is_article: Any, declared: str | None = None
) -> tuple[str, list[str]]:
    """The article's canonical URL and the other spellings that reach it: the page's plausible
    rel=canonical, else the final URL after redirects when that is still one of the outlet's
    article URLs, else the requested one."""
    requested_c = canonical_url(requested)
    try:
        final_c = canonical_url(final)
    except ValueError:
        final_c = requested_c
    canonical = plausible_canonical(declared, is_article) or (
        final_c if is_article(final_c) else requested_c
    )
    aliases = {requested, final, requested_c, final_c} - {canonical}
    return canonical, sorted(aliases)


class NormalizePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        stats = self.crawler.stats
        outlet = self.crawler.spider.outlet  # one crawler, one outlet
        try:
            item.canonical_url, item.aliases = canonical_and_aliases(
                item.url, item.response_url, outlet.is_article_url, item.declared_canonical
            )
        except ValueError as exc:
            stats.inc_value("newscrawl/normalize/bad_url")
            raise ArticleDropped("bad_url", str(exc)) from exc
        if not outlet.is_article_url(item.canonical_url):
            stats.inc_value("newscrawl/normalize/offsite")
            raise ArticleDropped("offsite", item.response_url)
        if item.aliases:
            stats.inc_value("newscrawl/normalize/aliased")
        stats.inc_value("newscrawl/normalize/ok")
        return item
