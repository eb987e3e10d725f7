"""Scrapy extensions (enabled in ``crawler.settings``):

- ``runs``: the crawl-run row (when, what happened, exit code) and the run time limit;
- ``warc``: the optional raw archive of every response (``--warc DIR``)."""
