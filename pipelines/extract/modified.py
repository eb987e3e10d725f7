"""When the page says its article was last modified: ``article:modified_time``,
``og:updated_time``, ``itemprop="dateModified"``, a ``last-modified`` meta tag or JSON-LD
``dateModified``. htmldate answers "when was it published" (its ``original_date``); this is the
other date, the one a live story moves at each update, and so a refetch trigger
(``storage.url_state.due_refetches``). Pure function over the parsed page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from crawler.dates import believable, parse_date

_META_XPATH = (
    "//meta[@property='article:modified_time' or @property='og:updated_time'"
    " or @itemprop='dateModified' or @name='last-modified' or @name='dcterms.modified']"
    "/@content"
    " | //*[@itemprop='dateModified']/@datetime"
)


def page_modified(
    tree: Any, json_ld: Iterable[str] = (), now: datetime | None = None
) -> datetime | None:
    """The latest believable modification date the page declares (UTC), in its tags or its
    JSON-LD ``dateModified`` values (``json_ld``: ``evidence.page_claims`` reads the blocks
    once); None when it declares none. A date in the future is not believed (a clock or
    template error)."""
    texts = [str(v) for v in tree.xpath(_META_XPATH)] + list(json_ld)
    dates = [d for d in (believable(parse_date(t), now) for t in texts) if d is not None]
    return max(dates, default=None)
