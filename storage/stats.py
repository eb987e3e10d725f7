"""Read-only views for ``newscrawl stats`` and browsing: per-outlet counts, the latest articles
and URL states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from storage.db import Database
from storage.models import Article, CrawlRun, Outlet, UrlState
from storage.runs import abandoned_runs


@dataclass(frozen=True)
class OutletStats:
    outlet_id: str
    articles: int
    duplicates: int
    failed_urls: int
    latest_published: datetime | None
    last_run_status: str | None
    #: why the last run failed, as recorded (None when it did not)
    last_run_message: str | None = None


def outlet_stats(db: Database) -> list[OutletStats]:
    with db.read() as s:
        outlet_ids = list(s.scalars(select(Outlet.id).order_by(Outlet.id)))
        articles = dict(
            s.execute(select(Article.outlet_id, func.count()).group_by(Article.outlet_id)).all()
        )
        dups = dict(
            s.execute(
                select(Article.outlet_id, func.count())
                .where(Article.duplicate_of.is_not(None))
                .group_by(Article.outlet_id)
            ).all()
        )
        failed = dict(
            s.execute(
                select(UrlState.outlet_id, func.count())
                .where(UrlState.state == "failed")
                .group_by(UrlState.outlet_id)
            ).all()
        )
        latest = dict(
            s.execute(
                select(Article.outlet_id, func.max(Article.published_at)).group_by(
                    Article.outlet_id
                )
            ).all()
        )
        last_ids = select(func.max(CrawlRun.id)).group_by(CrawlRun.outlet_id)
        last_runs = s.execute(
            select(CrawlRun.outlet_id, CrawlRun.id, CrawlRun.status, CrawlRun.message).where(
                CrawlRun.id.in_(last_ids)
            )
        ).all()
    gone = set(abandoned_runs(db)) if any(r.status == "running" for r in last_runs) else set()
    last_status = {r.outlet_id: "abandoned" if r.id in gone else r.status for r in last_runs}
    failures = {r.outlet_id: r.message for r in last_runs if r.status == "failed"}
    result = []
    for oid in sorted(set(outlet_ids) | set(articles)):
        latest_value = latest.get(oid)
        if isinstance(latest_value, str):  # SQLite's max() bypasses the column type
            latest_value = datetime.fromisoformat(latest_value)
        result.append(
            OutletStats(
                outlet_id=oid,
                articles=articles.get(oid, 0),
                duplicates=dups.get(oid, 0),
                failed_urls=failed.get(oid, 0),
                latest_published=latest_value,
                last_run_status=last_status.get(oid),
                last_run_message=failures.get(oid),
            )
        )
    return result


def recent_articles(db: Database, limit: int = 20) -> list[Article]:
    with db.read() as s:
        return list(s.scalars(select(Article).order_by(Article.id.desc()).limit(limit)))


def url_states(db: Database) -> list[UrlState]:
    with db.read() as s:
        return list(s.scalars(select(UrlState).order_by(UrlState.url)))
