"""what brought each kept revision's successor: a refetch, an ingest, an import or a re-extraction

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

``article_revisions.cause``: "refetch", "ingest", "import" or "reextract". A re-extraction
changes the stored text because the extractor changed, not the page: the report's and
Datasette's most-edited lists leave those out. Null for revisions kept before this revision.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('article_revisions', sa.Column('cause', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('article_revisions') as batch:
        batch.drop_column('cause')
