"""article revisions: an article's earlier versions, kept when a refetch changed it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A new table only: ``articles`` is not recreated (its change-cursor triggers, migration 0005,
would have to be made again). Each row is one earlier version of an article (its title and
whole text, when it was fetched and when it was replaced) with what changed and a word-level
summary, written in the same transaction as the update of the article row.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'article_revisions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('title', sa.Text(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('text_hash', sa.String(64), nullable=False),
        sa.Column('changed', sa.String(8), nullable=False),
        sa.Column('words_added', sa.Integer(), nullable=False),
        sa.Column('words_removed', sa.Integer(), nullable=False),
        sa.Column('excerpt', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'article_id', 'revision', name='uq_article_revisions_article_revision'
        ),
    )
    op.create_index('ix_article_revisions_replaced', 'article_revisions', ['replaced_at'])


def downgrade() -> None:
    op.drop_index('ix_article_revisions_replaced', table_name='article_revisions')
    op.drop_table('article_revisions')
