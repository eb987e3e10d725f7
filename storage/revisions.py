"""SQL for ``article_revisions``: an article's earlier versions. ``keep_revision`` runs inside
the article's store transaction (``storage.articles.upsert_article``), so an update of the
article row and the revision that keeps what it replaced commit together or not at all.
Reads: an article's history by URL (``newscrawl history``), revisions for export, and the
most-edited articles for the report."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Article, ArticleRevision, UrlAlias
from storage.textdiff import summarize


@dataclass(frozen=True)
class OldVersion:
    """What the article row held before the update."""

    title: str | None
    text: str
    text_hash: str
    fetched_at: datetime


def what_changed(old_title: str | None, new_title: str | None, text_changed: bool) -> str | None:
    """``title``, ``text``, ``both``, or None when neither changed."""
    title_changed = (old_title or "") != (new_title or "")
    if title_changed and text_changed:
        return "both"
    if title_changed:
        return "title"
    return "text" if text_changed else None


def keep_revision(
    s: Session,
    article_id: int,
    old: OldVersion,
    changed: str,
    new_text: str,
    replaced_at: datetime,
    cause: str = "refetch",
) -> int:
    """Keep ``old`` as the article's next revision, inside the caller's write transaction
    (which holds the article's row lock, so numbers never collide); its number."""
    number = (
        s.scalar(
            select(func.max(ArticleRevision.revision)).where(
                ArticleRevision.article_id == article_id
            )
        )
        or 0
    ) + 1
    summary = summarize(old.text, new_text)
    s.add(
        ArticleRevision(
            article_id=article_id,
            revision=number,
            seen_at=old.fetched_at,
            replaced_at=replaced_at,
            title=old.title,
            text=old.text,
            text_hash=old.text_hash,
            changed=changed,
            words_added=summary.words_added,
            words_removed=summary.words_removed,
            excerpt=summary.excerpt,
            cause=cause,
        )
    )
    s.flush()
    return number


@dataclass(frozen=True)
class Version:
    """One version of an article: a kept revision, or (``revision`` None) the current row."""

    revision: int | None
    seen_at: datetime
    replaced_at: datetime | None
    title: str | None
    text: str
    changed: str | None  # what the next version changed in this one
    cause: str | None = None  # what brought the next version (ArticleRevision.cause)


@dataclass(frozen=True)
class History:
    article_id: int
    url: str
    outlet_id: str
    versions: list[Version]  # oldest first; the last is the article row


def find_article(s: Session, urls: Iterable[str]) -> int | None:
    """The article stored under any of ``urls`` (canonical URL or alias)."""
    wanted = list(dict.fromkeys(urls))
    found = s.scalar(select(Article.id).where(Article.url.in_(wanted)).limit(1))
    if found is None:
        found = s.scalar(select(UrlAlias.article_id).where(UrlAlias.url.in_(wanted)).limit(1))
    return found


def history(db: Database, urls: Iterable[str]) -> History | None:
    """Every version of the article stored under one of ``urls``, oldest first; None when no
    article is."""
    with db.read() as s:
        article_id = find_article(s, urls)
        if article_id is None:
            return None
        a = s.get_one(Article, article_id)
        kept = s.scalars(
            select(ArticleRevision)
            .where(ArticleRevision.article_id == article_id)
            .order_by(ArticleRevision.revision)
        ).all()
        versions = [
            Version(r.revision, r.seen_at, r.replaced_at, r.title, r.text, r.changed, r.cause)
            for r in kept
        ]
        versions.append(Version(None, a.fetched_at, None, a.title, a.text, None))
        return History(a.id, a.url, a.outlet_id, versions)


@dataclass(frozen=True)
class Edited:
    """An article and how many of its revisions were replaced in a window."""

    article_id: int
    url: str
    outlet_id: str
    title: str | None
    revisions: int


def most_edited(s: Session, since: datetime | None, limit: int = 10) -> list[Edited]:
    """The articles with the most revisions replaced since ``since`` (all when None). A
    re-extraction's revision is the extractor's change, not the outlet's edit: not counted."""
    count = func.count(ArticleRevision.id).label("n")
    q = (
        select(Article.id, Article.url, Article.outlet_id, Article.title, count)
        .join(ArticleRevision, ArticleRevision.article_id == Article.id)
        .where(or_(ArticleRevision.cause.is_(None), ArticleRevision.cause != "reextract"))
        .group_by(Article.id, Article.url, Article.outlet_id, Article.title)
        .order_by(count.desc(), Article.id)
        .limit(limit)
    )
    if since is not None:
        q = q.where(ArticleRevision.replaced_at >= since)
    return [Edited(r.id, r.url, r.outlet_id, r.title, int(r.n)) for r in s.execute(q)]


def revisions_query(articles: Select[Article]) -> Select[ArticleRevision, str, str]:
    """The revisions of the articles ``articles`` selects, with each article's URL and outlet
    (not its row: its text is not read), by article id and revision."""
    chosen = articles.with_only_columns(Article.id).order_by(None).subquery()
    return (
        select(ArticleRevision, Article.url, Article.outlet_id)
        .join(Article, Article.id == ArticleRevision.article_id)
        .where(ArticleRevision.article_id.in_(select(chosen.c.id)))
        .order_by(ArticleRevision.article_id, ArticleRevision.revision)
    )


def stream_revisions(
    s: Session, q: Select[ArticleRevision, str, str], batch: int
) -> Iterator[tuple[ArticleRevision, str, str]]:
    for revision, url, outlet_id in s.execute(q.execution_options(yield_per=batch)):
        yield revision, url, outlet_id
        s.expunge(revision)  # keep the session's identity map from growing
