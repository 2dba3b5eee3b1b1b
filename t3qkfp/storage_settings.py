"""Where node archives and run results live: endpoint, bucket, prefix, the pods' Kubernetes secret.

Owns: StorageConfig (arguments > T3QKFP_S3_* env vars > t3qkfp.toml > defaults) and the checks
that refuse settings a pod or an S3 client could not use. Separate from object_storage.py
because compiling needs the settings (they go into every node spec and archive key) but never
talks to a bucket; this module does no I/O but reading its config file, so every floor from the
archive builder up may use it.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from . import nodespec
from .errors import UsageError
from .secrecy import refuse_userinfo
from .user_files import read_regular

# (kubeflow/pipelines@1.2.0 manifests/kustomize/base/argo/workflow-controller-configmap.yaml).
DEFAULT_ENDPOINT = "http://minio-service.kubeflow:9000"
DEFAULT_BUCKET = "mlpipeline"
DEFAULT_PREFIX = "t3qkfp"
DEFAULT_SECRET = "mlpipeline-minio-artifact"
DEFAULT_ACCESS_KEY_KEY = "accesskey"
DEFAULT_SECRET_KEY_KEY = "secretkey"
DEFAULT_REGION = "us-east-1"
CONFIG_FILE_NAME = "t3qkfp.toml"
# S3 bucket naming rules (AWS "Bucket naming rules"; MinIO enforces the same).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageConfig:
    """Where node archives and outputs live, and the Kubernetes secret pods read credentials from.

    Credentials themselves are never part of this object: the uploading machine reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, pods read the secret.
    """

    endpoint: str = DEFAULT_ENDPOINT
    bucket: str = DEFAULT_BUCKET
    prefix: str = DEFAULT_PREFIX
    secret: str = DEFAULT_SECRET
    access_key_key: str = DEFAULT_ACCESS_KEY_KEY
    secret_key_key: str = DEFAULT_SECRET_KEY_KEY
    region: str = DEFAULT_REGION

    def __post_init__(self) -> None:
        self.check()  # so no StorageConfig a pod or minio could not use ever exists

    @classmethod
    def resolve(cls, *, endpoint: str | None = None, bucket: str | None = None,
                prefix: str | None = None, secret: str | None = None,
                config_file: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> "StorageConfig":
        """Arguments win over env vars (T3QKFP_S3_*), env vars over the config file, the file over defaults.

        The config file is `config_file`, else $T3QKFP_CONFIG, else ./t3qkfp.toml if present; its
        `[storage]` table may set endpoint, bucket, prefix, secret, access_key_key,
        secret_key_key and region.
        """
        env = os.environ if env is None else env
        values: dict[str, str] = {}
        path = config_file or env.get("T3QKFP_CONFIG") or (
            CONFIG_FILE_NAME if Path(CONFIG_FILE_NAME).is_file() else None)
        if path:
            values.update(_read_config_file(Path(path)))
        for key, var in (("endpoint", "T3QKFP_S3_ENDPOINT"), ("bucket", "T3QKFP_S3_BUCKET"),
                         ("prefix", "T3QKFP_S3_PREFIX"), ("secret", "T3QKFP_S3_SECRET"),
                         ("region", "T3QKFP_S3_REGION")):
            if env.get(var):
                values[key] = env[var]
        for key, arg in (("endpoint", endpoint), ("bucket", bucket), ("prefix", prefix),
                         ("secret", secret)):
            if arg:
                values[key] = arg
        return cls(**values)  # checked in __post_init__

    def check(self) -> None:
        """Refuse settings the pods could not use, before anything is compiled or uploaded."""
        for field_name in ("endpoint", "bucket", "prefix", "secret", "access_key_key", "secret_key_key", "region"):
            value = getattr(self, field_name)
            if not isinstance(value, str):
                raise UsageError(f"object storage setting {field_name} must be text, not {type(value).__name__}")
        # First: every later message quotes the endpoint, and the endpoint goes into every node spec.
        refuse_userinfo(self.endpoint, "object storage endpoint",
                        "this machine uploads with $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY, pods read "
                        "the Kubernetes secret named by --secret ($T3QKFP_S3_SECRET)")
        if not self.endpoint.startswith(("http://", "https://")):
            raise UsageError(f"object storage endpoint {self.endpoint!r} must start with http:// or https://")
        try:
            url = urlsplit(self.endpoint)
            url.port  # noqa: B018 -- raises ValueError for a port that is not a number
        except ValueError as exc:
            raise UsageError(f"object storage endpoint {self.endpoint!r} is not a valid URL: {exc}") from None
        if not url.netloc or url.path.strip("/") or url.query or url.fragment:
            raise UsageError(f"object storage endpoint {self.endpoint!r} must be scheme://host[:port] only: "
                             "S3 clients cannot upload to an endpoint with a path; use the S3 API's own host and port")
        if not _BUCKET.fullmatch(self.bucket) or ".." in self.bucket:
            raise UsageError(f"object storage bucket {self.bucket!r} is not a valid bucket name "
                             "(3 to 63 lower-case letters, digits, '.' and '-')")
        if self.prefix.startswith("/") or ".." in self.prefix.split("/"):
            raise UsageError(f"object storage prefix {self.prefix!r} must be relative and without '..'")
        for name in (self.endpoint, self.bucket, self.prefix, self.secret):
            if "{{" in name or "}}" in name:
                raise UsageError(f"object storage setting {name!r} contains '{{{{' or '}}}}'")

    def key(self, *parts: str) -> str:
        """An object key under the configured prefix (the layout the node runtime reads too)."""
        return nodespec.object_key(self.prefix, *parts)


MAX_CONFIG_BYTES = 1 << 20  # a storage config is a few lines; /dev/zero is not one


def _read_config_file(path: Path) -> dict[str, str]:
    allowed = {"endpoint", "bucket", "prefix", "secret", "access_key_key", "secret_key_key", "region"}
    try:
        data = tomllib.loads(read_regular(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read config file: {exc}") from None
    table = data.get("storage", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [storage] must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(f"{path}: unknown [storage] keys {unknown}; allowed: {sorted(allowed)}")
    bad = [k for k, v in table.items() if not isinstance(v, str)]
    if bad:
        raise UsageError(f"{path}: [storage] values must be strings: {bad}")
    return dict(table)

