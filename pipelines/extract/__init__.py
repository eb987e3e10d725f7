"""Extraction: a fetched page to article text and metadata.

- ``page``: trafilatura on the page, with the outlet's hints; metadata reconciled with the feed's;
- ``choose``: which candidate text is the article, from ``evidence`` (agreement between
  candidates, prose shape, link lines, JSON-LD, summaries), with a confidence;
- ``cleanup``: site-independent clean-up of the text (repeated headline, captions, contact lines);
- ``hygiene``: text every database stores the same way (no NUL, normalised newlines);
- ``quality``: body-text scoring against ground truth, as the benchmark scores it;
- ``saved``: saved pages read capped for ``newscrawl extract``;
- ``pipeline``: the Scrapy pipeline, which runs ``page`` in the process pool."""
