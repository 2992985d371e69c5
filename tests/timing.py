"""Time bounds for the few tests that assert one (a promised stop time, a start-up bound).

The bound holds on a quiet machine; on a loaded one (CI shares two cores with the mirror, and
developers run several suites at once) it is scaled by the load per core, so a test fails for
a slow program, not for a busy machine. Speed itself is measured by `make bench`, not here.
"""

from __future__ import annotations

import os


def budget(seconds: float) -> float:
    """`seconds`, times the 1-minute load per core when that is above 1."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * max(1.0, load)
