"""Where the database is: its URL (from the option, the environment or the default), the file
of a SQLite database, how messages name it; and the error that says it cannot be used."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DATABASE_URL_ENV = "NEWSCRAWL_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///newscrawl.db"


class StorageError(RuntimeError):
    """The database cannot be used (unreachable, read-only, full, wrong schema). Fatal for a
    crawl: it stops with a clear message and a non-zero exit, never logs and goes on."""


def database_url(explicit: str | None = None) -> str:
    """Option first, then ``NEWSCRAWL_DATABASE_URL``, then a SQLite file in the working folder.
    A plain file path (no ``scheme://``) is a SQLite file."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    if "://" not in url:
        url = "sqlite:///" + os.path.expanduser(url)
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def parse_url(url: str) -> URL:
    # SQLAlchemy is imported here, not above: naming a database (the CLI's messages, --help)
    # should not cost the 150 ms of importing it
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"not a database URL: {url!r} (give a file path, sqlite:///FILE or "
            "postgresql://user@host/dbname)"
        ) from exc


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///FILE`` or the URI form ``sqlite:///file:FILE?...``);
    None for PostgreSQL and in-memory databases."""
    parsed = parse_url(database_url(url))
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:"):
        name = unquote(name[len("file:") :].split("?", 1)[0])
        if not name or name == ":memory:" or "mode=memory" in (parsed.database or ""):
            return None
    return Path(name)


def describe(url: str) -> str:
    """How messages name a database: the SQLite file, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return parse_url(database_url(url)).render_as_string(hide_password=True)
