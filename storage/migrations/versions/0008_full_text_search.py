"""full-text search over articles' title and text

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

SQLite: an FTS5 table over ``articles`` (external content: the text is stored once, in
``articles``), kept in step by triggers on insert, on an update of the title or the text, and
on delete. PostgreSQL: a GIN index on the ``tsvector`` of title and text, which the server
keeps in step with every write by itself (an expression index: no column, no trigger). Both
use no stemming and no stop words (``simple``, ``unicode61``): the corpus is multilingual.

A later migration that recreates ``articles`` (SQLite batch mode) drops its triggers: it
must call ``create_triggers()`` below again (and 0005's), and rebuild the index.
"""

from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The document PostgreSQL indexes; storage/search.py queries the same expression.
PG_DOCUMENT = "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || text)"


def create_triggers() -> None:
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
        "INSERT INTO articles_fts(rowid, title, text) VALUES (NEW.id, NEW.title, NEW.text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
        "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
        "VALUES ('delete', OLD.id, OLD.title, OLD.text); END"
    )
    # only when what is indexed changes (0005's triggers update change_seq on every write)
    op.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN "
        "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
        "VALUES ('delete', OLD.id, OLD.title, OLD.text); "
        "INSERT INTO articles_fts(rowid, title, text) VALUES (NEW.id, NEW.title, NEW.text); END"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_search ON articles USING GIN ({PG_DOCUMENT})")
        return
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")  # rows stored so far
    create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_search")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS articles_fts_{name}")
    op.execute("DROP TABLE IF EXISTS articles_fts")
