"""newscrawl: a Scrapy news crawler that builds clean, deduplicated text corpora."""
