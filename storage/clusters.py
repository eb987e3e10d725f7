"""SQL for clusters of copies (the link columns of ``articles``): links written for the dedup
engine from plain values, and clusters read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import Article


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
