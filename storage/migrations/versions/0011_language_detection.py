"""the language identifier's confidence and the language's source on every article

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

``articles.language_confidence`` (0..1, fastText lid.176's score) and
``articles.language_source`` ("declared", "outlet" or "detected"), null for articles stored
before this revision. Added with a plain ALTER TABLE, as 0010's columns are, so the change-cursor
and full-text triggers stay; the SQLite downgrade recreates the table and creates them again.
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('articles', sa.Column('language_confidence', sa.Float(), nullable=True))
    op.add_column('articles', sa.Column('language_source', sa.String(length=16), nullable=True))


def _migration(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_column('articles', 'language_source')
        op.drop_column('articles', 'language_confidence')
        return
    op.execute("DROP TRIGGER IF EXISTS articles_change_insert")
    op.execute("DROP TRIGGER IF EXISTS articles_change_update")
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS articles_fts_{name}")
    with op.batch_alter_table('articles') as batch:
        batch.drop_column('language_source')
        batch.drop_column('language_confidence')
    _migration("0005_change_cursor").create_triggers(dialect)  # type: ignore[attr-defined]
    _migration("0008_full_text_search").create_triggers()  # type: ignore[attr-defined]
