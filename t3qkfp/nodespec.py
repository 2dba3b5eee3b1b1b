"""The contract between a compiled container and the node runtime that runs inside it.

Owns: the names of the env vars t3qkfp sets on every container, the node spec the loader and
the node runtime read from T3QKFP_NODE, and the object keys derived from it (node archive,
runtime helper). The runtime (t3qkfp/runtime/, stdlib only, runs in the pod) reads the same
list on its own (node_runtime.read_spec); tests check that both sides agree.
Must not: hold user values that are run parameters (those are their own env vars).

Why one env var holding a JSON list: every static per-node string (file name, outputs, label)
reaches the pod without passing through a shell. A list, not an object, because the value is
repeated in every container of the YAML (field names would be most of it); the version comes
first so a reader can tell layouts apart. Argo's `{{...}}` substitution and the kubelet's
`$(VAR)` expansion never see a brace or a dollar: a list of strings and numbers has braces and
dollars only inside strings, and there they are written as JSON escapes (`\u007b`, `\u007d`,
`\u0024`), which every JSON reader decodes back. (Before version 3 the spec was base64 JSON
with the archive key beside its sha256 and named fields: twice the bytes.)
"""
from __future__ import annotations

import json
from dataclasses import dataclass

NODE_ENV = "T3QKFP_NODE"            # NodeSpec.encode(): a JSON list, see WIRE_FIELDS
RUN_ID_ENV = "T3QKFP_RUN_ID"        # '{{workflow.uid}}': Argo fills it, KFP turns it into the run id
RUN_ID_VALUE = "{{workflow.uid}}"
# The object storage secret reaches the loader under private names, so users' own
# kubernetes_secrets may set AWS_* (Red Hat's examples do) without breaking the download.
ACCESS_KEY_ENV = "T3QKFP_S3_ACCESS_KEY"
SECRET_KEY_ENV = "T3QKFP_S3_SECRET_KEY"
# The names the user's code sees the same secret under, as under Elyra; a user secret of the
# same name takes the place of each (the compiler then leaves that entry out).
USER_ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
USER_SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"


def storage_secret_env(user_secrets: frozenset[str] | set[str]) -> tuple[tuple[str, str], ...]:
    """The container's storage-secret entries, in order: (env name, "access" or "secret" key).

    For each key: the AWS_* name where the user's own kubernetes_secrets do not set it (the
    user's code sees the storage secret there, as under Elyra, and the loader reads it there
    too); where they do, theirs wins for the user's code and the loader gets the storage key
    under its private name (T3QKFP_S3_*), which it reads first. Each name appears once. One list
    for kfp_build, the size estimate and the benchmark.
    """
    entries: list[tuple[str, str]] = []
    for private, public, key in ((ACCESS_KEY_ENV, USER_ACCESS_KEY_ENV, "access"),
                                 (SECRET_KEY_ENV, USER_SECRET_KEY_ENV, "secret")):
        entries.append((private if public in user_secrets else public, key))
    return tuple(entries)
METADATA_DIR_ENV = "T3QKFP_METADATA_DIR"  # where KFP's UI metadata / metrics files go (default /tmp)
SPEC_VERSION = 3

# KFP 1.2 treats these two output artifact names specially (UI visualisations and metrics).
UI_METADATA_PATH = "/tmp/mlpipeline-ui-metadata.json"
METRICS_PATH = "/tmp/mlpipeline-metrics.json"

# The order of T3QKFP_NODE's list: what the loader needs first (storage, runtime helper, label
# for its messages), then what the node runtime reads. `key_prefix` is the storage prefix as
# keys begin with it ('' or 'prefix/'). runtime/node_runtime.py repeats this tuple.
WIRE_FIELDS = ("version", "endpoint", "bucket", "key_prefix", "region", "runtime_sha256", "label",
               "task", "kind", "file", "archive_sha256", "outputs", "parents", "position")
