"""Progress of long transfers: a live bar on a terminal, nothing extra anywhere else.

Owns: the bytes / rate / ETA bar drawn on stderr while one object goes up or down (minio's
progress protocol: `set_meta(object_name, total_length)` then `update(n)`), whether bars are
shown at all (only when stderr is a terminal and `-q` was not given), and the size and
duration wording shared with the one-line-per-file reports. Must not: write a line that stays
(storage and the callers print those) or touch stdout.

Why a bar apart from the lines: the lines are the record (logs, notebooks, Elyra's log, a
callback) and must be one per file; the bar is a terminal decoration, redrawn in place with
`\\r` and cleared when the object is done, so it never reaches a pipe or a log file.
Uploads: minio reads a part from memory before sending it, so the bar runs at most a few
5 MiB parts ahead of the network; downloads are counted as they arrive.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

_enabled = True
_REDRAW = 0.1   # seconds between redraws; a terminal redraw per 16 KiB chunk would cost more than it shows
_MIN_SIZE = 256 * 1024  # smaller objects finish before a bar would be read


def set_enabled(enabled: bool) -> None:
    """Turn bars on or off for this process (the CLI's -q turns them off)."""
    global _enabled
    _enabled = enabled


def bars_shown(stream: TextIO | None = None) -> bool:
    """Bars are drawn only on a terminal, and not after set_enabled(False)."""
    target = stream if stream is not None else sys.stderr
    try:
        return _enabled and bool(target.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def size(n: float) -> str:
    """Bytes for people: 512 B, 3.2 KiB, 190.0 MiB."""
    return (f"{n:.0f} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024 ** 2
            else f"{n / 1024 ** 2:.1f} MiB" if n < 1024 ** 3 else f"{n / 1024 ** 3:.2f} GiB")


def duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Bar:
    """One object's transfer, drawn in place: `label  12.0/190.0 MiB  8.1 MiB/s  ETA 22 s`.

    Passed to minio as `progress=`; `close()` clears the line so the caller's report line
    takes its place. Does nothing when bars are not shown.
    """

    def __init__(self, label: str, total: int = 0, *, stream: TextIO | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._live = bars_shown(self._stream)
        self._start = time.monotonic()
        self._drawn = 0.0
        self._visible = False

    def set_meta(self, object_name: str = "", total_length: int = 0) -> None:
        if total_length:
            self.total = total_length
        self._start = time.monotonic()

    def update(self, length: int) -> None:
        self.done += length
        now = time.monotonic()
        if self._live and self.total >= _MIN_SIZE and now - self._drawn >= _REDRAW:
            self._drawn = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The bar's text (also what tests read)."""
        elapsed = max((now if now is not None else time.monotonic()) - self._start, 1e-6)
        rate = self.done / elapsed
        total = max(self.total, self.done)
        eta = f"ETA {duration((total - self.done) / rate)}" if rate > 0 and self.done < total else ""
        percent = f"{100 * self.done / total:3.0f}%" if total else ""
        return f"{self.label}  {percent} {size(self.done)}/{size(total)}  {size(rate)}/s  {eta}".rstrip()

    def _draw(self, now: float) -> None:
        try:
            self._stream.write("\r\x1b[K" + self.line(now))
            self._stream.flush()
            self._visible = True
        except (OSError, ValueError):
            self._live = False

    def close(self) -> None:
        """Clear the bar's line (the caller prints the lasting one-line report)."""
        if self._visible:
            try:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
            except (OSError, ValueError):
                pass
            self._visible = False
