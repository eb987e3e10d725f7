"""a commit-ordered change cursor on articles, for export consumers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

Every insert and every update of an article sets ``articles.change_seq``, a value that orders
changes by commit: on PostgreSQL the writing transaction's id (``pg_current_xact_id()``),
exported only once it is below the oldest transaction still running; on SQLite, where one
writer at a time commits, a counter bumped inside the write. Consumers keep ``next_change``:
everything from there up is theirs next time.

Articles stored before this revision get negative values in id order, and each consumer's
checkpoint is translated to match, so an upgrade neither repeats nor skips a row.

The values are set by triggers, so every statement that writes an article moves it, whatever
code runs it. A later migration that recreates ``articles`` (SQLite batch mode) must create
the triggers again: ``create_triggers()`` below.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


SQLITE_BUMP = """
BEGIN
  UPDATE change_counter SET value = value + 1 WHERE id = 1;
  UPDATE articles SET change_seq = (SELECT value FROM change_counter WHERE id = 1)
  WHERE id = NEW.id;
END
"""


def create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION newscrawl_article_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              NEW.change_seq := pg_current_xact_id()::text::bigint;
              RETURN NEW;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER articles_change BEFORE INSERT OR UPDATE ON articles "
            "FOR EACH ROW EXECUTE FUNCTION newscrawl_article_change()"
        )
        return
    op.execute("CREATE TRIGGER articles_change_insert AFTER INSERT ON articles" + SQLITE_BUMP)
    # the trigger's own UPDATE changes change_seq, so it does not fire itself again
    op.execute(
        "CREATE TRIGGER articles_change_update AFTER UPDATE ON articles "
        "WHEN NEW.change_seq IS OLD.change_seq" + SQLITE_BUMP
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('articles') as batch:
        batch.add_column(
            sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default=sa.text('0'))
        )
    with op.batch_alter_table('export_consumers') as batch:
        batch.add_column(sa.Column('next_change', sa.BigInteger(), nullable=True))
    op.create_table(
        'change_counter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute("INSERT INTO change_counter (id, value) VALUES (1, 0)")
    # Earlier rows below every new change, in id order; checkpoints translated alike.
    op.execute(
        "UPDATE articles SET change_seq = id - (SELECT COALESCE(MAX(id), 0) + 1 FROM articles)"
    )
    op.execute(
        "UPDATE export_consumers SET next_change = CASE WHEN last_article_id >= "
        "(SELECT COALESCE(MAX(id), 0) FROM articles) THEN 0 ELSE last_article_id - "
        "(SELECT COALESCE(MAX(id), 0) FROM articles) END"
    )
    op.create_index('ix_articles_change_seq', 'articles', ['change_seq'])
    create_triggers(dialect)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS articles_change ON articles")
        op.execute("DROP FUNCTION IF EXISTS newscrawl_article_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS articles_change_insert")
        op.execute("DROP TRIGGER IF EXISTS articles_change_update")
    op.drop_index('ix_articles_change_seq', table_name='articles')
    op.drop_table('change_counter')
    with op.batch_alter_table('export_consumers') as batch:
        batch.drop_column('next_change')
    with op.batch_alter_table('articles') as batch:
        batch.drop_column('change_seq')
