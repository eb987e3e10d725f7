"""Dedup: syndicated copies linked across outlets and runs.

- ``shingles``: normalisation per script and shingle hashes;
- ``params``: the engine's parameters (and the guard on stored ones);
- ``fingerprint``: a text's shingles, exact hash, anchors, MinHash signatures, index keys;
- ``index``: the inverted index (key -> documents) in sorted numpy arrays;
- ``evidence``: the passages two texts share, and the rule that reads them;
- ``engine``: candidates, verification and the cluster decision;
- ``store``: the decision taken inside an article's own store transaction (through
  ``storage.articles``' hook), its link and signature saved as storage's plain values;
- ``rebuild``: indexes rebuilt from stored signatures (in-memory load, band backfill, reindex);
- ``corpus``: ``newscrawl dedup`` over any JSON Lines corpus;
- ``pipeline``: the Scrapy pipeline that fingerprints crawled articles.

Nothing here imports Scrapy at module level but ``pipeline``: the CLI and benchmarks use the
engine without it."""
