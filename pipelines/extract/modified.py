"""When the page says its article was last modified: ``article:modified_time``,
``og:updated_time``, ``itemprop="dateModified"``, a ``last-modified`` meta tag or JSON-LD
``dateModified``. htmldate answers "when was it published" (its ``original_date``); this is the
other date, the one a live story moves at each update, and so a refetch trigger
(``storage.url_state.due_refetches``). Pure function over the parsed page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from crawler.dates import believable, parse_date

_META_XPATH = (
    "//meta[@property='article:modified_time' or @property='og:updated_time'"
    " or @itemprop='dateModified' or @name='last-modified' or @name='dcterms.modified']"
    "/@content"
    " | //*[@itemprop='dateModified']/@datetime"
)
_KEY = "dateModified"


def _json_ld_dates(tree: Any) -> list[str]:
    found: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            value = obj.get(_KEY)
            if isinstance(value, str):
                found.append(value)
            for v in obj.values():
                if isinstance(v, dict | list):
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if _KEY not in raw:  # most blocks do not say: not worth parsing
            continue
        try:
            walk(json.loads(raw))
        except ValueError:  # a broken block on a real page is common
            continue
    return found


def page_modified(tree: Any, now: datetime | None = None) -> datetime | None:
    """The latest believable modification date the page declares (UTC), None when it declares
    none. A date in the future is not believed (a clock or template error)."""
    texts = [str(v) for v in tree.xpath(_META_XPATH)] + _json_ld_dates(tree)
    dates = [d for d in (believable(parse_date(t), now) for t in texts) if d is not None]
    return max(dates, default=None)
