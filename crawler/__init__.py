"""dgarchive: archival crawler for the town news columns of www.dg.gov.cn."""

from __future__ import annotations

__version__ = "0.1.0"
