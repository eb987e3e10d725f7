"""an index of the URLs being followed for a moved modification date

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Every spider start and every distributed schedule asks for the outlet's URLs whose declared
modification date moved (``url_state.modified_moved_at``, ``storage.url_state.due_refetches``).
Few URLs carry the mark, so a partial index of them alone (SQLite and PostgreSQL both have
them) answers that without walking the outlet's stored URLs, and costs nothing for the rest.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

MARKED = sa.text("modified_moved_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        'ix_url_state_followed',
        'url_state',
        ['outlet_id', 'modified_moved_at'],
        sqlite_where=MARKED,
        postgresql_where=MARKED,
    )


def downgrade() -> None:
    op.drop_index('ix_url_state_followed', table_name='url_state')
