"""`python -m crawler.cli`: the same entry point as the `dgarchive` console script."""

import sys

from crawler.cli import console

sys.exit(console())
