"""The relational store, usable without Scrapy: models, engines, schema checks, writing, reading
and search. Never imports `crawler/` or `migrations/` (the migrations are found by path)."""
