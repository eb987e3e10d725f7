"""the article's declared modification date, and when a fetch last saw it move

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

``articles.modified_at``: when the page (article:modified_time, JSON-LD dateModified), else its
feed entry or sitemap, says the article was last modified; null for articles stored before this
revision or whose page says nothing. ``url_state.modified_moved_at``: when a fetch last found that
date later than the stored one (null when the latest fetch did not), so a story still being
updated is refetched again. Plain ALTER TABLE, as 0010 and 0011, so the change-cursor and
full-text triggers stay; the SQLite downgrade of ``articles`` recreates the table and creates
them again.
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('articles', sa.Column('modified_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('url_state', sa.Column('modified_moved_at', sa.DateTime(timezone=True), nullable=True))


def _migration(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_column('url_state', 'modified_moved_at')
        op.drop_column('articles', 'modified_at')
        return
    with op.batch_alter_table('url_state') as batch:
        batch.drop_column('modified_moved_at')
    op.execute("DROP TRIGGER IF EXISTS articles_change_insert")
    op.execute("DROP TRIGGER IF EXISTS articles_change_update")
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS articles_fts_{name}")
    with op.batch_alter_table('articles') as batch:
        batch.drop_column('modified_at')
    _migration("0005_change_cursor").create_triggers(dialect)  # type: ignore[attr-defined]
    _migration("0008_full_text_search").create_triggers()  # type: ignore[attr-defined]
