"""each source remembers its last response's validators, for conditional polls

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

``ETag`` and ``Last-Modified`` are sent back as ``If-None-Match`` / ``If-Modified-Since`` so a
feed that has not changed costs a 304; the body's hash catches servers that ignore them. All
three are set only by a run that finished, so an interrupted one never hides entries.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN: SQLite needs no table rebuild for nullable columns
    op.add_column('sources', sa.Column('etag', sa.String(512), nullable=True))
    op.add_column('sources', sa.Column('last_modified', sa.String(64), nullable=True))
    op.add_column('sources', sa.Column('body_hash', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.drop_column('body_hash')
        batch.drop_column('last_modified')
        batch.drop_column('etag')
