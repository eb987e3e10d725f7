"""SQL for the ``articles`` table's content and ``url_aliases``: one row per canonical URL, ever,
inserted or updated in place inside the caller's write transaction (an update keeps the version
it replaces in ``article_revisions``, ``storage.revisions``). A ``StoreHook`` does its
own writes at fixed points of that transaction: the dedup engine's cluster link and signature
(``pipelines.dedup.store``) commit with the article, or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.content import ArticleContent, content_values
from storage.db import Database, dialect_insert
from storage.models import Article, UrlAlias
from storage.revisions import OldVersion, keep_revision, what_changed
from storage.url_state import set_url_state
from storage.urls import url_state_key


@dataclass(frozen=True)
class ArticleRow:
    """What the store pipeline hands to ``store_article``; plain values only."""

    outlet_id: str
    url: str
    aliases: Sequence[str]
    content: ArticleContent
    discovered_via: str | None
    fetched_at: datetime
    #: what brought this version, kept with the revision it replaces (``ArticleRevision.cause``)
    revision_cause: str = "refetch"


@dataclass(frozen=True)
class StoreResult:
    article_id: int
    #: "created", "updated" (text or headline changed in place, the old version kept in
    #: ``article_revisions``) or "unchanged"
    outcome: str
    #: what an update changed: "title", "text" or "both" (None unless "updated")
    changed: str | None = None
    #: the article's declared modification date moved since the stored version (the story is
    #: still changing: it is refetched again, ``storage.url_state.due_refetches``)
    modified_moved: bool = False


class StoreHook(Protocol):
    """Writes of another concern inside an article's store transaction, at fixed points."""

    def begin(self, s: Session) -> None:
        """First of all, before any row lock."""

    def new_url(self, s: Session) -> None:
        """No article has the URL yet: before its row is inserted."""

    def inserted(self, s: Session, article_id: int) -> None:
        """The article's row was inserted."""

    def text_changed(self, s: Session, article_id: int) -> None:
        """The article's text was updated in place."""


def modified_moved(stored: datetime | None, fetched: datetime, declared: datetime | None) -> bool:
    """Whether a fetch's declared modification date is later than the stored version's (or,
    when that declared none, later than its fetch): the story changed since it was stored."""
    if declared is None:
        return False
    return declared > (stored or fetched)


def _article_values(row: ArticleRow) -> dict[str, Any]:
    return {**content_values(row.content), "fetched_at": row.fetched_at}


def upsert_article(s: Session, row: ArticleRow, hook: StoreHook | None = None) -> StoreResult:
    """Insert the article or update it in place (same canonical URL, one row, ever). Runs inside
    the caller's write transaction, so whatever ``hook`` writes commits with it."""
    now = utcnow()
    values = _article_values(row)
    if hook is not None:
        hook.begin(s)
    known = s.execute(select(Article.id).where(Article.url == row.url)).scalar_one_or_none()
    if hook is not None and known is None:
        hook.new_url(s)
    inserted = s.execute(
        dialect_insert(s, Article)
        .values(
            url=row.url,
            outlet_id=row.outlet_id,
            discovered_via=row.discovered_via,
            first_stored_at=now,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Article.id)
    ).scalar_one_or_none()
    changed: str | None = None
    moved = False
    if inserted is not None:
        article_id, outcome = inserted, "created"
        if hook is not None:
            hook.inserted(s, article_id)
    else:
        existing = s.execute(
            select(
                Article.id,
                Article.text_hash,
                Article.title,
                Article.text,
                Article.fetched_at,
                Article.modified_at,
            )
            .where(Article.url == row.url)
            .with_for_update()
        ).one()
        article_id = existing.id
        text_changed = existing.text_hash != row.content.text_hash
        changed = what_changed(existing.title, row.content.title, text_changed)
        moved = modified_moved(existing.modified_at, existing.fetched_at, row.content.modified_at)
        if changed is None:
            outcome = "unchanged"
            if moved:  # same text, a later date: the date is kept, no revision
                s.execute(
                    update(Article)
                    .where(Article.id == article_id)
                    .values(modified_at=row.content.modified_at)
                )
        else:
            # the version replaced is kept in the same transaction: never one without the other
            old = OldVersion(existing.title, existing.text, existing.text_hash, existing.fetched_at)
            keep_revision(
                s, article_id, old, changed, row.content.text, row.fetched_at, row.revision_cause
            )
            if not moved:  # a refetch sent with an old feed date does not turn the date back
                values["modified_at"] = existing.modified_at or row.content.modified_at
            s.execute(update(Article).where(Article.id == article_id).values(**values))
            outcome = "updated"
            if hook is not None and text_changed:
                hook.text_changed(s, article_id)
    # an alias too long to be a key (a redirect's Location, say) is not a lookup worth keeping
    for alias in {a for a in row.aliases if a != row.url and url_state_key(a) == a}:
        s.execute(
            dialect_insert(s, UrlAlias)
            .values(url=alias, article_id=article_id)
            .on_conflict_do_nothing(index_elements=["url"])
        )
    # a re-extraction read an old fetch again: it neither sees a move nor ends a follow
    mark = None if row.revision_cause == "reextract" else moved
    set_url_state(s, row.outlet_id, row.url, "stored", article_id=article_id, modified_moved=mark)
    return StoreResult(
        article_id=article_id, outcome=outcome, changed=changed, modified_moved=moved
    )


def store_article(db: Database, row: ArticleRow) -> StoreResult:
    """Store one article in its own transaction."""
    with db.write() as s:
        return upsert_article(s, row)
