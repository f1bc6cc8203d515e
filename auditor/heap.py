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

import atexit
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


def left_to_exit() -> None:
    """At the process's exit, no collection over what is still alive; idempotent.

    Python's finalisation runs the collector over every object left, which
    after a night at estate scale (a quarter of a million tracked objects:
    botocore's models, the store's metadata, the modules) took half a second,
    a twentieth of a second night, to find what the exit frees anyway. Frozen
    objects are not collected: the operating system takes their memory back
    and those in cycles are not finalised, which nothing here needs (files are
    closed where they are written; logging flushes in its own exit handler).
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
