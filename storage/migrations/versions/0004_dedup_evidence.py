"""dedup evidence on every link; anchors beside signatures; canonical rows carry no link fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('articles') as batch:
        batch.add_column(sa.Column('dedup_evidence', sa.JSON(), nullable=True))
    with op.batch_alter_table('signatures') as batch:
        batch.add_column(
            sa.Column('anchors', sa.LargeBinary(), nullable=False, server_default=sa.text("''"))
        )
    # A canonical article links to nothing: earlier versions left the evidence of the match
    # that made it canonical on its own row, so counting copies by dup_kind over-counted.
    op.execute(
        "UPDATE articles SET dup_kind = NULL, similarity = NULL, containment = NULL, "
        "dedup_match_id = NULL WHERE duplicate_of IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('signatures') as batch:
        batch.drop_column('anchors')
    with op.batch_alter_table('articles') as batch:
        batch.drop_column('dedup_evidence')