_ESCAPES = {ord("{"): "\\u007b", ord("}"): "\\u007d", ord("$"): "\\u0024"}


def key_prefix(prefix: str) -> str:
    """The start of every object key under a storage prefix: '' or 'prefix/'."""
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def object_key(prefix: str, *parts: str) -> str:
    """An object key under the prefix: parts stripped of edge slashes, empty parts dropped.

    The one layout the compiler, uploads and the node runtime (its own copy) use.
    """
    return "/".join(p.strip("/") for p in (prefix, *parts) if p.strip("/"))


def archive_key(prefix: str, sha256: str) -> str:
    """Where a node archive lives: content-addressed, so an unchanged node uploads nothing new."""
    return object_key(prefix, "archives", f"{sha256}.tar.gz")


def runtime_key(prefix: str, sha256: str) -> str:
    """Where the node runtime helper lives (one object per helper version, not per node)."""
    return object_key(prefix, "runtime", f"{sha256}.py")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """Everything static the loader and the node runtime need to run one node.

    file:        the notebook/script, relative to the archive root (the pipeline folder)
    kind:        "notebook" | "python" | "r"
    archive_sha256: the node archive's checksum; its key follows (archive_key)
    runtime_sha256: the node runtime helper's checksum; its key follows (runtime_key)
    outputs:     the node's declared outputs (globs), relative to the file's folder
    parents:     task names of the node's direct parents; the runtime reads their manifests,
                 which list the ancestors with outputs (`lineage`), so the YAML holds each link
                 once instead of every ancestor per descendant (quadratic in a chain)
    position:    the node's place in the compiler's topological order (ties by task name):
                 ancestors' outputs are downloaded in this order, farthest first
    endpoint / bucket / prefix / region: the object storage, as StorageConfig has them
    """

    task: str
    label: str
    kind: str
    file: str
    archive_sha256: str
    runtime_sha256: str
    outputs: tuple[str, ...]
    parents: tuple[str, ...]
    position: int
    endpoint: str
    bucket: str
    prefix: str
    region: str

    @property
    def archive_key(self) -> str:
        return archive_key(self.prefix, self.archive_sha256)

    @property
    def runtime_key(self) -> str:
        return runtime_key(self.prefix, self.runtime_sha256)

    def wire(self) -> list[object]:
        """The list T3QKFP_NODE holds, in WIRE_FIELDS order."""
        values = {"version": SPEC_VERSION, "key_prefix": key_prefix(self.prefix),
                  "outputs": list(self.outputs), "parents": list(self.parents)}
        return [values[name] if name in values else getattr(self, name) for name in WIRE_FIELDS]

    def encode(self) -> str:
        """The value of T3QKFP_NODE: compact ASCII JSON, braces and dollars escaped, stable across runs."""
        text = json.dumps(self.wire(), separators=(",", ":"), ensure_ascii=True)
        return text.translate(_ESCAPES)


def decode(value: str) -> NodeSpec:
    """Read a T3QKFP_NODE value back (expected objects, the local runner's messages, tests).

    Raises ValueError for a value that is not a version-3 node spec.
    """
    try:
        items = json.loads(value)
    except ValueError:
        raise ValueError("T3QKFP_NODE is not JSON") from None
    if not isinstance(items, list) or len(items) != len(WIRE_FIELDS) or items[0] != SPEC_VERSION:
        raise ValueError(f"T3QKFP_NODE is not a version {SPEC_VERSION} node spec")
    fields = dict(zip(WIRE_FIELDS, items))
    return NodeSpec(task=fields["task"], label=fields["label"], kind=fields["kind"], file=fields["file"],
                    archive_sha256=fields["archive_sha256"], runtime_sha256=fields["runtime_sha256"],
                    outputs=tuple(fields["outputs"]), parents=tuple(fields["parents"]),
                    position=fields["position"], endpoint=fields["endpoint"], bucket=fields["bucket"],
                    prefix=str(fields["key_prefix"]).rstrip("/"), region=fields["region"])
