"""Pause the cyclic garbage collector around bulk work that builds many short-lived objects.

A busy scan builds ~100,000 small objects (clock rows, instants, lines); with every module of a
running app alive, each generation-2 collection it triggers walks them all and doubled the scan.
Nothing the scan builds forms reference cycles, so plain reference counting frees it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector is on again after it (threads
    that overlap leave it on once the first that turned it off is done)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
