"""``newscrawl reextract``: ingested articles extracted again from their WARC records when the
extractor changed, their text, signature and cluster updated in place.

Which articles: those with provenance (``newscrawl ingest``; a crawl's ``--warc`` archive
records none, so a crawled article is reextracted only once its archive is ingested), each by
its newest provenance row, whose ``extractor_version`` is not the current one
(``extractor_version()``), or with ``older_than`` is older than that version: compared
package by package (``newscrawl``, ``trafilatura``), a stored version that cannot be parsed
counting as older. A bare version (``0.9``) is newscrawl's.

Each article: its record read again at the stored offset (FastWARC), then the ingest worker's
own decoding, extraction and fingerprint (``work.process_page``), then the store's
transaction (``pipelines.dedup.relink``): a changed text or headline keeps the old version as
a revision, the signature follows the text and the cluster is decided again; the provenance
rows take the current version in the same transaction, so a rerun finds nothing to do. An
article whose file is missing or damaged, or whose page no longer extracts, keeps what is
stored, and its reason is listed. One process: the pages are extracted one after the other
(the ingest's pool would pay off only on large reruns)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from crawler.registry import ExtractionHints, Outlet
from pipelines.dedup.relink import restore_article
from pipelines.dedup.store import DedupContext, DedupResult
from pipelines.ingest.records import Skipped, WarcDamaged, read_page_at
from pipelines.ingest.work import Failed, PageTask, process_page
from storage.articles import ArticleRow
from storage.db import Database
from storage.provenance import Stored, latest_provenance, set_extractor_version


def _parts(version: str) -> dict[str, Version] | None:
    """``newscrawl 0.9; trafilatura 2.0`` as {package: version}; a bare version is
    newscrawl's; None when it cannot be parsed."""
    parts: dict[str, Version] = {}
    try:
        for piece in version.split(";"):
            words = piece.split()
            if len(words) == 1:
                parts["newscrawl"] = Version(words[0])
            elif len(words) == 2:
                parts[words[0]] = Version(words[1])
            elif words:
                return None
    except InvalidVersion:
        return None
    return parts or None


def is_outdated(stored: str, target: str, older_than: bool) -> bool:
    """Whether an article extracted by ``stored`` is to be extracted again for ``target``:
    any other version, or (``older_than``) an older one of a package both name."""
    if not older_than:
        return stored != target
    want, have = _parts(target), _parts(stored)
    if want is None:
        raise ValueError(f"not a version: {target!r}")
    if have is None:
        return True
    return any(have[name] < v for name, v in want.items() if name in have)


@dataclass(frozen=True)
class Problem:
    article_id: int
    url: str
    reason: str  # "missing_warc", "damaged_warc", "not_a_page", or the extraction's reason
    detail: str


@dataclass
class ReextractCounts:
    examined: int = 0  # articles selected
    unchanged: int = 0
    changed: int = 0  # text or headline updated, the old version kept as a revision
    moved: int = 0  # of them, left their cluster or joined another
    missing: int = 0  # their WARC file is not there
    failed: Counter[str] = field(default_factory=Counter)  # by reason, missing files too
    problems: list[Problem] = field(default_factory=list)


class Reextract:
    def __init__(
        self,
        db: Database,
        dedup: Any,  # runtime.dedup_state
        registry: Mapping[str, Outlet],
        version: str,
        max_size: int = 10 * 1024 * 1024,
    ) -> None:
        self.db = db
        self.dedup = dedup
        self.registry = registry
        self.version = version
        self.max_size = max_size
        self.counts = ReextractCounts()

    def selected(self, outlet_id: str | None, older_than: str | None) -> Iterable[Stored]:
        target = older_than or self.version
        for article in latest_provenance(self.db, outlet_id):
            if is_outdated(article.provenance.extractor_version, target, older_than is not None):
                yield article

    def run(self, articles: Iterable[Stored], dry_run: bool = False) -> ReextractCounts:
        for article in articles:
            self.counts.examined += 1
            if dry_run:
                if not Path(article.provenance.warc_file).is_file():
                    self._failed(article, "missing_warc", article.provenance.warc_file)
                continue
            self._one(article)
        return self.counts

    def _failed(self, article: Stored, reason: str, detail: str) -> None:
        self.counts.failed[reason] += 1
        if reason == "missing_warc":
            self.counts.missing += 1
        self.counts.problems.append(Problem(article.article_id, article.url, reason, detail))

    def _one(self, article: Stored) -> None:
        p = article.provenance
        path = Path(p.warc_file)
        if not path.is_file():
            self._failed(article, "missing_warc", p.warc_file)
            return
        try:
            page = read_page_at(path, p.offset, p.record_id, self.max_size)
        except WarcDamaged as exc:
            self._failed(article, "damaged_warc", str(exc))
            return
        if isinstance(page, Skipped):
            self._failed(article, "not_a_page", page.reason)
            return
        outlet = self.registry.get(article.outlet_id)
        hints = outlet.extraction if outlet else ExtractionHints()
        task = PageTask(
            page.body,
            page.charset,
            page.url,
            hints,
            outlet.language if outlet else "",
            self.dedup.engine.params,
        )
        try:
            out = process_page(task)
        except Exception as exc:  # a parser bug on one page must not stop the run
            out = Failed("extraction_error", f"{type(exc).__name__}: {exc}")
        if isinstance(out, Failed):
            self._failed(article, out.reason, out.detail)
            return
        row = ArticleRow(
            outlet_id=article.outlet_id,
            url=article.url,
            aliases=[],
            content=out.content,
            discovered_via=None,
            fetched_at=article.fetched_at,  # the page was not fetched again
            revision_cause="reextract",
        )
        state = self.dedup
        dedup = DedupContext(state.engine, state.scheme_id, out.fingerprint, shared=state.shared)

        def new_version(s: Any, result: DedupResult) -> None:
            set_extractor_version(s, result.article_id, self.version)

        result, moved = restore_article(self.db, row, dedup, also=new_version)
        if result.outcome == "updated":
            self.counts.changed += 1
            self.counts.moved += moved
        else:
            self.counts.unchanged += 1


def summary_line(counts: ReextractCounts, exit_code: int, dry_run: bool) -> str:
    c = counts
    status = {0: "succeeded", 2: "interrupted"}.get(exit_code, "failed")
    failed = ", ".join(f"{reason} {n}" for reason, n in sorted(c.failed.items()))
    if dry_run:
        return (
            f"newscrawl: reextract dry run: {c.examined} articles to reextract, "
            f"{c.missing} with their WARC file missing; nothing stored"
        )
    return (
        f"newscrawl: reextract {status} (exit {exit_code}): {c.examined} examined, "
        f"{c.unchanged} unchanged, {c.changed} changed, {c.moved} clusters moved, "
        f"{c.missing} missing WARC file, {sum(c.failed.values())} failed"
        + (f" ({failed})" if failed else "")
    )
