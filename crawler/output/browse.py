"""``newscrawl browse``: the corpus in Datasette, with ready-made queries, no SQL needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CANNED_QUERIES: dict[str, dict[str, str]] = {
    "latest_articles_per_outlet": {
        "title": "Latest articles per outlet",
        "sql": """select a.outlet_id, a.id, a.title, a.published_at, a.url
from articles a
where a.id in (select b.id from articles b where b.outlet_id = a.outlet_id
               order by coalesce(b.published_at, b.fetched_at) desc limit 10)
order by a.outlet_id, coalesce(a.published_at, a.fetched_at) desc""",
    },
    "largest_clusters": {
        "title": "Largest syndication clusters",
        "sql": """select a.cluster_id, count(*) as articles,
  group_concat(distinct a.outlet_id) as outlets,
  (select c.title from articles c where c.cluster_id = a.cluster_id and c.duplicate_of is null)
    as canonical_title
from articles a where a.cluster_id is not null
group by a.cluster_id having count(*) > 1
order by articles desc, a.cluster_id limit 100""",
    },
    "who_republishes_whom": {
        "title": "Who republishes whom",
        "sql": """select orig.outlet_id as first_published_by, copy.outlet_id as republished_by,
  count(*) as copies, round(avg(copy.containment), 3) as mean_containment
from articles copy join articles orig on orig.id = copy.duplicate_of
where copy.outlet_id != orig.outlet_id
group by 1, 2 order by copies desc""",
    },
    "most_edited_articles": {
        "title": "Most-edited articles",
        "sql": """select a.id, a.outlet_id, a.title, a.url, count(*) as revisions,
  max(r.replaced_at) as last_edited
from article_revisions r join articles a on a.id = r.article_id
where r.cause is null or r.cause != 'reextract'
group by a.id order by revisions desc, last_edited desc limit 100""",
    },
    "failed_urls_by_reason": {
        "title": "Failed URLs by reason",
        "sql": """select reason, count(*) as urls, max(attempts) as max_attempts,
  max(updated_at) as latest
from url_state where state = 'failed' group by reason order by urls desc""",
    },
}


def metadata(database_name: str) -> dict[str, Any]:
    return {
        "title": "newscrawl corpus",
        "description": "Articles, syndication clusters and crawl state stored by newscrawl.",
        "databases": {
            database_name: {
                "queries": CANNED_QUERIES,
                "tables": {
                    "articles": {
                        "description": "One row per canonical URL; cluster_id and "
                        "duplicate_of link syndicated copies to the canonical article.",
                        # the search box: full-text search of title and text (migration 0008)
                        "fts_table": "articles_fts",
                        "fts_pk": "id",
                    },
                    "articles_fts": {"hidden": True},
                    "url_state": {
                        "description": "What happened to every URL: stored or failed, "
                        "with reason and attempts."
                    },
                    "article_revisions": {
                        "description": "Earlier versions of articles whose text or headline "
                        "changed when fetched again; the article row holds the latest."
                    },
                    "crawl_runs": {"description": "One row per outlet per run."},
                    "signatures": {"hidden": True},
                    "dedup_schemes": {"hidden": True},
                    "alembic_version": {"hidden": True},
                },
            }
        },
    }


def write_metadata(db_path: Path, folder: Path) -> Path:
    path = folder / "newscrawl-datasette.json"
    path.write_text(json.dumps(metadata(db_path.stem), indent=1), encoding="utf-8")
    return path


def datasette_command(db_path: Path, metadata_file: Path, host: str, port: int) -> list[str]:
    """The Datasette server over the corpus, with its ready-made queries, as a command line."""
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(db_path),
        "--metadata",
        str(metadata_file),
        "--host",
        host,
        "--port",
        str(port),
        "--setting",
        "sql_time_limit_ms",
        "5000",
    ]
