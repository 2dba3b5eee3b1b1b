"""The one lock around every change t3qkfp makes to the process's warning filters.

Owns: silencing kfp's, kubernetes' and moto's own warnings while t3qkfp calls them. Why a lock:
`warnings.catch_warnings` saves the filter list on entry and puts that copy back on exit, and
the list is process-wide. Two threads (Jupyter's pool serving Elyra's Run and Export) that
overlap would each restore the other's "ignore", leaving user warnings silenced for the rest of
the session. Holding one re-entrant lock from entry to exit makes the saves and restores nest.
The same lock serializes kfp 1.2's compiler, which keeps the pipeline being built in a class
attribute; one lock for both means no lock order to get wrong.
"""
from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator

LOCK = threading.RLock()


@contextmanager
def silenced(filters: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold LOCK and, inside catch_warnings, apply `filters` (default: ignore every warning)."""
    with LOCK, warnings.catch_warnings():
        if filters is None:
            warnings.simplefilter("ignore")
        else:
            filters()
        yield
