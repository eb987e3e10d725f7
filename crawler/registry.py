"""Outlet registry: one TOML file per outlet, loaded into frozen, validated objects.

Built-in outlets live in ``crawler/outlets/``; users add their own in a folder named by the
``NEWSCRAWL_OUTLETS_DIR`` environment variable (or the setting / CLI option of the same meaning).
A user file with the same ``id`` as a built-in one replaces it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cssselect import GenericTranslator, SelectorError

if TYPE_CHECKING:
    from storage.outlets import OutletRecord

BUILTIN_DIR = Path(__file__).parent / "outlets"
OUTLETS_DIR_ENV = "NEWSCRAWL_OUTLETS_DIR"

#: Source kinds. Feeds (RSS 2.0, RSS 1.0, Atom) are all parsed by feedparser; every sitemap kind is
#: parsed by one parser that recognises urlsets, indexes and Google News entries.
FEED_KINDS = frozenset({"rss", "atom", "feed"})
SITEMAP_KINDS = frozenset({"sitemap", "sitemap_index", "news_sitemap"})
#: A page whose links are read for articles (``spiders/links.py``), for sites with neither feed
#: nor sitemap: polled like a feed, and only with ``article_url_patterns`` to tell its articles
#: from its navigation.
PAGE_KINDS = frozenset({"homepage"})
SOURCE_KINDS = FEED_KINDS | SITEMAP_KINDS | PAGE_KINDS | {"robots"}

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class OutletError(ValueError):
    """An outlet file is malformed; the message names the file and the key."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{path}: {key}: {problem}")


@dataclass(frozen=True)
class PollBounds:
    """How often ``newscrawl schedule`` may poll a source, in seconds: the adaptive interval
    moves between these bounds (a Retry-After from the server can push past the maximum)."""

    min_interval: float = 300.0
    max_interval: float = 6 * 3600.0


@dataclass(frozen=True)
class Source:
    kind: str
    url: str
    polling: PollBounds = field(default_factory=PollBounds)


@dataclass(frozen=True)
class Politeness:
    download_delay: float = 1.0
    concurrency: int = 4
    #: the outlet file sets ``download_delay``: a robots.txt Crawl-delay does not override it
    explicit_delay: bool = False


@dataclass(frozen=True)
class ExtractionHints:
    #: CSS selectors removed from the page before extraction (captions, share bars...).
    drop_selectors: tuple[str, ...] = ()
    #: Regular expressions; a line of extracted text matching one of them entirely is dropped.
    drop_line_patterns: tuple[str, ...] = ()
    #: CSS selectors of the article's container: when one matches, only it is extracted.
    keep_selectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    homepage: str
    language: str
    allowed_domains: tuple[str, ...]
    sources: tuple[Source, ...]
    article_url_patterns: tuple[str, ...] = ()
    deny_url_patterns: tuple[str, ...] = ()
    politeness: Politeness = field(default_factory=Politeness)
    extraction: ExtractionHints = field(default_factory=ExtractionHints)
    path: str = ""
    #: crawled when no outlet is named (``enabled = false``: only when named)
    enabled: bool = True

    def record(self) -> OutletRecord:
        """The outlet as storage records it (plain values)."""
        from storage.outlets import OutletRecord  # here: reading outlet files needs no database

        sources = [(s.kind, s.url) for s in self.sources]
        return OutletRecord(self.id, self.name, self.homepage, self.language, sources)

    def is_article_url(self, url: str) -> bool:
        """True when ``url`` looks like an article of this outlet (patterns, domain)."""
        if not host_allowed(urlsplit(url).hostname or "", self.allowed_domains):
            return False
        if any(re.search(p, url) for p in self.deny_url_patterns):
            return False
        if not self.article_url_patterns:
            return True
        return any(re.search(p, url) for p in self.article_url_patterns)


def host_allowed(host: str, allowed_domains: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in allowed_domains)


