"""Distributed crawl: many `dgarchive crawl --frontier redis://…` workers on one Redis
frontier (scrapy-redis) and one database. See docs/operations.md, "Distributed crawl"."""
