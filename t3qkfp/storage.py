"""Node files on S3-compatible object storage: configuration, content-addressed archives, uploads.

Owns: where node archives live (endpoint / bucket / prefix / Kubernetes secret), which files a
node's archive holds, building that archive byte-for-byte reproducibly, and (for `upload`,
`submit` and the local runner) putting it into the bucket with the `minio` client.
Must not: be called by `compile()` for anything but reading local files; compiling never uploads.

Object layout under `<prefix>/` (the node runtime reads the same layout):
  archives/<sha256>.tar.gz              a node's files + the node runtime helper (content-addressed)
  runs/<run id>/<task>/manifest.json    the outputs a node uploaded
  runs/<run id>/<task>/outputs/<path>   those outputs
  runs/<run id>/<task>/<executed notebook or script log>
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import Location, Problem, UsageError
from .model import Node, Pipeline

# The MinIO that Kubeflow Pipelines installs: service, bucket and the secret its pods use
# (kubeflow/pipelines@1.2.0 manifests/kustomize/base/argo/workflow-controller-configmap.yaml).
DEFAULT_ENDPOINT = "http://minio-service.kubeflow:9000"
DEFAULT_BUCKET = "mlpipeline"
DEFAULT_PREFIX = "t3qkfp"
DEFAULT_SECRET = "mlpipeline-minio-artifact"
DEFAULT_ACCESS_KEY_KEY = "accesskey"
DEFAULT_SECRET_KEY_KEY = "secretkey"
DEFAULT_REGION = "us-east-1"
CONFIG_FILE_NAME = "t3qkfp.toml"

# The archive member that carries the node runtime helper; user files may not live under it.
RUNTIME_MEMBER = ".t3qkfp/node_runtime.py"
RUNTIME_SOURCE = Path(__file__).parent / "runtime" / "node_runtime.py"


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
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Refuse settings the pods could not use, before anything is compiled or uploaded."""
        if not self.endpoint.startswith(("http://", "https://")):
            raise UsageError(f"object storage endpoint {self.endpoint!r} must start with http:// or https://")
        if not self.bucket or "/" in self.bucket:
            raise UsageError(f"object storage bucket {self.bucket!r} must be a bucket name without '/'")
        if self.prefix.startswith("/") or ".." in self.prefix.split("/"):
            raise UsageError(f"object storage prefix {self.prefix!r} must be relative and without '..'")
        for name in (self.endpoint, self.bucket, self.prefix, self.secret):
            if "{{" in name or "}}" in name:
                raise UsageError(f"object storage setting {name!r} contains '{{{{' or '}}}}'")

    def key(self, *parts: str) -> str:
        """An object key under the configured prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


def _read_config_file(path: Path) -> dict[str, str]:
    allowed = {"endpoint", "bucket", "prefix", "secret", "access_key_key", "secret_key_key", "region"}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Archive:
    """A node's files packed as tar.gz; the same files always give the same bytes and key."""

    node_id: str
    members: tuple[str, ...]
    data: bytes
    sha256: str

    def key(self, config: StorageConfig) -> str:
        """The object key: content-addressed, so an unchanged node uploads nothing new."""
        return config.key("archives", f"{self.sha256}.tar.gz")


def node_files(pipeline: Pipeline, node: Node) -> tuple[tuple[str, ...], list[Problem]]:
    """The files a node's archive holds (paths relative to the pipeline folder), and what is wrong.

    The node's file plus its `dependencies`: globs relative to the file's folder, as in Elyra;
    a folder brings its files, and its subfolders only with `include_subdirectories`. Anything
    that resolves outside the pipeline folder (`..`, absolute paths, symlinks leading out) is a
    problem, so a link to ~/.aws/credentials can never be packed.
    """
    root = pipeline.base_dir.resolve()
    problems: list[Problem] = []

    def loc(field: str) -> Location:
        return Location(file=pipeline.source, node_id=node.id, node_label=node.label, field=field)

    found: set[str] = set()
    file_rel = _contained(root, root / node.filename)
    if not _plain_relative(node.filename) or file_rel is None:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {node.filename!r} is outside the pipeline folder",
                                hint="use a path relative to the .pipeline file, without '..'"))
        return (), problems
    if not (root / node.filename).is_file():
        problems.append(Problem(location=loc("filename"),
                                message=f"file {node.filename!r} does not exist",
                                hint=f"looked in {root}"))
    else:
        found.add(file_rel)
    node_dir = (root / node.filename).parent
    for index, pattern in enumerate(node.dependencies):
        field = f"dependencies[{index}]"
        if not _plain_relative(pattern):
            problems.append(Problem(location=loc(field),
                                    message=f"dependency {pattern!r} is absolute or leaves the pipeline folder with '..'",
                                    hint="use a path relative to the node's file"))
            continue
        matches = sorted(glob.glob(str(node_dir / pattern), recursive=node.include_subdirectories))
        if not matches:
            problems.append(Problem(location=loc(field),
                                    message=f"dependency {pattern!r} matches no file",
                                    hint=f"paths are relative to {node_dir}"))
            continue
        for match in matches:
            for path in _expand(Path(match), node.include_subdirectories):
                rel = _contained(root, path)
                if rel is None:
                    problems.append(Problem(location=loc(field),
                                            message=f"dependency {pattern!r} includes {str(path)!r}, which leads outside the pipeline folder",
                                            hint="copy the file into the pipeline folder instead of linking to it"))
                elif rel == RUNTIME_MEMBER or rel.startswith(".t3qkfp/"):
                    problems.append(Problem(location=loc(field),
                                            message=f"dependency {rel!r} is inside .t3qkfp/, which t3qkfp reserves"))
                else:
                    found.add(rel)
    return tuple(sorted(found)), problems


def _plain_relative(path: str) -> bool:
    p = Path(path)
    return bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path \
        and "\x00" not in path and not path.startswith("~")


def _contained(root: Path, path: Path) -> str | None:
    """`path` relative to `root` after resolving symlinks, or None if it leads outside."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None


def _expand(path: Path, recursive: bool) -> list[Path]:
    if path.is_dir() and not path.is_symlink():
        entries = path.rglob("*") if recursive else path.glob("*")
        return sorted(p for p in entries if p.is_file() or p.is_symlink())
    return [path]


def build_archive(pipeline: Pipeline, node: Node, members: tuple[str, ...]) -> Archive:
    """Pack `members` (from node_files) and the runtime helper into reproducible tar.gz bytes.

    Sorted members, zero mtimes and owners, a gzip header without time or name: the same files
    always give the same sha256, which is the object key.
    """
    root = pipeline.base_dir.resolve()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            entries = [(m, (root / m).resolve().read_bytes(), os.access(root / m, os.X_OK))
                       for m in members]
            entries.append((RUNTIME_MEMBER, RUNTIME_SOURCE.read_bytes(), False))
            for name, data, executable in sorted(entries):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if executable else 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    return Archive(node_id=node.id, members=members, data=data,
                   sha256=hashlib.sha256(data).hexdigest())
