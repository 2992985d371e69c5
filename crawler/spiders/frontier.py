"""The crawl's frontier: the order in which Scrapy's scheduler hands out requests.

Scrapy's memory queues are last-in-first-out within a priority. A list page yields its ten
articles first and its page-bar links after them, so with one priority the next list pages
are always popped before the articles just found: the crawl runs ahead through the list
pages and the articles pile up in the scheduler, a Request object each (measured on the
mirror with its ordinary page bar: 4,600 requests pending half-way through a crawl of 20,000
articles, growing with the column). An article (or a revisit of one) goes first: the
scheduler then holds at most the articles of the list pages in flight, plus the list pages
the page bars named, whatever the column's length. The set of requests is the same; only
their order changes.
"""

from __future__ import annotations

ARTICLE_PRIORITY = 1  # articles and revisits; list pages and page requisites keep 0
