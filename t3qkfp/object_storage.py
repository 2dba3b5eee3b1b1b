"""Node archives on S3-compatible object storage: credentials, the minio client, uploads, downloads.

Owns: putting already built archives into the bucket and copying run results out of it, with
one clear StorageError per cause, and the list of objects a compiled workflow reads. Separate
from node_files.py (which files, which bytes) and storage_settings.py (where) because only
uploading and running talk to a bucket; compiling never does. Must not: load or compile a
pipeline; callers pass archives (archive_upload.py builds them for `t3qkfp.upload`).

Object layout under `<prefix>/` (the node runtime reads the same layout):
  archives/<sha256>.tar.gz              a node's files (content-addressed)
  runtime/<sha256>.py                   the node runtime helper the loader runs (one per version)
  runs/<run id>/<task>/manifest.json    the outputs a node uploaded
  runs/<run id>/<task>/outputs/<path>   those outputs
  runs/<run id>/<task>/<executed notebook or script log>
"""
from __future__ import annotations

import io
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TextIO
from urllib.parse import urlsplit

from . import nodespec
from .errors import FOREIGN_TEXT, StorageError, bounded, shown
from .model import Node
from .node_files import Archive
from .progress import Bar, duration, size
from .runtime.command import runtime_helper
from .storage_settings import StorageConfig


# --- uploading (never called by compile) -------------------------------------------------------

ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                     "InvalidSecurity", "ExpiredToken", "InvalidToken"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Object storage keys of the machine that uploads; never written into a workflow."""

    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        # Redacted: a repr ends up in logs and tracebacks (reliability.md §5.3 rule 4).
        return f"Credentials(access_key={self.access_key[:4]}…, secret_key=<{len(self.secret_key)} chars>)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Credentials":
        """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or a StorageError saying which is missing."""
        env = os.environ if env is None else env
        missing = [v for v in (ACCESS_KEY_ENV, SECRET_KEY_ENV) if not env.get(v)]
        if missing:
            raise StorageError(f"{' and '.join(missing)} not set: set the object storage keys of the "
                               "bucket in these env vars (or pass them as arguments) to upload")
        return cls(access_key=env[ACCESS_KEY_ENV], secret_key=env[SECRET_KEY_ENV])


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadResult:
    """One node archive: where it went and whether this call wrote it (False: already there)."""

    node_id: str
    label: str
    key: str
    size: int
    uploaded: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedObject:
    """An object a compiled workflow reads: for users who copy files by other means."""

    endpoint: str
    bucket: str
    key: str
    sha256: str
    tasks: tuple[str, ...]

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}  sha256={self.sha256}  nodes={','.join(self.tasks)}"


def make_client(config: StorageConfig, credentials: Credentials) -> Any:
    """A minio client with short connect timeouts and few retries.

    minio's default pool retries five times with back-off, which turns an unreachable endpoint
    into a long silent wait; two quick retries still ride over a transient blip.
    """
    import minio
    import urllib3

    url = urlsplit(config.endpoint)
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=120),
        retries=urllib3.Retry(total=2, connect=1, backoff_factor=0.2,
                              status_forcelist=[500, 502, 503, 504]))
    return minio.Minio(url.netloc + url.path.rstrip("/"), access_key=credentials.access_key,
                       secret_key=credentials.secret_key, secure=url.scheme == "https",
                       region=config.region, http_client=http)


def storage_error(exc: Exception, config: StorageConfig, action: str) -> StorageError:
    """One clear message per cause: credentials, missing bucket, unreachable endpoint, other."""
    from minio.error import InvalidResponseError, S3Error

    where = f"{config.endpoint} (bucket {config.bucket!r})"
    if isinstance(exc, InvalidResponseError):  # its message carries the whole HTML page
        status = getattr(exc, "_code", "?")
        content_type = getattr(exc, "_content_type", None) or "no content type"
        return StorageError(f"{action}: {config.endpoint} does not answer as S3-compatible object storage "
                            f"(HTTP {status}, {content_type}); check the endpoint URL (MinIO's API port, "
                            "not its console)")
    if isinstance(exc, S3Error):
        if exc.code in _CREDENTIAL_CODES or exc.response.status == 403:
            return StorageError(f"{action}: object storage at {where} refused the credentials "
                                f"({exc.code}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
        if exc.code == "NoSuchBucket":
            return StorageError(f"{action}: bucket {config.bucket!r} does not exist at {config.endpoint}; "
                                "create it, or pass --create-bucket / create_bucket=True")
        return StorageError(f"{action}: object storage at {where} answered {bounded(str(exc.code), 80)}: "
                            f"{bounded(str(exc.message), FOREIGN_TEXT)}")
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc)
    text = re.sub(r"^<[^>]*>: ", "", text)  # urllib3 1.x prefixes the connection object's repr
    return StorageError(f"{action}: cannot reach the object storage endpoint {config.endpoint}: "
                        f"{bounded(text, FOREIGN_TEXT)}")


def storage_call(config: StorageConfig, action: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one minio call, turning every failure into a StorageError (minio has no common base)."""
    from minio.error import MinioException
    import urllib3

    try:
        return func(*args, **kwargs)
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise storage_error(exc, config, action) from None


