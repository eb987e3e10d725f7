"""Downloader and spider middlewares (enabled in ``crawler.settings``):

- ``safety``: the address policy, off-site redirects, the content-type guard;
- ``robots``: robots.txt through Scrapy's public parser interface, Crawl-delay;
- ``known_urls``: the known-URL filter, so a run fetches only what is new or changed."""
