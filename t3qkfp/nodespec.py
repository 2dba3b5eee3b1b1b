"""The contract between a compiled container and the node runtime that runs inside it.

Owns: the names of the env vars t3qkfp sets on every container and the JSON the node runtime
reads from T3QKFP_NODE. The runtime (t3qkfp/runtime/, stdlib only, runs in the pod) parses the
same JSON on its own; tests check that both sides agree.
Must not: hold user values that are run parameters (those are their own env vars).

Why one base64 env var: every static per-node string (file name, archive key, outputs) then
reaches the pod without passing through a shell, Argo's `{{...}}` substitution or the
kubelet's `$(VAR)` expansion: the base64 alphabet has no `{`, `$` or `(`.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

NODE_ENV = "T3QKFP_NODE"            # base64(JSON of NodeSpec.to_json())
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

    The loader's private pair always; the AWS_* copy for the user's code only where the user's
    own kubernetes_secrets do not set that name (theirs wins, as under Elyra, and each name
    appears once). One list for kfp_build, the size estimate and the benchmark.
    """
    entries: list[tuple[str, str]] = []
    for private, public, key in ((ACCESS_KEY_ENV, USER_ACCESS_KEY_ENV, "access"),
                                 (SECRET_KEY_ENV, USER_SECRET_KEY_ENV, "secret")):
        entries.append((private, key))
        if public not in user_secrets:
            entries.append((public, key))
    return tuple(entries)
METADATA_DIR_ENV = "T3QKFP_METADATA_DIR"  # where KFP's UI metadata / metrics files go (default /tmp)
SPEC_VERSION = 2

# KFP 1.2 treats these two output artifact names specially (UI visualisations and metrics).
UI_METADATA_PATH = "/tmp/mlpipeline-ui-metadata.json"
METRICS_PATH = "/tmp/mlpipeline-metrics.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """Everything static the node runtime needs to run one node.

    file:        the notebook/script, relative to the archive root (the pipeline folder)
    kind:        "notebook" | "python" | "r"
    archive_key / archive_sha256: the node archive in the bucket and its checksum
    outputs:     the node's declared outputs (globs), relative to the file's folder
    parents:     task names of the node's direct parents; the runtime reads their manifests,
                 which list the ancestors with outputs (`lineage`), so the YAML holds each link
                 once instead of every ancestor per descendant (quadratic in a chain)
    position:    the node's place in the compiler's topological order (ties by task name):
                 ancestors' outputs are downloaded in this order, farthest first
    """

    task: str
    label: str
    kind: str
    file: str
    archive_key: str
    archive_sha256: str
    outputs: tuple[str, ...]
    parents: tuple[str, ...]
    position: int
    endpoint: str
    bucket: str
    prefix: str
    region: str

    def to_json(self) -> dict[str, object]:
        """The JSON document the runtime reads; keys are part of the contract."""
        return {
            "version": SPEC_VERSION,
            "task": self.task,
            "label": self.label,
            "kind": self.kind,
            "file": self.file,
            "archive": {"key": self.archive_key, "sha256": self.archive_sha256},
            "outputs": list(self.outputs),
            "parents": list(self.parents),
            "position": self.position,
            "storage": {"endpoint": self.endpoint, "bucket": self.bucket,
                        "prefix": self.prefix, "region": self.region},
        }

    def encode(self) -> str:
        """The value of T3QKFP_NODE: compact, key-sorted JSON in base64, stable across runs."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return base64.b64encode(text.encode("ascii")).decode("ascii")


def decode(value: str) -> dict[str, object]:
    """Read a T3QKFP_NODE value back (used by tests and the local runner's messages)."""
    return json.loads(base64.b64decode(value.encode("ascii")).decode("utf-8"))
