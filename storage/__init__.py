"""Storage: SQLAlchemy models, Alembic migrations, and every SQL statement of the project."""
