"""SQL for clusters of copies (the link columns of ``articles``): links written for the dedup
engine from plain values, and clusters read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Article


@dataclass(frozen=True)
class Link:
    """A copy's link fields: the match that verified it (``match_id``) and why: its scores,
    ``kind`` ("exact" or "near") and the evidence as stored (a JSON object)."""

    similarity: float
    containment: float
    kind: str
    match_id: int
    evidence: dict[str, Any]

    def values(self) -> dict[str, Any]:
        return {
            "similarity": self.similarity,
            "containment": self.containment,
            "dup_kind": self.kind,
            "dedup_match_id": self.match_id,
            "dedup_evidence": self.evidence,
        }


def start_cluster(session: Session, article_id: int) -> None:
    """A newly inserted article leads a cluster of its own. A canonical article's own link
    fields stay empty."""
    session.execute(update(Article).where(Article.id == article_id).values(cluster_id=article_id))


def join_cluster(
    session: Session, article_id: int, cluster_id: int, canonical_id: int, link: Link
) -> None:
    """A newly inserted article joins a cluster as a copy of its canonical article."""
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(cluster_id=cluster_id, duplicate_of=canonical_id, **link.values())
    )


def lead_cluster(
    session: Session, article_id: int, cluster_id: int, old_canonical_id: int, old_link: Link
) -> None:
    """A newly inserted article, published before the cluster's canonical article, leads the
    cluster from now on; the old canonical keeps the evidence (``old_link``) that links it to
    the new one."""
    session.execute(
        update(Article)
        .where(Article.cluster_id == cluster_id, Article.id != article_id)
        .values(duplicate_of=article_id)
    )
    session.execute(
        update(Article).where(Article.id == old_canonical_id).values(**old_link.values())
    )
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(
            cluster_id=cluster_id,
            duplicate_of=None,
            similarity=None,
            containment=None,
            dup_kind=None,
            dedup_match_id=None,
            dedup_evidence=None,
        )
    )


_NO_LINK: dict[str, Any] = {
    "duplicate_of": None,
    "similarity": None,
    "containment": None,
    "dup_kind": None,
    "dedup_match_id": None,
    "dedup_evidence": None,
}


@dataclass(frozen=True)
class Place:
    """An article's place in its cluster: the cluster, its canonical article (None when it is
    the canonical one) and the cluster's other members."""

    cluster_id: int | None
    duplicate_of: int | None
    others: list[int]


def place_of(session: Session, article_id: int) -> Place:
    """Where ``article_id`` is now, read inside the caller's transaction."""
    cluster_id, duplicate_of = session.execute(
        select(Article.cluster_id, Article.duplicate_of).where(Article.id == article_id)
    ).one()
    others = (
        list(
            session.scalars(
                select(Article.id)
                .where(Article.cluster_id == cluster_id, Article.id != article_id)
                .order_by(Article.id)
            )
        )
        if cluster_id is not None
        else []
    )
    return Place(cluster_id, duplicate_of, others)


def leave_cluster(session: Session, article_id: int) -> None:
    """An article whose text changed leaves its cluster for one of its own (a re-extraction,
    ``newscrawl reextract``). When it was the canonical article, the earliest published of
    the others leads them from now on, under its own id as the cluster's id (the leaver's id
    is its own cluster's from now on); their link fields are kept as they are."""
    place = place_of(session, article_id)
    if place.duplicate_of is None and place.others:
        heir = session.execute(
            select(Article.id)
            .where(Article.id.in_(place.others))
            .order_by(Article.published_at.is_(None), Article.published_at, Article.id)
            .limit(1)
        ).scalar_one()
        session.execute(
            update(Article)
            .where(Article.id.in_(place.others))
            .values(cluster_id=heir, duplicate_of=heir)
        )
        session.execute(update(Article).where(Article.id == heir).values(**_NO_LINK))
    session.execute(
        update(Article).where(Article.id == article_id).values(cluster_id=article_id, **_NO_LINK)
    )


@dataclass(frozen=True)
class ArticleLinks:
    """An article's place in its cluster, as stored."""

    article_id: int
    cluster_id: int | None
    duplicate_of: int | None
    matched_id: int | None
    similarity: float | None
    containment: float | None
    evidence: dict[str, Any] | None


def links_by_url(
    db: Database, urls: Sequence[str]
) -> tuple[dict[str, ArticleLinks], dict[int, str]]:
    """The links of the articles at ``urls``, by URL, and the URL of every article they name
    (cluster, canonical article, verified match), by id."""
    with db.read() as s:
        rows = {
            a.url: ArticleLinks(
                a.id,
                a.cluster_id,
                a.duplicate_of,
                a.dedup_match_id,
                a.similarity,
                a.containment,
                a.dedup_evidence,
            )
            for a in s.scalars(select(Article).where(Article.url.in_(list(urls))))
        }
        wanted = {r.cluster_id for r in rows.values()} | {
            x for r in rows.values() for x in (r.duplicate_of, r.matched_id) if x
        }
        urls_by_id = dict(
            s.execute(select(Article.id, Article.url).where(Article.id.in_(wanted))).all()
        )
    return rows, urls_by_id


@dataclass(frozen=True)
class ClusterMember:
    article_id: int
    outlet_id: str
    url: str
    title: str | None
    published_at: datetime | None
    similarity: float | None
    containment: float | None
    matched_id: int | None = None
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClusterView:
    cluster_id: int
    canonical: ClusterMember
    copies: list[ClusterMember]


def _member(a: Article) -> ClusterMember:
    return ClusterMember(
        a.id,
        a.outlet_id,
        a.url,
        a.title,
        a.published_at,
        a.similarity,
        a.containment,
        a.dedup_match_id,
        a.dedup_evidence,
    )


def largest_clusters(
    db: Database, limit: int = 10, since: datetime | None = None
) -> list[ClusterView]:
    """The clusters with most members among articles stored since ``since``: the canonical
    article and its copies, earliest first."""
    with db.read() as s:
        counts = (
            select(Article.cluster_id, func.count().label("n"))
            .where(Article.cluster_id.is_not(None))
            .group_by(Article.cluster_id)
            .having(func.count() > 1)
        )
        if since is not None:
            counts = counts.where(Article.first_stored_at >= since)
        top = s.execute(counts.order_by(func.count().desc(), Article.cluster_id).limit(limit)).all()
        views = []
        for cluster_id, _n in top:
            assert cluster_id is not None  # filtered by the query
            members = list(s.scalars(select(Article).where(Article.cluster_id == cluster_id)))
            canonical = next(a for a in members if a.duplicate_of is None)
            copies = sorted(
                (a for a in members if a.duplicate_of is not None),
                key=lambda a: (
                    a.published_at is None,
                    a.published_at or canonical.fetched_at,
                    a.id,
                ),
            )
            views.append(ClusterView(cluster_id, _member(canonical), [_member(c) for c in copies]))
    return views
