"""``newscrawl ingest``: articles from WARC files (the crawl's own ``--warc`` archives, CC-NEWS)
into the corpus, through the crawl's own decoding, extraction, dedup and store.

``records`` reads the files (FastWARC), ``work`` is what an extraction worker does with one
page, ``run`` drives the pool and stores in the main process, with each article's provenance."""
