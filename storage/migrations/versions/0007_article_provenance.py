"""where an article came from: the WARC record it was ingested from, and the extractor

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

One row per WARC record an article was stored (or found unchanged) from, so the raw page can
be read again (file, record id, offset of the record in the file) and re-extracted when the
extractor has changed (``extractor_version``). An article may have several: the same URL in
two archives, or a crawled article found again in CC-NEWS.

Its own table, not columns on ``articles``: adding columns there means recreating the table in
SQLite batch mode, and with it the change-cursor triggers of 0005. The column is
``record_offset``, not ``offset`` (a reserved word in SQL).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'article_provenance',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('warc_file', sa.Text(), nullable=False),
        sa.Column('record_id', sa.String(length=200), nullable=False),
        sa.Column('record_offset', sa.BigInteger(), nullable=False),
        sa.Column('extractor_version', sa.String(length=100), nullable=False),
        sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('record_id', name='uq_article_provenance_record'),
    )
    op.create_index('ix_article_provenance_article', 'article_provenance', ['article_id'])
    op.create_index('ix_article_provenance_file', 'article_provenance', ['warc_file'])


def downgrade() -> None:
    op.drop_index('ix_article_provenance_file', table_name='article_provenance')
    op.drop_index('ix_article_provenance_article', table_name='article_provenance')
    op.drop_table('article_provenance')
