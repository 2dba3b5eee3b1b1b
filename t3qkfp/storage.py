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

import errno
import fnmatch
import glob
import gzip
import hashlib
import io
import os
import posixpath
import re
import sys
import tarfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, TextIO
from urllib.parse import urlsplit

from .errors import FOREIGN_TEXT, Location, PipelineError, Problem, StorageError, UsageError, bounded, shown
from .model import Node, Pipeline
from .progress import Bar, duration, size
from .user_files import read_regular, regular_file_problem
from .secrecy import refuse_userinfo

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
# S3 bucket naming rules (AWS "Bucket naming rules"; MinIO enforces the same).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

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
        """An object key under the configured prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


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


def archive_top(pipeline: Pipeline, node: Node) -> Path:
    """The folder a node's archive is packed from: the pipeline's folder, or for a file outside it
    (`../scripts/setup.py`, inside the workspace root) the file's own folder.

    Elyra 2.x packs every node from its file's folder (elyra v2.2.4 util/archive.py) and the pod
    runs the file from there; t3qkfp keeps the pipeline folder for files inside it (their archive
    and sha256 stay what they were) and the pod still runs each file from its own folder
    (node_runtime.py), so either top gives the user's code the same view of its files.
    """
    if _leaves(node.filename):
        return (pipeline.base_dir / node.filename).parent
    return pipeline.base_dir


def archive_file(node: Node) -> str:
    """The node's file as the archive (and the pod) names it, relative to archive_top."""
    return PurePosixPath(node.filename).name if _leaves(node.filename) else node.filename


def _leaves(filename: str) -> bool:
    """True when the file name starts with '..' (a file beside the pipeline's folder)."""
    return posixpath.normpath(filename).split("/", 1)[0] == ".."


_FOLDER = "the pipeline folder"


def node_files(pipeline: Pipeline, node: Node) -> tuple[tuple[str, ...], list[Problem]]:
    """The files a node's archive holds (paths relative to archive_top), and what is wrong.

    The node's file plus its `dependencies`: patterns relative to the file's folder, matched as
    Elyra matches them (see _dependency_paths);
    a folder brings its files, and its subfolders only with `include_subdirectories`. Anything
    that resolves outside the workspace root (`..` beyond it, absolute paths, symlinks leading
    out) is a problem, so a link to ~/.aws/credentials can never be packed. The node's file may
    start with '..' (Elyra's editor writes that for a sibling folder's file); its dependencies
    may not, as Elyra packs only the file's own folder.
    """
    base = pipeline.base_dir
    workspace = pipeline.root.resolve()
    top = archive_top(pipeline, node)
    top_real = top.resolve()
    problems: list[Problem] = []
    where = _FOLDER if workspace == base.resolve() else f"the workspace root {shown(str(pipeline.root))}"

    def loc(field: str) -> Location:
        return Location(file=pipeline.source, node_id=node.id, node_label=node.label, field=field)

    def member(path: Path) -> str | None:
        """`path`'s archive name, or None when it resolves outside the workspace root."""
        if _contained(workspace, path) is None:
            return None
        return _contained(top_real, path) or os.path.relpath(path, top).replace(os.sep, "/")

    found: set[str] = set()
    if "\x00" in node.filename:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} holds U+0000, which no file name can",
                                hint="rename the file in Elyra"))
        return (), problems
    file_rel = member(base / node.filename)
    if not _plain_relative(node.filename, leading_up=True) or file_rel is None:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} is outside {where}",
                                hint="use a path relative to the .pipeline file, without '..'" if where == _FOLDER
                                else "use a path relative to the .pipeline file that stays inside the root"))
        return (), problems
    root = base
    odd = regular_file_problem(root / node.filename)
    if odd:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} is {odd}, not a regular file",
                                hint="a node's file must be a regular file"))
    elif not os.path.isfile(root / node.filename):  # os.path: an over-long name is just "missing"
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} does not exist",
                                hint="file names are relative to the .pipeline file's folder"))
    else:
        found.add(file_rel)
    node_dir = (root / node.filename).parent
    for index, pattern in enumerate(node.dependencies):
        field = f"dependencies[{index}]"
        if not _plain_relative(pattern):
            problems.append(Problem(location=loc(field),
                                    message=f"dependency {shown(pattern)} is absolute or leaves the pipeline folder with '..'",
                                    hint="use a path relative to the node's file"))
            continue
        paths = _dependency_paths(node_dir, pattern, node.include_subdirectories)
        if not paths:
            problems.append(Problem(location=loc(field),
                                    message=f"dependency {shown(pattern)} matches no file",
                                    hint=f"paths are relative to the folder of {shown(node.filename)}"))
            continue
        for path in paths:
            rel = member(path)
            shown_path = os.path.relpath(path, root)
            broken = _broken_link(path)
            if broken and (rel is not None or not path.exists()):  # a dangling or looping link
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {shown(pattern)} includes {shown(shown_path)}, {broken}",
                                        hint="remove the link, or copy the file into the pipeline folder"))
            elif rel is None:
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {shown(pattern)} includes {shown(shown_path)}, a link that leads outside {where}",
                                        hint="copy the file into the pipeline folder instead of linking to it"))
            elif rel == RUNTIME_MEMBER or rel.startswith(".t3qkfp/"):
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {rel!r} is inside .t3qkfp/, which t3qkfp reserves"))
            elif odd := regular_file_problem(path):
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {shown(pattern)} includes {shown(shown_path)}, which is {odd}",
                                        hint="only regular files can be packed; remove it or narrow the pattern"))
            else:
                found.add(rel)
    return tuple(sorted(found)), problems