def ensure_bucket(client: Any, config: StorageConfig, *, create: bool = False) -> None:
    """Check the bucket exists (and that the keys work); create it only when asked."""
    exists = storage_call(config, "checking the bucket", client.bucket_exists, config.bucket)
    if exists:
        return
    if not create:
        raise StorageError(f"bucket {config.bucket!r} does not exist at {config.endpoint}; create it, "
                           "or pass --create-bucket (API: create_bucket=True)")
    storage_call(config, "creating the bucket", client.make_bucket, config.bucket)


def put_archives(archives: list[tuple[Node, Archive]], *, config: StorageConfig,
                 credentials: Credentials, create_bucket: bool = False,
                 progress: TextIO | None = None) -> list[UploadResult]:
    """Upload already built archives (e.g. those of a compilation) and the node runtime helper
    they run with, skipping existing keys; the results list the archives.

    Every uploader (`t3qkfp upload`, run --local, submit, sweeps, the Elyra adapter) comes here,
    so none can leave the helper out: the workflow's loader downloads it first.
    """
    out = progress if progress is not None else sys.stderr
    client = make_client(config, credentials)
    ensure_bucket(client, config, create=create_bucket)
    helper, helper_sha256 = runtime_helper()
    key = nodespec.runtime_key(config.prefix, helper_sha256)
    exists, took = _put_object(client, config, key, helper, "uploading the node runtime helper",
                               "uploading the node runtime helper", "text/x-python")
    where = f"s3://{config.bucket}/{key}"
    print(f"t3qkfp: node runtime helper {'already there' if exists else 'uploaded'} ({where}, "
          f"{size(len(helper))}{took})", file=out, flush=True)
    results: list[UploadResult] = []
    for index, (node, archive) in enumerate(archives, 1):
        key = archive.key(config)
        exists, took = _put_object(client, config, key, archive.data, f"uploading the archive of node {node.label!r}",
                                   f"[{index}/{len(archives)}] uploading {node.label!r}", "application/gzip")
        state = "already there" if exists else "uploaded"
        print(f"t3qkfp: [{index}/{len(archives)}] {state}: s3://{config.bucket}/{key} "
              f"(node {node.label!r}, {size(len(archive.data))}{took})", file=out, flush=True)
        results.append(UploadResult(node_id=node.id, label=node.label, key=key,
                                    size=len(archive.data), uploaded=not exists))
    return results


