"""The container command: the same constant for every node, holding no user data.

PLACEHOLDER written by the compiler author so kfp_build can import it; the node-runtime work
replaces the loader with the real one (see t3qkfp/runtime/loader.py).
"""
from __future__ import annotations


def container_command() -> list[str]:
    """argv of every node's container: python3 running the constant loader."""
    return ["python3", "-c", "raise SystemExit('t3qkfp node runtime not built yet')"]
