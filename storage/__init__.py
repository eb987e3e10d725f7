"""Storage: SQLAlchemy models, Alembic migrations, and every SQL statement of the project.

The rule: storage imports nothing from ``crawler``, ``spiders`` or ``pipelines``. Plain values
go in and come out (ints, strings, datetimes, bytes, numpy arrays, dicts, storage's own
dataclasses); callers convert their objects. Modules, by table family:

- ``db``: engines, schema creation and upgrades, the read and write transactions.
- ``models``: the tables (SQLAlchemy declarative models); ``migrations/``: their history.
- ``clock``: the time storage writes (``utcnow``, ``to_utc``); ``crawler.dates`` re-exports it.
- ``urls``: the longest URL a row is keyed by (``MAX_URL_LENGTH``) and the key of a longer one.
- ``outlets``: the registry's outlets and sources, recorded from ``OutletRecord``s.
- ``sources``: each source's polling state (``SourceState``) and what each poll held.
- ``url_state``: discovered, pending, stored and failed URLs.
- ``articles``: articles upserted by canonical URL, with their aliases; a ``StoreHook`` does
  another concern's writes inside the article's transaction (the dedup engine's,
  ``pipelines.dedup.store``).
- ``revisions``: an article's earlier versions, kept inside its store transaction; history,
  revisions for export, most-edited articles. ``textdiff``: the word diff (pure functions).
- ``signatures``: dedup parameter schemes (by fingerprint string), signatures, candidate
  documents and the rows an index is rebuilt from.
- ``bands``: the shared dedup index (key locks, candidates, keys saved and pruned).
- ``clusters``: cluster links written from plain values, and clusters read back.
- ``runs``: crawl runs, and runs whose process is gone.
- ``stats``: per-outlet counts and latest rows, for ``newscrawl stats``.
- ``reports``: the SQL behind ``newscrawl report``.
- ``exports``: streaming exports and consumers' checkpoints.
- ``locks``: crawl locks and run locks (PostgreSQL advisory locks, or lock files).
"""
