"""Lets Elyra 2.x's modules import beside t3qkfp's minio 7, without importing Elyra or minio early.

Owns: one import-time workaround, installed at interpreter start by the `.pth` file that
scripts/setup-elyra-env.sh writes. Must not: import Elyra, import minio before someone else
does, or change anything minio 7 already defines.

Why: Elyra 2.2.4 pins `minio<7` only because `elyra/util/cos.py` (imported by every Elyra
pipeline module, through `elyra/pipeline/processor.py`) does
`from minio.error import ResponseError, BucketAlreadyOwnedByYou, BucketAlreadyExists`;
minio 7 removed those three names (it raises `S3Error` carrying the code instead), while
t3qkfp's storage needs minio 7. The calls Elyra's CosClient makes (`Minio(endpoint=...,
access_key=..., secret_key=..., secure=...)`, `bucket_exists`, `make_bucket`, `fput_object`)
still exist in minio 7 with the same keywords, so supplying the names is enough:
`ResponseError` is `S3Error` (both mean "the server answered with an error") and the two bucket
names are `S3Error` subclasses that minio 7 never raises (their `except` clauses in Elyra then
simply never match, and `except ResponseError` handles those codes, as it did for other codes).

The names are added when `minio.error` is first imported, by a meta path finder, so a Python
started in the venv pays nothing unless it uses minio.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Sequence

TARGET = "minio.error"
LEGACY_NAMES = ("ResponseError", "BucketAlreadyOwnedByYou", "BucketAlreadyExists")


def add_legacy_names(module: ModuleType) -> None:
    """Give a loaded minio 7 `minio.error` the three names minio 6 had; never replace a name."""
    s3_error = getattr(module, "S3Error", None)
    if s3_error is None:  # minio < 7 has the names already
        return
    if not hasattr(module, "ResponseError"):
        module.ResponseError = s3_error  # type: ignore[attr-defined]
    for name in LEGACY_NAMES[1:]:
        if not hasattr(module, name):
            doc = f"minio 6's {name}; minio 7 raises S3Error(code={name!r}) instead, never this class."
            setattr(module, name, type(name, (s3_error,), {"__doc__": doc, "__module__": TARGET}))


class _Loader(importlib.abc.Loader):
    """Runs minio's own loader, then adds the names."""

    def __init__(self, wrapped: importlib.abc.Loader):
        self._wrapped = wrapped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)  # type: ignore[attr-defined]
        add_legacy_names(module)


class MinioLegacyNames(importlib.abc.MetaPathFinder):
    """Finds `minio.error` through the other finders and wraps its loader; ignores every other name."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def install() -> None:
    """Install the finder once (idempotent); patch `minio.error` now if it is already imported."""
    loaded = sys.modules.get(TARGET)
    if loaded is not None:
        add_legacy_names(loaded)
    if not any(isinstance(f, MinioLegacyNames) for f in sys.meta_path):
        sys.meta_path.insert(0, MinioLegacyNames())

