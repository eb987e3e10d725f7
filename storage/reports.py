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

#: Extraction confidence is compared between an outlet's last CONFIDENCE_RECENT articles and
#: up to CONFIDENCE_EARLIER before them (at least CONFIDENCE_RECENT of those): a fall of more
#: than CONFIDENCE_DROP in the mean is flagged. A site redesign breaks extraction silently
#: (the text is still "something", only the wrong block); this is how it shows.
CONFIDENCE_RECENT = 20
CONFIDENCE_EARLIER = 100
CONFIDENCE_DROP = 0.15


@dataclass
class OutletHealth:
    outlet: str
    runs: int
    stored_in_runs: int
    last_status: str | None
    flagged: bool
    why: str = ""
    #: mean extraction confidence of the recent articles and of those before them
    recent_confidence: float | None = None
    earlier_confidence: float | None = None


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


def confidence_drop(newest_first: list[float]) -> tuple[float | None, float | None, bool]:
    """(recent mean, earlier mean, dropped) of an outlet's extraction confidences, newest
    first; the means are None when there are too few articles to say."""
    recent = newest_first[:CONFIDENCE_RECENT]
    earlier = newest_first[CONFIDENCE_RECENT : CONFIDENCE_RECENT + CONFIDENCE_EARLIER]
    r_mean = sum(recent) / len(recent) if len(recent) >= CONFIDENCE_RECENT else None
    e_mean = sum(earlier) / len(earlier) if len(earlier) >= CONFIDENCE_RECENT else None
    dropped = r_mean is not None and e_mean is not None and e_mean - r_mean > CONFIDENCE_DROP
    return r_mean, e_mean, dropped


def _health(
    outlet_id: str,
    runs: list[CrawlRun],
    statuses: list[str],
    health_runs: int,
    confidences: list[float] | None = None,
) -> OutletHealth:
    """An outlet is flagged when it was never crawled, when its last run was killed
    (``abandoned``) or failed (and why, as its run recorded), when its last ``health_runs``
    runs stored nothing new, or when the extraction confidence of its recent articles fell
    (``confidence_drop``)."""
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
    recent, earlier, dropped = confidence_drop(confidences or [])
    if dropped:
        fell = (
            f"extraction confidence fell from {earlier:.2f} to {recent:.2f} over its last "
            f"{CONFIDENCE_RECENT} articles (a redesign? check the text)"
        )
        why = f"{why}; {fell}" if why else fell
    return OutletHealth(outlet_id, len(runs), stored, last, bool(why), why, recent, earlier)


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
            confidences = [
                float(c or 0.0)  # the query leaves out nulls
                for c in s.scalars(
                    select(Article.extraction_confidence)
                    .where(
                        Article.outlet_id == outlet_id,
                        Article.extraction_confidence.is_not(None),
                    )
                    .order_by(Article.id.desc())
                    .limit(CONFIDENCE_RECENT + CONFIDENCE_EARLIER)
                )
            ]
            health.append(_health(outlet_id, runs, statuses, health_runs, confidences))
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
