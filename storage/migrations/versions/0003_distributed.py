"""shared dedup band table; adaptive polling state of sources

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dedup_bands',
    sa.Column('band_key', sa.BigInteger(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('band_key', 'article_id')
    )
    op.create_index('ix_dedup_bands_article', 'dedup_bands', ['article_id'])
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('poll_interval', sa.Float(), nullable=True))
        batch.add_column(sa.Column('next_poll_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('retry_not_before', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('poll_seq', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('polled_seq', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('applied_seq', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('poll_items', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('poll_new', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('poll_errors', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('error_streak', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        for name in ('error_streak', 'poll_errors', 'poll_new', 'poll_items', 'applied_seq',
                     'polled_seq', 'poll_seq', 'retry_not_before', 'enqueued_at',
                     'next_poll_at', 'poll_interval'):
            batch.drop_column(name)
    op.drop_index('ix_dedup_bands_article', table_name='dedup_bands')
    op.drop_table('dedup_bands')
