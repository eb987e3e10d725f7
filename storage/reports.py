"""SQL behind ``newscrawl report``: per-day counts, duplicate shares, failures, outlet health."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select

from storage.clock import to_utc, utcnow
from storage.clusters import ClusterView, largest_clusters
from storage.db import Database
from storage.models import Article, CrawlRun, Outlet, UrlState
from storage.revisions import Edited, most_edited
from storage.runs import abandoned_runs


@dataclass
class OutletHealth:
    outlet: str
    runs: int
    stored_in_runs: int
    last_status: str | None
    flagged: bool
    why: str = ""


@dataclass
class ReportData:
    generated: datetime
    days: list[date]
    per_day: dict[str, dict[date, int]]  # outlet -> day -> articles
    totals: dict[str, int]
    duplicates: dict[str, int]
    failures: dict[str, int]  # reason -> URLs
    clusters: list[ClusterView] = field(default_factory=list)
    health: list[OutletHealth] = field(default_factory=list)
    #: the articles with the most revisions replaced in the report's window
    edited: list[Edited] = field(default_factory=list)


def _day(value: datetime | str | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns raw strings from aggregate queries
        value = datetime.fromisoformat(value)
    return to_utc(value).date()


def _health(
    outlet_id: str, runs: list[CrawlRun], statuses: list[str], health_runs: int
) -> OutletHealth:
    """An outlet is flagged when it was never crawled, when its last run was killed
    (``abandoned``) or failed (and why, as its run recorded), or when its last ``health_runs``
    runs stored nothing new."""
    stored = sum(r.articles_stored for r in runs)
    killed = statuses.count("abandoned")
    last = statuses[0] if statuses else None
    why = ""
    if not runs:
        why = "never crawled"
    elif last == "abandoned":
        why = "its last run was killed before it finished"
        if killed > 1:
            why = f"{killed} of its last {len(runs)} runs were killed before they finished"
    elif len(runs) >= health_runs and stored == 0:
        why = f"no new articles in its last {health_runs} runs"
    elif last == "failed":
        why = "its last run failed" + (f": {runs[0].message}" if runs[0].message else "")
    return OutletHealth(outlet_id, len(runs), stored, last, bool(why), why)


def gather(db: Database, days: int = 30, health_runs: int = 3) -> ReportData:
    now = utcnow()
    since = now - timedelta(days=days)
    gone = set(abandoned_runs(db))
    with db.read() as s:
        outlets = list(s.scalars(select(Outlet.id).order_by(Outlet.id)))
        per_day: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
        # Articles per publication day over the last `days` days of the corpus (its newest
        # date, not today's: an archive crawl is charted too).
        latest = _day(s.scalar(select(func.max(Article.published_at))))
        if latest is not None:
            first = latest - timedelta(days=days - 1)
            for outlet_id, stamp in s.execute(
                select(Article.outlet_id, Article.published_at).where(
                    Article.published_at >= datetime(first.year, first.month, first.day)
                )
            ):
                d = _day(stamp)
                if d is not None and d >= first:
                    per_day[outlet_id][d] += 1
        totals = dict(
            s.execute(select(Article.outlet_id, func.count()).group_by(Article.outlet_id)).all()
        )
        duplicates = dict(
            s.execute(
                select(Article.outlet_id, func.count())
                .where(Article.duplicate_of.is_not(None))
                .group_by(Article.outlet_id)
            ).all()
        )
        failures = dict(
            s.execute(
                select(UrlState.reason, func.count())
                .where(UrlState.state == "failed")
                .group_by(UrlState.reason)
                .order_by(func.count().desc())
            ).all()
        )
        edited = most_edited(s, since, limit=10)
        health = []
        for outlet_id in outlets:
            # the runs that are over: recorded as ended, or whose process is gone
            runs = list(
                s.scalars(
                    select(CrawlRun)
                    .where(
                        CrawlRun.outlet_id == outlet_id,
                        or_(CrawlRun.finished_at.is_not(None), CrawlRun.id.in_(gone)),
                    )
                    .order_by(CrawlRun.id.desc())
                    .limit(health_runs)
                )
            )
            statuses = ["abandoned" if r.id in gone else r.status for r in runs]
            health.append(_health(outlet_id, runs, statuses, health_runs))
    all_days = sorted({d for m in per_day.values() for d in m})
    if all_days:
        span = [
            all_days[0] + timedelta(days=i) for i in range((all_days[-1] - all_days[0]).days + 1)
        ]
    else:
        span = []
    return ReportData(
        generated=now,
        days=span,
        per_day={k: dict(v) for k, v in per_day.items()},
        totals={str(k): int(v) for k, v in totals.items()},
        duplicates={str(k): int(v) for k, v in duplicates.items()},
        failures={str(k or "unknown"): int(v) for k, v in failures.items()},
        clusters=largest_clusters(db, limit=10, since=since),
        health=health,
        edited=edited,
    )
