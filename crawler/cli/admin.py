"""``upgrade``: create or upgrade the database schema, and fingerprint stored articles again
when the dedup parameters changed (``--reindex``)."""

from __future__ import annotations

import argparse
from typing import Any

from crawler.cli.common import EXIT_OK, add_db_option, add_set_option, overrides, scrapy_settings


def cmd_upgrade(args: argparse.Namespace) -> int:
    from storage.db import Database

    settings = scrapy_settings(args.db, None, **overrides(args.set))
    db = Database(args.db)
    print(f"database {db.name} is at the newest schema")
    if args.reindex:
        from crawler import runtime
        from pipelines.dedup.fingerprint import fingerprint
        from pipelines.dedup.rebuild import reindex

        params = runtime.dedup_params(settings)
        count = reindex(db, params, lambda text: fingerprint(text, params))
        print(f"dedup: {count} articles fingerprinted with the current parameters")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("upgrade", help="create or upgrade the database schema")
    p.add_argument(
        "--reindex",
        action="store_true",
        help="fingerprint stored articles again with the current dedup parameters "
        "(after an upgrade that changed them; clusters are kept)",
    )
    add_set_option(p)
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_upgrade)