_TOP_KEYS = {
    "id",
    "name",
    "homepage",
    "language",
    "allowed_domains",
    "sources",
    "article_url_patterns",
    "deny_url_patterns",
    "politeness",
    "extraction",
    "polling",
    "enabled",
}
_REQUIRED = ("id", "name", "homepage", "language", "allowed_domains", "sources")


def _check_keys(path: Path, where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise OutletError(path, f"{where}{key}", "unknown key")


def _http_url(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise OutletError(path, key, "must be a string URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutletError(path, key, f"not an http(s) URL: {value!r}")
    return value


def _str_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OutletError(path, key, "must be a list of strings")
    return tuple(value)


def _patterns(path: Path, key: str, value: Any, lines: bool = False) -> tuple[str, ...]:
    """Regular expressions; with ``lines``, text lines to drop, so none may match every line."""
    patterns = _str_list(path, key, value)
    for i, p in enumerate(patterns):
        try:
            compiled = re.compile(p)
        except re.error as exc:
            raise OutletError(path, f"{key}[{i}]", f"bad regular expression: {exc}") from exc
        if lines and compiled.search(""):
            raise OutletError(path, f"{key}[{i}]", f"{p!r} matches every line, even an empty one")
    return patterns


def _selectors(path: Path, key: str, value: Any) -> tuple[str, ...]:
    selectors = _str_list(path, key, value)
    translator = GenericTranslator()
    for i, sel in enumerate(selectors):
        try:
            translator.css_to_xpath(sel)
        except SelectorError as exc:
            raise OutletError(path, f"{key}[{i}]", f"bad CSS selector: {exc}") from exc
    return selectors


def _poll_bounds(path: Path, where: str, raw: Any, defaults: PollBounds) -> PollBounds:
    """``min_interval`` / ``max_interval`` in seconds, over the given defaults."""
    if not isinstance(raw, dict):
        raise OutletError(path, where, "must be a table")
    _check_keys(path, where + ".", raw, {"min_interval", "max_interval"})
    values = {"min_interval": defaults.min_interval, "max_interval": defaults.max_interval}
    for key in values:
        if key in raw:
            value = raw[key]
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 1:
                raise OutletError(path, f"{where}.{key}", "must be a number of seconds >= 1")
            values[key] = float(value)
    if values["min_interval"] > values["max_interval"]:
        raise OutletError(path, f"{where}.min_interval", "is larger than max_interval")
    return PollBounds(**values)


def parse_outlet(data: Mapping[str, Any], path: Path) -> Outlet:
    """Validate one outlet's parsed TOML and build the frozen object."""
    _check_keys(path, "", data, _TOP_KEYS)
    for key in _REQUIRED:
        if key not in data:
            raise OutletError(path, key, "missing required key")
    outlet_id = data["id"]
    if not isinstance(outlet_id, str) or not _ID_RE.match(outlet_id):
        raise OutletError(path, "id", "must match [a-z][a-z0-9_]* (it is the spider name)")
    for key in ("name", "language"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise OutletError(path, key, "must be a non-empty string")
    homepage = _http_url(path, "homepage", data["homepage"])
    domains = tuple(d.lower() for d in _str_list(path, "allowed_domains", data["allowed_domains"]))
    if not domains:
        raise OutletError(path, "allowed_domains", "must name at least one domain")
    if not host_allowed(urlsplit(homepage).hostname or "", domains):
        raise OutletError(path, "homepage", "host is outside allowed_domains")

    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise OutletError(path, "enabled", "must be true or false")
    outlet_polling = _poll_bounds(path, "polling", data.get("polling", {}), PollBounds())
    raw_sources = data["sources"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise OutletError(path, "sources", "must be a non-empty array of tables")
    sources = []
    for i, raw in enumerate(raw_sources):
        where = f"sources[{i}]"
        if not isinstance(raw, dict):
            raise OutletError(path, where, "must be a table with kind and url")
        _check_keys(path, where + ".", raw, {"kind", "url", "min_interval", "max_interval"})
        kind = raw.get("kind")
        if kind not in SOURCE_KINDS:
            raise OutletError(path, where + ".kind", f"must be one of {sorted(SOURCE_KINDS)}")
        url = _http_url(path, where + ".url", raw.get("url"))
        if not host_allowed(urlsplit(url).hostname or "", domains):
            raise OutletError(path, where + ".url", f"host of {url!r} is outside allowed_domains")
        polling = _poll_bounds(
            path,
            where,
            {k: raw[k] for k in ("min_interval", "max_interval") if k in raw},
            outlet_polling,
        )
        sources.append(Source(kind=kind, url=url, polling=polling))

    politeness = Politeness()
    if "politeness" in data:
        raw = data["politeness"]
        if not isinstance(raw, dict):
            raise OutletError(path, "politeness", "must be a table")
        _check_keys(path, "politeness.", raw, {"download_delay", "concurrency"})
        delay = raw.get("download_delay", politeness.download_delay)
        conc = raw.get("concurrency", politeness.concurrency)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise OutletError(path, "politeness.download_delay", "must be a number >= 0")
        if not isinstance(conc, int) or isinstance(conc, bool) or not 1 <= conc <= 64:
            raise OutletError(path, "politeness.concurrency", "must be an integer from 1 to 64")
        politeness = Politeness(
            download_delay=float(delay), concurrency=conc, explicit_delay="download_delay" in raw
        )

    hints = ExtractionHints()
    if "extraction" in data:
        raw = data["extraction"]
        if not isinstance(raw, dict):
            raise OutletError(path, "extraction", "must be a table")
        _check_keys(
            path, "extraction.", raw, {"drop_selectors", "drop_line_patterns", "keep_selectors"}
        )
        hints = ExtractionHints(
            drop_selectors=_selectors(
                path, "extraction.drop_selectors", raw.get("drop_selectors", [])
            ),
            keep_selectors=_selectors(
                path, "extraction.keep_selectors", raw.get("keep_selectors", [])
            ),
            drop_line_patterns=_patterns(
                path,
                "extraction.drop_line_patterns",
                raw.get("drop_line_patterns", []),
                lines=True,
            ),
        )

    article_patterns = _patterns(path, "article_url_patterns", data.get("article_url_patterns", []))
    if not article_patterns and any(s.kind in PAGE_KINDS for s in sources):
        raise OutletError(
            path,
            "article_url_patterns",
            "required with a homepage source (which links are articles)",
        )
    return Outlet(
        id=outlet_id,
        name=data["name"].strip(),
        homepage=homepage,
        language=data["language"].strip(),
        allowed_domains=domains,
        sources=tuple(sources),
        article_url_patterns=article_patterns,
        deny_url_patterns=_patterns(path, "deny_url_patterns", data.get("deny_url_patterns", [])),
        politeness=politeness,
        extraction=hints,
        path=str(path),
        enabled=enabled,
    )


def load_outlet_file(path: Path) -> Outlet:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise OutletError(path, "(file)", f"invalid TOML: {exc}") from exc
    outlet = parse_outlet(data, path)
    if outlet.id != path.stem:
        raise OutletError(path, "id", f"must equal the file name {path.stem!r}")
    return outlet


def outlet_dirs(extra_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Built-in folder first, then the user's (option, else environment variable)."""
    dirs = [BUILTIN_DIR]
    user = extra_dir if extra_dir else os.environ.get(OUTLETS_DIR_ENV)
    if user:
        user_path = Path(user)
        if not user_path.is_dir():
            raise OutletError(user_path, OUTLETS_DIR_ENV, "is not a folder")
        dirs.append(user_path)
    return dirs


def load_registry(
    extra_dir: str | os.PathLike[str] | None = None, *, include_builtin: bool = True
) -> dict[str, Outlet]:
    """All outlets by id, sorted; a later folder's outlet replaces an earlier one's."""
    outlets: dict[str, Outlet] = {}
    dirs = outlet_dirs(extra_dir)
    if not include_builtin:
        dirs = dirs[1:]
    for folder in dirs:
        for path in sorted(folder.glob("*.toml")):
            outlet = load_outlet_file(path)
            outlets[outlet.id] = outlet
    return dict(sorted(outlets.items()))
