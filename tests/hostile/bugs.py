"""A coding bug to inject into a real crawl: an item field that cannot cross to the database
writer process (a lock object, as a careless spider might leave a Selector or a file in an
item). Enabled with `-s ITEM_PIPELINES=…` by tests/test_hostile_exit.py."""

from __future__ import annotations

import threading
from typing import Any


class UnpicklableFieldPipeline:
    """Adds a field that pickle refuses to every item it sees."""

    def process_item(self, item: Any) -> Any:
        item["debug_lock"] = threading.Lock()
        return item