def _broken_link(path: Path) -> str:
    """Why a symlink cannot be packed ('' when it can): it points nowhere, loops, or to a folder."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "a link to something that does not exist"
    except RuntimeError:  # a symlink loop (Python < 3.13)
        return "a link that leads back to itself"
    except OSError as exc:
        return ("a link that leads back to itself" if exc.errno == errno.ELOOP
                else f"a link that cannot be followed ({exc.strerror or exc})")
    return "" if target.is_file() else "a link to a folder (name the folder itself)"


def _plain_relative(path: str, *, leading_up: bool = False) -> bool:
    """Relative, without '~', '\\' or NUL, and without '..' (with `leading_up`: only leading ones,
    so `../scripts/x.py` passes but `a/../../x.py` does not)."""
    parts = Path(path).parts
    if leading_up:
        while parts and parts[0] == "..":
            parts = parts[1:]
    return bool(path) and not Path(path).is_absolute() and ".." not in parts and "\\" not in path \
        and "\x00" not in path and not path.startswith("~")


def _contained(root: Path, path: Path) -> str | None:
    """`path` relative to `root` after resolving symlinks, or None if it leads outside."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return None


def _dependency_paths(node_dir: Path, pattern: str, recursive: bool) -> list[Path]:
    """The files (and links, checked by the caller) one dependency brings, matched as Elyra does.

    Elyra 2.x packs a node by walking its file's folder (elyra/util/archive.py): hidden folders
    are never entered; other subfolders only with `include_subdirectories`, or when the pattern
    starts with the folder's path or matches it; a file is packed when fnmatch matches its
    relative path (`*` also crosses '/'), or, for a wildcard pattern without '/', its name; `*`
    alone takes every file of the folders entered. Users draw pipelines that work in Elyra, so
    the same pattern must bring the same files here. One addition: a dependency that names a
    folder brings its files (and its subfolders' with `include_subdirectories`); Elyra brings none.
    """
    literal = node_dir / pattern
    if not glob.has_magic(pattern):
        # os.path, not Path: an over-long name is just "missing", not an OSError
        if os.path.isdir(literal) and not os.path.islink(literal):
            return _folder_files(literal, recursive)
        return [literal] if os.path.lexists(literal) else []
    wanted = posixpath.normpath(pattern)
    take_all = wanted == "*"
    by_name = "/" not in wanted
    found = []
    for folder, dirnames, filenames in os.walk(node_dir):
        base = Path(folder)
        # os.walk lists linked folders with the folders but never enters them; Elyra's tar packs
        # the link itself, so they are candidates like files (the caller reports them).
        linked = [d for d in dirnames if (base / d).is_symlink()]
        dirnames[:] = [d for d in dirnames if d not in linked and not d.startswith(".") and (
            recursive or (not take_all and _enters(_relative(base / d, node_dir), wanted)))]
        for name in filenames + linked:
            rel = _relative(base / name, node_dir)
            if take_all or fnmatch.fnmatchcase(rel, wanted) or (by_name and fnmatch.fnmatchcase(name, wanted)):
                found.append(base / name)
    return sorted(found)


def _relative(path: Path, top: Path) -> str:
    return path.relative_to(top).as_posix()


def _enters(folder: str, pattern: str) -> bool:
    """Elyra enters a subfolder without `include_subdirectories` when the pattern leads into it."""
    return pattern.startswith(folder + "/") or fnmatch.fnmatchcase(folder, pattern)


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    """A folder's files: its own, and with `recursive` those of its non-hidden subfolders."""
    if not recursive:
        # every non-folder, FIFOs and sockets too: node_files reports them rather than skip them
        return sorted(p for p in folder.iterdir() if p.is_symlink() or not p.is_dir())
    found = []
    for current, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        linked = [d for d in dirnames if os.path.islink(os.path.join(current, d))]
        found.extend(Path(current, name) for name in filenames + linked)
    return sorted(found)


