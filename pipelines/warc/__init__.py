"""WARC capture without Scrapy: heads, records, files, repair, reading back. No Scrapy imports.

One module per job, each usable alone:

- `heads`: HTTP request and response heads, byte-exact as they crossed the wire;
- `builders`: warcio records (request, response, revisit, metadata, warcinfo) for an exchange;
- `location`: a written record's HTTP status and capture location;
- `members`: one gzip member per record, compressed payloads stored as they are;
- `openfiles`: the lock and checks the writer and the repair share on `.open` files;
- `writer`: `RollingWarcWriter`, records into a rolling series of files;
- `scan`: frame and verify a file's records, streaming, and find the damage;
- `repair`: cut the `.open` files a killed process left back to their complete records;
- `reader`: read captures back for `dgarchive extract` and `reindex`;
- `completeness`: whether a response body arrived whole, judged from the bytes received.

The Scrapy side, the extension that feeds it every downloaded response, is
`pipelines.capture`.
"""
