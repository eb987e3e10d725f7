"""extraction confidence and evidence on every article

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

``articles.extraction_confidence`` (0..1) and ``articles.extraction_evidence`` (which
extraction candidate won and why), null for articles stored before this revision. The columns
are added with a plain ALTER TABLE (no SQLite batch recreate), so 0005's change-cursor
triggers stay (and 0008's full-text ones); the SQLite downgrade recreates the table and so
creates both again.
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('articles', sa.Column('extraction_confidence', sa.Float(), nullable=True))
    op.add_column('articles', sa.Column('extraction_evidence', sa.Text(), nullable=True))


def _migration(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _create_triggers(dialect: str) -> None:
    _migration("0005_change_cursor").create_triggers(dialect)  # type: ignore[attr-defined]
    _migration("0008_full_text_search").create_triggers()  # type: ignore[attr-defined]


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_column('articles', 'extraction_evidence')
        op.drop_column('articles', 'extraction_confidence')
        return
    op.execute("DROP TRIGGER IF EXISTS articles_change_insert")
    op.execute("DROP TRIGGER IF EXISTS articles_change_update")
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS articles_fts_{name}")
    with op.batch_alter_table('articles') as batch:
        batch.drop_column('extraction_evidence')
        batch.drop_column('extraction_confidence')
    _create_triggers(dialect)
