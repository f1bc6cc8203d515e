"""The cycle collector, paused while a run builds objects that make no cycles.

CPython's collector re-scans every tracked object each time the heap has
grown by a quarter. An analysis at estate scale builds millions of them
(the snapshot's rows, a million access paths, the findings) and keeps them
to the end, and the full collections this triggers cost a third of the run
while finding almost nothing: at 100,000 users the whole analysis leaves
about 24,000 objects in cycles, and peak memory is the same with the
collector paused. Reading a log object is such a burst too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collection inside the block (as it was before, after): what the block leaves in cycles waits for the next."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
