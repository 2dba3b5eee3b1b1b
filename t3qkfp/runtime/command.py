"""The container command (the same constant for every node, holding no user data) and the node
runtime helper object it downloads.

Why a `python3 -c` loader and not a shell script: an image needs only python3, no value or
file name ever passes through a shell, and the loader stays testable as a real file
(runtime/loader.py). Its text is repeated in every container of the YAML (the largest part of
a node's YAML), so the module docstring and full-line comments are stripped and the rest is
deflated and base64-encoded behind a one-line `exec` (2.2 KB -> 1.7 KB per node); the base64
alphabet holds nothing Argo (double braces) or the kubelet (dollar-parenthesis) would rewrite.
Why a stored blob (runtime/loader.deflate.b64): deflate's bytes depend on the zlib build
(zlib-ng packs differently), and compiled YAML must be byte-identical on every machine; the
blob is used while it matches loader.py (its first line is the text's sha256), and
T3QKFP_REGENERATE=1 test runs rewrite it after loader.py changes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import zlib
from functools import lru_cache
from pathlib import Path

LOADER_SOURCE = Path(__file__).with_name("loader.py")
LOADER_BLOB = Path(__file__).with_name("loader.deflate.b64")
RUNTIME_SOURCE = Path(__file__).with_name("node_runtime.py")


@lru_cache(maxsize=1)
def runtime_helper() -> tuple[bytes, str]:
    """The node runtime helper's bytes and their sha256, which names its object in the bucket.

    One object per helper version (nodespec.runtime_key), uploaded beside the node archives: a
    compile hashes it once instead of packing and gzipping it into every node archive.
    """
    data = RUNTIME_SOURCE.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


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


def deflate(text: str) -> str:
    """Raw deflate (level 9) of the text in base64: what the command's one-liner inflates."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = packer.compress(text.encode("utf-8")) + packer.flush()
    return base64.b64encode(data).decode("ascii")


def blob_text(text: str) -> str:
    """The content of loader.deflate.b64 for a loader text: its sha256, then the deflated text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() + "\n" + deflate(text) + "\n"


@lru_cache(maxsize=1)
def packed_loader() -> str:
    """The stored blob while it matches loader.py, else the loader deflated by this zlib."""
    text = loader_text()
    try:
        digest, packed = LOADER_BLOB.read_text(encoding="ascii").split()
    except (OSError, ValueError):
        return deflate(text)
    if digest != hashlib.sha256(text.encode("utf-8")).hexdigest():
        return deflate(text)
    return packed


def container_command() -> list[str]:
    """argv of every node's main container: python3 inflating and running the constant loader.

    It is written once per workflow, in spec.podSpecPatch (pod_spec_patch), not in every
    template: Argo merges that patch into every pod it creates (Argo 2.4+; KFP 1.2 ships 2.7.5).
    """
    return ["python3", "-c", "import base64,zlib;exec(zlib.decompress(base64.b64decode('%s'),-15))"
            % packed_loader()]


# What each template's container holds instead: never runs where Argo applies the patch (which
# replaces the whole command), and fails the node saying why where it does not.
PLACEHOLDER_COMMAND = ("python3", "-c", 'raise SystemExit("t3qkfp: this Argo ignored spec.podSpecPatch, which runs '
                       'the node; Argo 2.4 or later applies it")')


def placeholder_command() -> list[str]:
    """argv every template's container carries; spec.podSpecPatch replaces it in the pod."""
    return list(PLACEHOLDER_COMMAND)


@lru_cache(maxsize=1)
def pod_spec_patch() -> str:
    """The workflow-level spec.podSpecPatch: the main container's command is the loader.

    JSON, so Argo reads it without YAML conversion; one copy per workflow instead of one per
    node (the loader was half of every node's bytes). Argo applies it as a strategic merge
    patch to every pod, before wrapping the command for its emissary executor (Argo 3.x).
    """
    return json.dumps({"containers": [{"name": "main", "command": container_command()}]},
                      separators=(",", ":"))
