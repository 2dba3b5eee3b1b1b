"""The container command: the same constant for every node, holding no user data.

Why a `python3 -c` loader and not a shell script: an image needs only python3, no value or
file name ever passes through a shell, and the loader stays testable as a real file
(runtime/loader.py). Its text is repeated in every container of the YAML, so the module
docstring and full-line comments are stripped here; the result is checked to hold nothing
Argo (double braces) or the kubelet (dollar-parenthesis) would rewrite.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

LOADER_SOURCE = Path(__file__).with_name("loader.py")


@lru_cache(maxsize=1)
def loader_text() -> str:
    """loader.py without its module docstring, comment lines and blank lines.

    A plain line filter (not ast.unparse) so the text is identical on every Python version,
    which keeps compiled YAML byte-for-byte stable.
    """
    lines = LOADER_SOURCE.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith('"""'):
        end = next(i for i, line in enumerate(lines) if i > 0 and line.rstrip().endswith('"""'))
        lines = lines[end + 1:]
    kept = [line.rstrip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    text = "\n".join(kept) + "\n"
    for forbidden in ("{{", "}}", "$("):
        if forbidden in text:
            raise AssertionError(f"runtime/loader.py contains {forbidden!r}, which Argo or the kubelet would rewrite")
    return text


def container_command() -> list[str]:
    """argv of every node's container: python3 running the constant loader."""
    return ["python3", "-c", loader_text()]
