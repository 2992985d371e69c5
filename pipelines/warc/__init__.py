"""WARC capture without Scrapy: heads, records, files, repair, reading back. No Scrapy imports.

The Scrapy side, the extension that feeds it every downloaded response, is
`pipelines.capture`.
"""
