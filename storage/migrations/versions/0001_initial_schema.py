"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('crawl_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('close_reason', sa.String(length=64), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('pages_fetched', sa.Integer(), nullable=False),
    sa.Column('articles_discovered', sa.Integer(), nullable=False),
    sa.Column('articles_stored', sa.Integer(), nullable=False),
    sa.Column('articles_unchanged', sa.Integer(), nullable=False),
    sa.Column('known_skipped', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_runs_outlet_id'), ['outlet_id'], unique=False)

    op.create_table('dedup_schemes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    op.create_table('outlets',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('homepage', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('url_state',
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('discovery', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('url')
    )
    with op.batch_alter_table('url_state', schema=None) as batch_op:
        batch_op.create_index('ix_url_state_outlet_state', ['outlet_id', 'state'], unique=False)

    op.create_table('articles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('author', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_source', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('image', sa.Text(), nullable=True),
    sa.Column('site_name', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('discovered_via', sa.Text(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of', sa.Integer(), nullable=True),
    sa.Column('dup_kind', sa.String(length=16), nullable=True),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('containment', sa.Float(), nullable=True),
    sa.Column('dedup_match_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of'], ['articles.id'], ),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url')
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index('ix_articles_cluster', ['cluster_id'], unique=False)
        batch_op.create_index('ix_articles_outlet_published', ['outlet_id', 'published_at'], unique=False)
        batch_op.create_index('ix_articles_text_hash', ['text_hash'], unique=False)

    op.create_table('sources',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=64), nullable=True),
    sa.Column('last_entry_count', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outlet_id', 'url', name='uq_sources_outlet_url')
    )
    op.create_table('signatures',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('indexed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shingling', sa.String(length=16), nullable=False),
    sa.Column('exact_hash', sa.BigInteger(), nullable=False),
    sa.Column('shingle_count', sa.Integer(), nullable=False),
    sa.Column('minhash', sa.LargeBinary(), nullable=False),
    sa.Column('lead_minhash', sa.LargeBinary(), nullable=False),
    sa.Column('shingles', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ),
    sa.ForeignKeyConstraint(['scheme_id'], ['dedup_schemes.id'], ),
    sa.PrimaryKeyConstraint('article_id')
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signatures_exact_hash'), ['exact_hash'], unique=False)
        batch_op.create_index('ix_signatures_scheme_indexed', ['scheme_id', 'indexed_at'], unique=False)

    op.create_table('url_aliases',
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ),
    sa.PrimaryKeyConstraint('url')
    )
    with op.batch_alter_table('url_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_url_aliases_article_id'), ['article_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('url_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_url_aliases_article_id'))

    op.drop_table('url_aliases')
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_signatures_scheme_indexed')
        batch_op.drop_index(batch_op.f('ix_signatures_exact_hash'))

    op.drop_table('signatures')
    op.drop_table('sources')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_text_hash')
        batch_op.drop_index('ix_articles_outlet_published')
        batch_op.drop_index('ix_articles_cluster')

    op.drop_table('articles')
    with op.batch_alter_table('url_state', schema=None) as batch_op:
        batch_op.drop_index('ix_url_state_outlet_state')

    op.drop_table('url_state')
    op.drop_table('outlets')
    op.drop_table('dedup_schemes')
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_runs_outlet_id'))

    op.drop_table('crawl_runs')

