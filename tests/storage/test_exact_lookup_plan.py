"""The exact-copy lookup (``storage.signatures.exact_matches``) reads the index of migration
0015, not the whole signatures table: with an index on the exact hash alone, SQLite's planner
took the scheme's index, which in a one-scheme database names every row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, text

from storage import signatures
from storage.db import Database


def test_the_exact_copy_lookup_reads_the_scheme_and_hash_index(db: Database) -> None:
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.read() as s:
            assert signatures.exact_matches(s, 1, 2**63 + 5) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    [(lookup_sql, params)] = [(q, p) for q, p in statements if "exact_hash" in q]
    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("signatures")}
    assert "ix_signatures_scheme_exact" in indexes
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + lookup_sql, params)
            plan = " ".join(str(row[-1]) for row in rows)
        else:
            conn.execute(text("SET enable_seqscan = off"))  # a tiny table: what could it use
            plan = " ".join(
                str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + lookup_sql, params)
            )
    assert "ix_signatures_scheme_exact" in plan, plan
