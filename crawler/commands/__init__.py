"""Scrapy commands of the project (``COMMANDS_MODULE``): ``scrapy crawl`` exits as ``newscrawl
crawl`` does."""
