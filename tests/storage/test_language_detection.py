"""The decided language travels with the article: ``reconcile`` sets it with the identifier's
confidence and its source, the store keeps both, exports carry them, the dedup scheme follows
the text, and migration 0011 goes down and up without losing the articles' triggers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pipelines.dedup.shingles import detect_scheme
from pipelines.extract.page import PageExtraction, reconcile
from storage.articles import store_article
from storage.db import Database
from storage.exports import ExportRow
from storage.models import Article

from .test_extraction_confidence import assert_down_and_up_keeps_triggers
from .test_storage import row

CHINESE = (
    "国务院新闻办公室今天举行新闻发布会，介绍今年前三季度国民经济运行情况。"
    "国家统计局发言人表示，前三季度国内生产总值同比增长，就业形势总体稳定，居民消费价格温和上涨。"
) * 3


def test_an_en_outlet_publishing_chinese_gets_zh_from_the_text_and_the_cjk_scheme() -> None:
    content = reconcile(PageExtraction(text=CHINESE, language=None), None, "en")
    assert content.language == "zh"
    assert content.language_source == "detected"
    assert content.language_confidence is not None and content.language_confidence >= 0.8
    assert detect_scheme(content.text).name == "cjk"


def test_a_declaration_the_text_agrees_with_is_the_source() -> None:
    text = "The council approved the budget after a long night of talks. " * 5
    content = reconcile(PageExtraction(text=text, language="en-GB"), None, "fa")
    assert (content.language, content.language_source) == ("en", "declared")


def test_language_confidence_and_source_are_stored_and_exported(db: Database) -> None:
    store_article(db, row(language="zh", language_confidence=0.97, language_source="detected"))
    with db.read() as s:
        stored = s.scalars(select(Article)).one()
        assert (stored.language, stored.language_source) == ("zh", "detected")
        assert stored.language_confidence == pytest.approx(0.97)
        record = ExportRow(stored).as_dict()
    assert record["language_confidence"] == pytest.approx(0.97)
    assert record["language_source"] == "detected"


def test_migration_0011_down_and_up_keeps_the_articles_triggers(tmp_path: Path) -> None:
    assert_down_and_up_keeps_triggers(f"sqlite:///{tmp_path / 'l.db'}", "0010")
