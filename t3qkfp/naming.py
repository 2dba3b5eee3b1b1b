"""Name rules: task/template names, the pipeline name, run-parameter names, env var names.

Owns: turning user text (node labels, env names) into names that every reader of the workflow
accepts unchanged — kfp 1.2's sanitizers, Argo 2.7's validator, the kube-apiserver — and making
them unique in a stable way. Each rule cites where it comes from.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable

# Argo 2.7 template/task names: ^[a-zA-Z0-9][-a-zA-Z0-9]*$, <= 128 (workflow/validate/validate.go);
# we keep to a lower-case DNS-1123 label of <= 63 so that pod names and label values fit, and
# start with a letter so kfp's op-name sanitizer (which prefixes a leading digit) leaves it alone.
TASK_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
TASK_NAME_MAX = 63
# kube-apiserver cuts generateName to 58 characters and it must be lower case (names/generate.go).
PIPELINE_NAME_MAX = 57
# Env var names: a C identifier, valid under every Kubernetes version and readable from a shell
# (apimachinery IsEnvVarName accepts more, but '-' and '.' are unusable from code).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Run-parameter names: kfp's PipelineParam wants a leading letter (dsl/_pipeline_param.py), Argo
# allows [-a-zA-Z0-9_] (validate.go), and kfp.Client renames anything that is not a fixed point of
# sanitize_k8s_name(name, True) ([^-_0-9A-Za-z]+ -> '-'), so the server would not recognise it.
PARAM_NAME_MAX = 128
PARAM_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_]{{0,{PARAM_NAME_MAX - 1}}}")


def short_hash(text: str, length: int = 6) -> str:
    """A stable short hex digest (the node id keeps names unique without depending on order)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def slug(text: str, limit: int = TASK_NAME_MAX) -> str:
    """Lower-case ASCII letters and digits joined by single '-', at most `limit` long; may be ''."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:limit].rstrip("-")


def task_names(nodes: Iterable[tuple[str, str]], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Map node id -> task name for (id, label) pairs: valid, unique, never empty, stable.

    A label that slugs to nothing (Korean, punctuation) becomes `node-<hash of id>`; a label
    starting with a digit gets a `node-` prefix; names shared by several nodes (or equal to a
    reserved name such as the pipeline's own) get `-<hash of id>` appended, for all of them,
    so that adding a node never renames the others' tasks differently depending on file order.
    """
    base: dict[str, str] = {}
    for node_id, label in nodes:
        name = slug(label, TASK_NAME_MAX - 7)
        if not name:
            name = f"node-{short_hash(node_id)}"
        elif not name[0].isalpha():
            name = slug(f"node-{name}", TASK_NAME_MAX - 7)
        base[node_id] = name
    taken = set(reserved)
    counts: dict[str, int] = {}
    for name in base.values():
        counts[name] = counts.get(name, 0) + 1
    result: dict[str, str] = {}
    for node_id, name in base.items():
        if counts[name] > 1 or name in taken:
            name = f"{name}-{short_hash(node_id)}"
        result[node_id] = name
    if len(set(result.values())) != len(result) or taken & set(result.values()):
        # a hash suffix met a label (or a reserved name such as the pipeline's) that already had it
        result = {node_id: f"{name}-{short_hash(node_id + name)}" for node_id, name in result.items()}
    return result


def pipeline_name(name: str) -> str:
    """The pipeline's Kubernetes name (entrypoint and generateName base): lower-case DNS-1123."""
    value = slug(name, PIPELINE_NAME_MAX)
    if not value or not value[0].isalpha():
        value = slug(f"pipeline-{value}", PIPELINE_NAME_MAX)
    return value or "pipeline"


def is_env_name(name: str) -> bool:
    """True for a C identifier (ASCII only; str.isidentifier would accept 'é')."""
    return ENV_NAME.fullmatch(name) is not None


def is_param_name(name: str) -> bool:
    """True for a run-parameter name that kfp, Argo and kfp.Client all keep unchanged."""
    return PARAM_NAME.fullmatch(name) is not None


def param_name_for_env(env_name: str) -> str:
    """The run-parameter name of a shared env var: the env name itself where allowed.

    Only a leading '_' is not allowed (PipelineParam wants a letter first); such names get a
    `P` prefix (`_SEED` -> `P_SEED`).
    """
    return env_name if is_param_name(env_name) else f"P{env_name}"


def node_param_name(task_name: str, env_name: str) -> str:
    """The per-node run-parameter name: the node's task name (as an identifier) + the env name.

    Past 128 characters the task part is cut and a hash of the whole task name keeps it unique;
    an env name too long to leave room for any task part comes back too long (plan() reports it).
    """
    prefix = task_name.replace("-", "_")
    name = f"{prefix}_{env_name}"
    room = PARAM_NAME_MAX - len(env_name) - 8  # '_' + 6 hash characters + '_'
    if len(name) <= PARAM_NAME_MAX or room < 1:
        return name
    return f"{prefix[:room].rstrip('_')}_{short_hash(task_name)}_{env_name}"