def _put_object(client: Any, config: StorageConfig, key: str, data: bytes, action: str, bar_label: str,
                content_type: str) -> tuple[bool, str]:
    """Put one content-addressed object unless its key exists: (it existed, ' in 2 s, ...' or '')."""
    import urllib3
    from minio.error import MinioException, S3Error

    try:
        client.stat_object(config.bucket, key)
        return True, ""
    except S3Error as exc:
        if exc.code not in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
            raise storage_error(exc, config, action) from None
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise storage_error(exc, config, action) from None
    bar = Bar(bar_label, len(data))
    started = time.monotonic()
    try:
        storage_call(config, action, client.put_object, config.bucket, key, io.BytesIO(data), len(data),
                     content_type=content_type, progress=bar)
    finally:
        bar.close()
    seconds = time.monotonic() - started
    return False, (f" in {duration(seconds)}, {size(len(data) / seconds)}/s" if seconds >= 1 else "")


def download_prefix(config: StorageConfig, credentials: Credentials, key_prefix: str,
                    dest: str | os.PathLike[str]) -> list[Path]:
    """Copy every object under `key_prefix` into `dest` (same relative paths); for run results.

    Every name a file system here can hold is copied as it is (a backslash is a plain character
    on POSIX). A key that would leave `dest` (absolute, `..`), or one no file here can be named,
    is not copied: after copying the rest, StorageError names each with its node (the first
    part of the key), so nothing is dropped silently. The bucket is not trusted more than an archive.
    """
    client = make_client(config, credentials)
    dest_path = Path(dest)
    written: list[Path] = []
    refused: list[str] = []
    prefix = key_prefix.rstrip("/") + "/"
    objects = storage_call(config, "listing run results",
                            lambda: list(client.list_objects(config.bucket, prefix=prefix, recursive=True)))
    for obj in objects:
        rel = obj.object_name[len(prefix):]
        why = result_name_problem(rel)
        if why:
            node, _, file = rel.partition("/")
            refused.append(f"node {shown(node)}: file {shown(file or rel)} {why}")
            continue
        target = dest_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        bar = Bar(f"downloading {rel}", obj.size or 0)
        try:
            storage_call(config, f"downloading {obj.object_name}", client.fget_object,
                          config.bucket, obj.object_name, str(target), progress=bar)
        finally:
            bar.close()
        written.append(target)
    if refused:
        raise StorageError(f"{len(refused)} result file(s) of {prefix} were not copied to {dest_path}:\n"
                           + "\n".join(refused[:20]) + ("\n..." if len(refused) > 20 else ""))
    return written


def result_name_problem(rel: str) -> str:
    """Why a run-result key (relative to the run) cannot be a file under the results folder, or ''."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return "has a key that leaves the results folder or has an empty part"
    if "\x00" in rel:
        return "has U+0000 in its name, which no file name can hold"
    if os.sep != "/" and ("\\" in rel or (os.altsep and os.altsep in rel) or ":" in rel):
        return "has a name this system's files cannot hold"
    return ""


def expected_objects(workflow: Mapping[str, Any]) -> list[ExpectedObject]:
    """The objects a compiled workflow reads (node archives and the node runtime helper), from
    the T3QKFP_NODE env of its containers.

    Works on any compiled YAML (read back with yaml.safe_load), so `t3qkfp compile
    --list-objects` and users copying files by hand see exactly what the pods will ask for.
    """
    found: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
    for template in workflow.get("spec", {}).get("templates", []):
        for env in (template.get("container") or {}).get("env", []) or []:
            if env.get("name") != nodespec.NODE_ENV or "value" not in env:
                continue
            spec = nodespec.decode(env["value"])
            for key, sha256 in ((spec.archive_key, spec.archive_sha256), (spec.runtime_key, spec.runtime_sha256)):
                entry = found.setdefault((spec.endpoint, spec.bucket, key), (sha256, []))
                entry[1].append(spec.task)
    return [ExpectedObject(endpoint=e, bucket=b, key=k, sha256=sha, tasks=tuple(sorted(tasks)))
            for (e, b, k), (sha, tasks) in sorted(found.items())]
