"""What people and other systems get out: ``export`` (JSON Lines, CSV, Parquet writers in a
registry), ``report`` (one self-contained HTML file), ``browse`` (Datasette metadata),
``progress`` (the live table and the summary line of a crawl)."""
