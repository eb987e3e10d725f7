"""The floor of any Scrapy-based crawler on the benchmark web: a plain spider that reads the feeds
and downloads every article, with default Scrapy settings (plus loopback name resolution, set on
the command line) and no extraction or storage. ``crawl_bench.py`` runs it as

    scrapy runspider bench/fetch_only_spider.py -a feeds=URL,URL,... \
        -s TWISTED_DNS_RESOLVER=crawler.resolver.LocalhostAwareResolver
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
import scrapy


class FetchOnlySpider(scrapy.Spider):
    name = "fetch_only"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
    }

    def __init__(self, feeds: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feed_urls = [u for u in feeds.split(",") if u]
        self.pages = 0

    async def start(self) -> Any:
        for url in self.feed_urls:
            yield scrapy.Request(url, callback=self.parse_feed)

    def parse_feed(self, response: Any) -> Iterator[scrapy.Request]:
        for entry in feedparser.parse(response.body).entries:
            yield scrapy.Request(entry.link, callback=self.parse_page)

    def parse_page(self, response: Any) -> None:
        self.pages += 1

    def closed(self, reason: str) -> None:
        print(f"PAGES {self.pages}", flush=True)
