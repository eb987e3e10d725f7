"""SQL for the ``outlets`` and ``sources`` tables' registry side: the outlets (and their sources)
the crawl knows, recorded from plain values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.clock import utcnow
from storage.db import Database, dialect_insert
from storage.models import Outlet, Source


@dataclass(frozen=True)
class OutletRecord:
    """An outlet as its row holds it, with its sources' ``(kind, url)``."""

    id: str
    name: str
    homepage: str
    language: str
    sources: Sequence[tuple[str, str]] = ()


def sync_outlets(db: Database, outlets: Iterable[OutletRecord]) -> None:
    """Record the registry's outlets and sources (new ones added, changed names updated)."""
    now = utcnow()
    with db.write() as s:
        for o in outlets:
            stmt = dialect_insert(s, Outlet).values(
                id=o.id, name=o.name, homepage=o.homepage, language=o.language, updated_at=now
            )
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"name": o.name, "homepage": o.homepage, "language": o.language},
                )
            )
            for kind, url in o.sources:
                s.execute(
                    dialect_insert(s, Source)
                    .values(outlet_id=o.id, kind=kind, url=url)
                    .on_conflict_do_nothing(index_elements=["outlet_id", "url"])
                )


def ensure_outlet(db: Database, outlet_id: str, homepage: str = "") -> None:
    """An outlet row for documents that come from outside the registry (``newscrawl dedup``,
    and ``newscrawl ingest``: one per host)."""
    with db.write() as s:
        s.execute(
            dialect_insert(s, Outlet)
            .values(
                id=outlet_id[:64],
                name=outlet_id[:300],
                homepage=homepage,
                language="",
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