def build_archive(pipeline: Pipeline, node: Node, members: tuple[str, ...]) -> Archive:
    """Pack `members` (from node_files) and the runtime helper into reproducible tar.gz bytes.

    Sorted members, zero mtimes and owners, a gzip header without time or name: the same files
    always give the same sha256, which is the object key.
    """
    root = archive_top(pipeline, node).resolve()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            entries = [(m, read_regular((root / m).resolve()), os.access(root / m, os.X_OK))
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


def _storage_call(config: StorageConfig, action: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one minio call, turning every failure into a StorageError (minio has no common base)."""
    from minio.error import MinioException
    import urllib3

    try:
        return func(*args, **kwargs)
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise storage_error(exc, config, action) from None


def ensure_bucket(client: Any, config: StorageConfig, *, create: bool = False) -> None:
    """Check the bucket exists (and that the keys work); create it only when asked."""
    exists = _storage_call(config, "checking the bucket", client.bucket_exists, config.bucket)
    if exists:
        return
    if not create:
        raise StorageError(f"bucket {config.bucket!r} does not exist at {config.endpoint}; create it, "
                           "or pass --create-bucket (API: create_bucket=True)")
    _storage_call(config, "creating the bucket", client.make_bucket, config.bucket)


def upload(pipeline_json_or_model: Any, *, config: StorageConfig | None = None,
           base_dir: str | os.PathLike[str] | None = None,
           root_dir: str | os.PathLike[str] | None = None, credentials: Credentials | None = None,
           access_key: str | None = None, secret_key: str | None = None,
           create_bucket: bool = False, progress: TextIO | None = None) -> list[UploadResult]:
    """Build every node's archive and put it into the bucket; existing keys are skipped.

    Keys are content hashes, so an object that exists is already right and uploading again is a
    no-op. One progress line per archive goes to `progress` (default stderr). Credentials come
    from `credentials`, else `access_key`/`secret_key`, else AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY. Raises PipelineError for unusable node files, StorageError otherwise.
    """
    from .elyra_reader import load
    pipeline = load(pipeline_json_or_model, base_dir=base_dir, root_dir=root_dir)
    config = config or StorageConfig.resolve()
    if credentials is None:
        credentials = (Credentials(access_key=access_key, secret_key=secret_key)
                       if access_key and secret_key else Credentials.from_env())
    archives: list[tuple[Node, Archive]] = []
    problems: list[Problem] = []
    for node in pipeline.nodes:
        members, found = node_files(pipeline, node)
        problems.extend(found)
        if not found:
            archives.append((node, build_archive(pipeline, node, members)))
    if problems:
        raise PipelineError(problems)
    return put_archives(archives, config=config, credentials=credentials,
                        create_bucket=create_bucket, progress=progress)


def put_archives(archives: list[tuple[Node, Archive]], *, config: StorageConfig,
                 credentials: Credentials, create_bucket: bool = False,
                 progress: TextIO | None = None) -> list[UploadResult]:
    """Upload already built archives (e.g. those of a compilation), skipping existing keys."""
    import urllib3
    from minio.error import MinioException, S3Error

    out = progress if progress is not None else sys.stderr
    client = make_client(config, credentials)
    ensure_bucket(client, config, create=create_bucket)
    results: list[UploadResult] = []
    for index, (node, archive) in enumerate(archives, 1):
        key = archive.key(config)
        action = f"uploading the archive of node {node.label!r}"
        try:
            client.stat_object(config.bucket, key)
            exists = True
        except S3Error as exc:
            if exc.code not in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                raise storage_error(exc, config, action) from None
            exists = False
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise storage_error(exc, config, action) from None
        took = ""
        if not exists:
            bar = Bar(f"[{index}/{len(archives)}] uploading {node.label!r}", len(archive.data))
            started = time.monotonic()
            try:
                _storage_call(config, action, client.put_object, config.bucket, key,
                              io.BytesIO(archive.data), len(archive.data),
                              content_type="application/gzip", progress=bar)
            finally:
                bar.close()
            seconds = time.monotonic() - started
            if seconds >= 1:
                took = f" in {duration(seconds)}, {_size(len(archive.data) / seconds)}/s"
        state = "already there" if exists else "uploaded"
        print(f"t3qkfp: [{index}/{len(archives)}] {state}: s3://{config.bucket}/{key} "
              f"(node {node.label!r}, {_size(len(archive.data))}{took})", file=out, flush=True)
        results.append(UploadResult(node_id=node.id, label=node.label, key=key,
                                    size=len(archive.data), uploaded=not exists))
    return results


def _size(n: float) -> str:
    return size(n)


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
    objects = _storage_call(config, "listing run results",
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
            _storage_call(config, f"downloading {obj.object_name}", client.fget_object,
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
    """The node archives a compiled workflow reads, from the T3QKFP_NODE env of its containers.

    Works on any compiled YAML (read back with yaml.safe_load), so `t3qkfp compile
    --list-objects` and users copying files by hand see exactly what the pods will ask for.
    """
    from .nodespec import NODE_ENV, decode

    found: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
    for template in workflow.get("spec", {}).get("templates", []):
        for env in (template.get("container") or {}).get("env", []) or []:
            if env.get("name") != NODE_ENV or "value" not in env:
                continue
            spec = decode(env["value"])
            storage, archive = spec["storage"], spec["archive"]
            ident = (storage["endpoint"], storage["bucket"], archive["key"])
            entry = found.setdefault(ident, (archive["sha256"], []))
            entry[1].append(str(spec["task"]))
    return [ExpectedObject(endpoint=e, bucket=b, key=k, sha256=sha, tasks=tuple(sorted(tasks)))
            for (e, b, k), (sha, tasks) in sorted(found.items())]
