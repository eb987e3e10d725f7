"""export consumer checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_consumers',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('last_article_id', sa.Integer(), nullable=False),
    sa.Column('last_export_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('export_consumers')
