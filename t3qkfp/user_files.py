"""Reading files a user names: only regular files, never more than a limit.

Owns: the one way t3qkfp reads a pipeline, a config file or a node's files. Why not
Path.read_bytes(): a FIFO blocks open() and read() until a writer comes, a socket raises an
OSError nobody expects, and /dev/zero never ends; a size check by stat() says nothing about the
last two. Opening with O_NONBLOCK and checking fstat() before reading refuses all of them at
once, and reading at most limit+1 bytes enforces the limit on what is actually read.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """The path names a FIFO, socket, device or folder, which t3qkfp never reads."""


class TooLarge(OSError):
    """The file holds more than the limit the caller set."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words for a message."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def regular_file_problem(path: str | os.PathLike[str]) -> str:
    """'' when `path` (links followed) is a regular file, else what it is (for a message)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""  # missing or unreadable: the caller's own checks say so
    return "" if stat.S_ISREG(mode) else kind_of(mode)


def read_regular(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of a regular file, refusing anything else and anything over `limit` bytes.

    Raises NotRegularFile, TooLarge, or the OSError open() gives (FileNotFoundError, ...).
    """
    fd = os.open(Path(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{kind_of(mode)}, not a regular file")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if limit is not None and size > limit:
                raise TooLarge(f"larger than {limit} bytes")
            chunks.append(chunk)
    finally:
        os.close(fd)
