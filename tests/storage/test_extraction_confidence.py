"""Extraction confidence: stored with the article, exported by name, and an outlet whose recent
extractions lost confidence is flagged in the report's outlet health."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.articles import store_article
from storage.db import Database
from storage.exports import ExportRow
from storage.models import Article
from storage.reports import CONFIDENCE_EARLIER, CONFIDENCE_RECENT, confidence_drop, gather

from .test_storage import row


def store_with_confidence(db: Database, confidences: list[float]) -> None:
    """Articles stored oldest first, one per confidence."""
    for n, c in enumerate(confidences):
        store_article(
            db,
            row(
                text=f"Story number {n} about the budget. " * 10,
                url=f"https://www.presstv.ir/Detail/2025/01/01/{n}/S",
                aliases=[],
                text_hash=f"h{n}",
                extraction_confidence=c,
                extraction_evidence=f"trafilatura-precision; candidate {n}",
            ),
        )


def test_confidence_and_evidence_are_stored_and_exported(db: Database) -> None:
    store_with_confidence(db, [0.83])
    with db.read() as s:
        stored = s.scalars(select(Article)).one()
        assert stored.extraction_confidence == pytest.approx(0.83)
        assert stored.extraction_evidence == "trafilatura-precision; candidate 0"
        record = ExportRow(stored).as_dict()
    assert record["extraction_confidence"] == pytest.approx(0.83)
    assert record["extraction_evidence"] == "trafilatura-precision; candidate 0"


def test_a_fall_in_recent_confidence_flags_the_outlet(db: Database) -> None:
    steady = [0.9] * 60
    store_with_confidence(db, steady + [0.4] * CONFIDENCE_RECENT)
    (health,) = gather(db).health
    assert health.flagged
    assert "extraction confidence fell from 0.90 to 0.40" in health.why
    assert health.recent_confidence == pytest.approx(0.4)
    assert health.earlier_confidence == pytest.approx(0.9)


def test_steady_confidence_is_not_flagged(db: Database) -> None:
    store_with_confidence(db, [0.9, 0.7] * 40)
    (health,) = gather(db).health
    assert "confidence" not in health.why
    assert health.recent_confidence == pytest.approx(0.8)


def test_confidence_drop_needs_enough_articles_on_both_sides() -> None:
    # newest first
    assert confidence_drop([0.2] * CONFIDENCE_RECENT) == (pytest.approx(0.2), None, False)
    few_before = [0.2] * CONFIDENCE_RECENT + [0.9] * (CONFIDENCE_RECENT - 1)
    assert confidence_drop(few_before)[2] is False
    enough = [0.2] * CONFIDENCE_RECENT + [0.9] * CONFIDENCE_RECENT
    assert confidence_drop(enough)[2] is True
    # only the last CONFIDENCE_EARLIER before the recent ones count
    old_high = [0.5] * (CONFIDENCE_RECENT + CONFIDENCE_EARLIER) + [1.0] * 500
    assert confidence_drop(old_high) == (pytest.approx(0.5), pytest.approx(0.5), False)


def test_migration_0010_down_and_up_keeps_the_articles_triggers(tmp_path: Path) -> None:
    """The SQLite downgrade recreates ``articles``; 0005's change-cursor and 0008's full-text
    triggers must come back with it."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert_down_and_up_keeps_triggers(url, "0009")


def assert_down_and_up_keeps_triggers(url: str, down_to: str) -> None:
    """A new SQLite database taken down to ``down_to`` and back up to head has the same
    triggers throughout."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from storage.db import _alembic_config

    Database(url).dispose()
    cfg = _alembic_config(url)

    def triggers() -> set[str]:
        engine = create_engine(url)
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            found = {str(n) for (n,) in names}
        engine.dispose()
        return found

    before = triggers()
    assert before >= {"articles_change_insert", "articles_change_update", "articles_fts_update"}
    command.downgrade(cfg, down_to)
    assert triggers() == before
    command.upgrade(cfg, "head")
    assert triggers() == before
