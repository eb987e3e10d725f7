"""the exact-copy lookup's index: scheme and exact hash together

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

``storage.signatures.exact_matches`` asks for the articles of a scheme with a given exact hash.
With an index on ``exact_hash`` alone and one on ``(scheme_id, indexed_at)``, SQLite's planner
(no statistics) took the second, which in a database with one scheme names every row, and read
the whole signatures table for each lookup: a 100,000-record ingest slowed to a few pages a
second as the table grew. One index on both columns answers the lookup, and replaces the
single-column one, which nothing else reads.
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_signatures_scheme_exact', 'signatures', ['scheme_id', 'exact_hash'])
    op.drop_index('ix_signatures_exact_hash', table_name='signatures')


def downgrade() -> None:
    op.create_index('ix_signatures_exact_hash', 'signatures', ['exact_hash'])
    op.drop_index('ix_signatures_scheme_exact', table_name='signatures')
