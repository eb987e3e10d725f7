"""Spiders from the outlet registry: ``scrapy list`` and ``scrapy crawl <outlet>`` work for every
outlet file, built-in or the user's, without writing a spider class."""

from __future__ import annotations

import builtins
import sys
from typing import Any

from scrapy import Request, Spider

from crawler.registry import Outlet, OutletError, load_registry
from spiders.outlet import OutletSpider, spider_class_for


class OutletSpiderLoader:
    def __init__(self, settings: Any) -> None:
        try:
            outlets = load_registry(settings.get("NEWSCRAWL_OUTLETS_DIR"))
        except OutletError as exc:
            # under `scrapy crawl`/`scrapy list` too: the file and the key on one line, exit 1
            print(f"newscrawl: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        self._outlets: dict[str, Outlet] = outlets
        self._classes: dict[str, type[OutletSpider]] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> OutletSpiderLoader:
        return cls(settings)

    def load(self, spider_name: str) -> type[Spider]:
        if spider_name not in self._outlets:
            raise KeyError(f"Spider not found: {spider_name}")
        if spider_name not in self._classes:
            self._classes[spider_name] = spider_class_for(self._outlets[spider_name])
        return self._classes[spider_name]

    def list(self) -> list[str]:
        return list(self._outlets)

    def find_by_request(self, request: Request) -> builtins.list[str]:
        return [
            name for name, outlet in self._outlets.items() if outlet.is_article_url(request.url)
        ]
