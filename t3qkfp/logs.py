"""Where t3qkfp's `logging` messages go when nobody configured logging.

Owns: one handler on the "t3qkfp" logger that prints INFO and above to stderr as
`t3qkfp: message` — but only while the root logger has no handler of its own. Must not: add
a second copy of a message to an application's configured logging, or print to stdout.

Why: `t3qkfp.submit(wait=True)` and the other Python calls report progress through
`logging` (and their callbacks), and a notebook user who configured nothing would otherwise
see nothing at all (Python's last-resort handler shows warnings only). An application or a
Jupyter server that sets up logging gets the records through its own handlers instead.
"""
from __future__ import annotations

import logging
import sys

PREFIX = "t3qkfp: "


class _WhenUnconfigured(logging.Handler):
    """stderr at emit time (Jupyter and pytest swap sys.stderr), skipped once root has handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        try:
            message = record.getMessage()
            stream = sys.stderr
            stream.write(message if message.startswith(PREFIX) else PREFIX + message)
            stream.write("\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.handleError(record)


def install() -> None:
    """Add the handler once; INFO unless the application chose a level for "t3qkfp"."""
    logger = logging.getLogger("t3qkfp")
    if any(isinstance(h, _WhenUnconfigured) for h in logger.handlers):
        return
    logger.addHandler(_WhenUnconfigured())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
