"""Full-text search over articles' title and text (migration 0008): SQLite's FTS5 table
``articles_fts``, PostgreSQL's GIN index on the same ``tsvector`` expression. A query is
words (all must occur, in any order) and ``"quoted phrases"``; nothing in it is syntax that can
fail, so any string a person types is a query."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, column, func, literal_column, select, table

from storage.db import Database
from storage.models import Article

#: The document PostgreSQL's index holds (migration 0008's expression, spelled the same, so
#: that the planner uses the index).
PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(articles.title, '') || ' ' || articles.text)"
)
_TERM_RE = re.compile(r'"([^"]*)"|(\S+)')
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    article_id: int
    url: str
    outlet_id: str
    title: str | None
    published_at: datetime | None
    snippet: str  # the text around the match, matches in [brackets]


def terms(query: str) -> list[list[str]]:
    """The query's terms: each a phrase of one or more words (punctuation dropped, as the
    indexes' tokenizers drop it)."""
    out = []
    for phrase, word in _TERM_RE.findall(query):
        words = _WORD_RE.findall(phrase or word)
        if words:
            out.append(words)
    return out


def _fts5_query(parts: list[list[str]]) -> str:
    return " ".join('"' + " ".join(words) + '"' for words in parts)


def _pg_query(parts: list[list[str]]) -> str:
    return " & ".join("(" + " <-> ".join(f"'{w}'" for w in words) + ")" for words in parts)


def search(
    db: Database,
    query: str,
    *,
    outlet: str | None = None,
    since: datetime | None = None,
    limit: int = 20,
) -> Sequence[Hit]:
    """Articles matching every term of ``query``, best first (BM25 on SQLite, ts_rank on
    PostgreSQL); ``outlet`` and ``since`` (published at or after) narrow them."""
    parts = terms(query)
    if not parts:
        return []
    stmt = search_statement(db.dialect, parts, outlet, since, limit)
    with db.read() as s:
        rows = s.execute(stmt).all()
    return [Hit(r.id, r.url, r.outlet_id, r.title, r.published_at, r.snippet) for r in rows]


def search_statement(
    dialect: str,
    parts: list[list[str]],
    outlet: str | None = None,
    since: datetime | None = None,
    limit: int = 20,
) -> Select[Any]:
    """The SELECT of ``search`` for the terms ``parts`` on ``dialect``."""
    a = Article
    snippet: Any
    if dialect == "postgresql":
        document: Any = literal_column(PG_DOCUMENT)
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), _pg_query(parts))
        snippet = func.ts_headline(
            literal_column("'simple'::regconfig"),
            a.text,
            tsquery,
            "StartSel=[, StopSel=], MaxWords=24, MinWords=8",
        )
        stmt = (
            select(a.id, a.url, a.outlet_id, a.title, a.published_at, snippet.label("snippet"))
            .where(document.bool_op("@@")(tsquery))
            .order_by(func.ts_rank(document, tsquery).desc(), a.id)
        )
    else:
        fts = table("articles_fts", column("rowid"))
        snippet = literal_column("snippet(articles_fts, 1, '[', ']', '…', 24)")
        stmt = (
            select(a.id, a.url, a.outlet_id, a.title, a.published_at, snippet.label("snippet"))
            .join(fts, fts.c.rowid == a.id)
            .where(literal_column("articles_fts").op("MATCH")(_fts5_query(parts)))
            .order_by(literal_column("articles_fts.rank"), a.id)
        )
    if outlet is not None:
        stmt = stmt.where(a.outlet_id == outlet)
    if since is not None:
        stmt = stmt.where(a.published_at >= since)
    return stmt.limit(limit)
