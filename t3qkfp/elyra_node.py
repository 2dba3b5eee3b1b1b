"""Reading stage: one Elyra node's properties, per format version → a model Node.

Owns: where a format keeps a node's properties (v3 `app_data`, v4+ `app_data.component_parameters`)
and label, how each property is written in each version (env vars as "NAME=value" text or
{"env_var", "value"} objects, secrets, volumes, tolerations, pod labels and annotations, shared
memory), how Elyra strips and normalises what it reads, the pipeline defaults merged in, the
node's kind by its file's extension, and the strict reading of numbers, bools and string lists.
Why separate: this is everything Elyra keeps per node; which nodes there are and how they link
(supernodes, ports) is elyra_pipelines', the pipeline's own parameters elyra_parameters'.
Must not: guess or drop input silently; every malformed entry is a problem naming node and field.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from .elyra_document import Findings
from .errors import shown
from .model import EnvSetting, Kubernetes, Node, NodeKind, Resources, SecretEnv, Toleration, Volume

MAX_RESOURCE = 1e6  # no node asks for a million CPUs or GB; larger values are typos
_DECIMAL = re.compile(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")

_GENERIC_OPS = {kind.value: kind for kind in NodeKind}
# How Elyra's bootstrapper runs a node: by its file's extension, not by the node's op
# (kfp-notebook v0.23.0 etc/docker-scripts/bootstrapper.py:55-64 FileOpBase.get_instance;
# elyra v3.15.0 elyra/kfp/bootstrapper.py:61-71, v4.1.1 elyra/kfp/bootstrapper.py:70-80).
# Elyra tests '.ipynb', '.py', '.r' in that order; t3qkfp reads the suffix and keeps '.R'.
_KIND_OF_SUFFIX = {".ipynb": NodeKind.NOTEBOOK, ".py": NodeKind.PYTHON, ".r": NodeKind.R, ".R": NodeKind.R}
# Format-3 "NAME=value" env text: Elyra 2.2.4 strips spaces and both quote kinds from name and
# value (elyra v2.2.4 elyra/pipeline/processor_kfp.py:402). Later formats strip whitespace only
# (v3.11.0 elyra/pipeline/pipeline.py:514-520 KeyValueList.to_dict for v4-v7 strings;
# v3.15.0 elyra/pipeline/properties.py:210 and 333-335 strip_if_string for v8 objects).
_ELYRA2_STRIP = " '\""
_KIND_WORDS = {NodeKind.NOTEBOOK: "a notebook", NodeKind.PYTHON: "a Python script", NodeKind.R: "an R script"}


def read_node(found: Findings, raw: Any, *, at: str, version: int, defaults: dict[str, Any]) -> Node | None:
    """The node `raw` (at JSON path `at`) with the pipeline defaults merged in; its links are the
    caller's (they follow supernode ports). None for a port node, and for a node refused with a
    problem (its id then in `found.refused` when it has one, so links to it are not dangling)."""
    if not isinstance(raw, dict):
        found.problem("node must be an object", field_=at)
        return None
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not node_id:
        found.problem("node has no id", field_=f"{at}.id")
        return None
    node_type = raw.get("type", "execution_node")
    app = raw.get("app_data") if isinstance(raw.get("app_data"), dict) else {}
    if node_type == "binding":
        return None  # pipeline-flow's port nodes of supernodes: they carry nothing to run
    prefix = "component_parameters." if version >= 4 else "app_data."
    props = app.get("component_parameters") if version >= 4 else app
    filename = props.get("filename") if isinstance(props, dict) else None
    label = label_of(app)
    if not label and isinstance(filename, str) and filename:
        label = Path(filename).name
        if version < 4:
            label = Path(filename).stem  # Elyra 2.x names such nodes after the file without extension
    where = {"node_id": node_id, "label": label}
    ui = app.get("ui_data") if isinstance(app.get("ui_data"), dict) else {}
    for at_label, value in (("app_data.ui_data.label", ui.get("label")), ("app_data.label", app.get("label"))):
        if value is not None and not isinstance(value, str):
            found.problem(f"label must be text, got {type(value).__name__} {shown(value)}",
                          hint="rename the node in Elyra", field_=at_label, **where)
    if node_type != "execution_node":
        found.problem(f"node type {shown(node_type)} is not supported", field_="type", **where)
        found.refused.append(node_id)
        return None
    op = raw.get("op")
    if not isinstance(op, str) or op not in _GENERIC_OPS:
        found.problem(f"unsupported node op {shown(op)}: custom KFP components are not supported yet",
                      hint="t3qkfp compiles notebook, Python script and R script nodes",
                      field_="op", **where)
        found.refused.append(node_id)
        return None
    if not isinstance(props, dict):
        found.problem("node has no 'component_parameters' object", field_="app_data.component_parameters", **where)
        found.refused.append(node_id)
        return None
    if not isinstance(filename, str) or not filename:
        found.problem("node has no file name", hint="choose the notebook or script in the node's properties",
                      field_=prefix + "filename", **where)
        filename = ""
    if not label:
        label = node_id
        where["label"] = label
    return _properties(found, props, defaults, prefix, where, version=version, kind=_GENERIC_OPS[op],
                       filename=filename)


def _properties(found: Findings, props: dict[str, Any], defaults: dict[str, Any], prefix: str,
                where: dict[str, Any], *, version: int, kind: NodeKind, filename: str) -> Node:
    """What the node runs and with what: image, env, secrets, Kubernetes fields, files, resources.

    The fields are read in a fixed order, the order the user sees their problems and warnings in.
    """
    image = props.get("runtime_image") or defaults.get("runtime_image") or ""
    if not isinstance(image, str):
        found.problem("runtime image must be a string", field_=prefix + "runtime_image", **where)
        image = ""
    node_env = _env_list(found, props.get("env_vars"), prefix + "env_vars", where, from_defaults=False,
                         version=version)
    default_env = _env_list(found, defaults.get("env_vars"), "pipeline_defaults.env_vars", where,
                            from_defaults=True, version=version)
    secrets = _secrets(found, props.get("kubernetes_secrets"), prefix + "kubernetes_secrets", where)
    node_secret_names = {s.name for s in secrets}
    for secret in _secrets(found, defaults.get("kubernetes_secrets"), "pipeline_defaults.kubernetes_secrets", where):
        if secret.name not in node_secret_names:
            secrets.append(secret)
    # pipeline_defaults merge (Elyra propagate_pipeline_default_properties): node entries win
    # by name; an env var named like a secret env var yields to the secret.
    own = {e.name for e in node_env}
    env = [*node_env, *(e for e in default_env if e.name not in own)]
    secret_names = {s.name for s in secrets}
    env = [e for e in env if e.name not in secret_names]
    kubernetes = _kubernetes(found, props, defaults, prefix, where)
    by_file = _KIND_OF_SUFFIX.get(Path(filename).suffix) if filename else None
    if by_file is not None and by_file is not kind:
        found.note(f"{_KIND_WORDS[kind]} node's file {shown(filename)} runs as {_KIND_WORDS[by_file]}, "
                   "as Elyra's bootstrapper runs a node by its file's extension",
                   field_=prefix + "filename", **where)
        kind = by_file
    return Node(
        id=where["node_id"], label=where["label"], kind=kind, filename=filename, runtime_image=image,
        env=tuple(env), secrets=tuple(secrets),
        pipeline_parameters=_string_list(found, props.get("pipeline_parameters"), prefix + "pipeline_parameters", where),
        dependencies=_string_list(found, props.get("dependencies"), prefix + "dependencies", where),
        include_subdirectories=_bool(found, props.get("include_subdirectories"), prefix + "include_subdirectories", where),
        outputs=_string_list(found, props.get("outputs"), prefix + "outputs", where),
        resources=Resources(
            cpu=_number(found, props.get("cpu"), prefix + "cpu", where),
            gpu=_gpu(found, props.get("gpu"), prefix + "gpu", where),
            memory=_number(found, props.get("memory"), prefix + "memory", where),
            cpu_limit=_number(found, props.get("cpu_limit"), prefix + "cpu_limit", where),
            memory_limit=_number(found, props.get("memory_limit"), prefix + "memory_limit", where)),
        kubernetes=kubernetes,
    )


def label_of(app: dict[str, Any]) -> str:
    """The node's label as Elyra's editor shows it; '' when it has none."""
    ui = app.get("ui_data") if isinstance(app.get("ui_data"), dict) else {}
    # Elyra reads ui_data.label first and app_data.label (3.x+) second
    # (elyra v3.15.0 pipeline_definition.py Node.label; v2.2.4 parser.py).
    for value in (ui.get("label"), app.get("label")):
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _env_list(found: Findings, raw: Any, at: str, where: dict[str, Any], *, from_defaults: bool,
              version: int) -> list[EnvSetting]:
    """env_vars as "NAME=value" strings (v3–v7) or {"env_var", "value"} objects (v8).

    Name and value are stripped as the Elyra that writes the format strips them (see
    _ELYRA2_STRIP); a warning names the entry when that changed the text. An entry without
    a value stays, as a run parameter with an empty default (Elyra 2.x passes it as "").
    """
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        found.problem("env_vars must be a list", field_=at, **where)
        return []
    strip = _ELYRA2_STRIP if version < 4 else None  # None: str.strip()'s whitespace
    result: list[EnvSetting] = []
    for index, entry in enumerate(raw):
        field_ = f"{at}[{index}]"
        if entry is None or entry == "":
            continue  # an empty row left by the editor: there is nothing in it to keep
        if isinstance(entry, str):
            if "=" not in entry:
                found.problem(f"env var {shown(entry)} has no '='", hint="write NAME=value",
                              field_=field_, **where)
                continue
            name, value = entry.split("=", 1)
            written = entry
        elif isinstance(entry, dict):
            name = entry.get("env_var")
            value = entry.get("value", "")
            if not isinstance(name, str):
                found.problem("env var entry has no 'env_var' name", field_=field_, **where)
                continue
            text = _scalar_text(value)
            if text is None:
                found.problem(f"value of env var {name!r} must be a string, got {type(value).__name__}",
                              field_=field_ + ".value", **where)
                continue
            value = text
            written = None
        else:
            found.problem(f"env var entry must be 'NAME=value' or an object, got {type(entry).__name__}",
                          field_=field_, **where)
            continue
        read_name, read_value = name.strip(strip), value.strip(strip)
        if (read_name, read_value) != (name, value):
            shown_as = shown(written) if written is not None else f"{shown(name)} = {shown(value)}"
            stripped = "spaces and quotes" if strip else "surrounding whitespace"
            found.note(f"env var {shown_as} is read as name {shown(read_name)}, value {shown(read_value)}: Elyra strips "
                       f"{stripped} from the name and the value", field_=field_, **where)
        result.append(EnvSetting(name=read_name, value=read_value, from_defaults=from_defaults,
                                 field=field_))
    return result


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def _secrets(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> list[SecretEnv]:
    """kubernetes_secrets: "ENV=secret:key" (v4–v7) or {"env_var", "name", "key"} (v8)."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        found.problem("kubernetes_secrets must be a list", field_=at, **where)
        return []
    result = []
    for index, entry in enumerate(raw):
        field_ = f"{at}[{index}]"
        if entry is None or entry == "":
            continue
        if isinstance(entry, str):
            env, _, rest = entry.partition("=")
            secret, _, key = rest.partition(":")
        elif isinstance(entry, dict):
            env, secret, key = entry.get("env_var"), entry.get("name"), entry.get("key")
        else:
            env = secret = key = None
        if not all(isinstance(x, str) and x for x in (env, secret, key)):
            found.problem("secret entry must give env var, secret name and key",
                          hint="write ENV=secret-name:key", field_=field_, **where)
            continue
        result.append(SecretEnv(name=str(env), secret=str(secret), key=str(key)))
    return result


def _kubernetes(found: Findings, props: dict[str, Any], defaults: dict[str, Any], prefix: str,
                where: dict[str, Any]) -> Kubernetes:
    """Volumes, tolerations, pod annotations/labels and /dev/shm size (Elyra 3.8+).

    v4-v7 write list entries as strings ("/path=pvc", "id=key:op:value:effect", "key=value"),
    v8 as objects. Pipeline defaults are merged in with node entries winning by key.
    """
    def merged(name: str, parse, key) -> tuple:
        own = [x for x in parse(found, props.get(name), prefix + name, where) if x is not None]
        seen = {key(x) for x in own}
        extra = [x for x in parse(found, defaults.get(name), f"pipeline_defaults.{name}", where) if x is not None]
        return tuple(own + [x for x in extra if key(x) not in seen])

    shm = props.get("kubernetes_shared_mem_size") or defaults.get("kubernetes_shared_mem_size") or {}
    size = None
    if shm:
        at = prefix + "kubernetes_shared_mem_size"
        if not isinstance(shm, dict) or shm.get("units", "G") != "G":
            found.problem("must be {size, units: 'G'}", field_=at, **where)
        else:
            size = _number(found, shm.get("size"), at + ".size", where)
    return Kubernetes(
        volumes=merged("mounted_volumes", _volumes, lambda v: v.path),
        tolerations=merged("kubernetes_tolerations", _tolerations, lambda t: t),
        pod_annotations=merged("kubernetes_pod_annotations", _pairs, lambda kv: kv[0]),
        pod_labels=merged("kubernetes_pod_labels", _pairs, lambda kv: kv[0]),
        shared_memory_gb=size)


def _entries(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> list[tuple[str, Any]]:
    """A Kubernetes list field's entries with their JSON paths; empty rows the editor leaves are skipped."""
    if raw in (None, "", []):
        return []
    if not isinstance(raw, list):
        found.problem("must be a list", field_=at, **where)
        return []
    return [(f"{at}[{i}]", e) for i, e in enumerate(raw) if e not in (None, "")]


def _volumes(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> list[Volume | None]:
    """mounted_volumes: "/path=pvc" (v4-v7) or {path, pvc_name, sub_path, read_only} (v8)."""
    result: list[Volume | None] = []
    for field_, e in _entries(found, raw, at, where):
        if isinstance(e, str) and "=" in e:
            path, pvc = e.split("=", 1)
            result.append(Volume(path=_mount_path(found, path, field_, where), pvc=pvc.strip()))
        elif isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("pvc_name"), str):
            sub = e.get("sub_path") or ""
            result.append(Volume(path=_mount_path(found, e["path"], field_, where), pvc=e["pvc_name"].strip(),
                                 sub_path=sub.strip() if isinstance(sub, str) else "",
                                 read_only=e.get("read_only") is True))
        else:
            found.problem("volume must give a mount path and a PVC name", hint="write /path=pvc-name",
                          field_=field_, **where)
    return result


def _mount_path(found: Findings, path: str, field_: str, where: dict[str, Any]) -> str:
    """Elyra mounts at "/" + path.strip("/") after stripping whitespace (elyra v3.11.0
    elyra/pipeline/pipeline_definition.py:419; v3.15.0 elyra/pipeline/properties.py:210
    and 733; v4.1.1 properties.py:732). An empty path stays empty (refused by the checks)."""
    text = path.strip()
    if not text:
        return text
    normal = "/" + text.strip("/")
    if normal != path:
        found.note(f"mount path {shown(path)} is read as {shown(normal)}, as Elyra normalises it",
                   field_=field_, **where)
    return normal


def _tolerations(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> list[Toleration | None]:
    """kubernetes_tolerations: "id=key:operator:value:effect" (v4-v7) or objects (v8); no operator is Equal."""
    result: list[Toleration | None] = []
    for field_, e in _entries(found, raw, at, where):
        if isinstance(e, str) and "=" in e and e.split("=", 1)[1].count(":") == 3:
            key, operator, value, effect = e.split("=", 1)[1].split(":")
        elif isinstance(e, dict):
            key, operator, value, effect = (e.get(k, "") for k in ("key", "operator", "value", "effect"))
        else:
            found.problem("toleration must give key, operator, value and effect", field_=field_, **where)
            continue
        if not all(isinstance(x, str) for x in (key, operator, value, effect)):
            found.problem("toleration fields must be strings", field_=field_, **where)
            continue
        result.append(Toleration(key=key, operator=operator or "Equal", value=value, effect=effect))
    return result


def _pairs(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> list[tuple[str, str] | None]:
    """Pod annotations and labels: "key=value" (v4-v7) or {key, value} (v8)."""
    result: list[tuple[str, str] | None] = []
    for field_, e in _entries(found, raw, at, where):
        if isinstance(e, str):
            key, _, value = e.partition("=")
        elif isinstance(e, dict):
            key, value = e.get("key"), e.get("value", "")
            value = "" if value is None else value
        else:
            key = value = None
        if not isinstance(key, str) or not key or not isinstance(value, str):
            found.problem("entry must give a key and a string value", field_=field_, **where)
            continue
        result.append((key, value))
    return result


def _string_list(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> tuple[str, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        found.problem("must be a list of strings", field_=at, **where)
        return ()
    result = []
    for index, entry in enumerate(raw):
        if entry is None or entry == "":
            continue
        if not isinstance(entry, str):
            found.problem(f"entry must be a string, got {type(entry).__name__}", field_=f"{at}[{index}]", **where)
            continue
        if entry not in result:
            result.append(entry)
    return tuple(result)


def _bool(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> bool:
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    found.problem(f"must be true or false, got {shown(raw)}", field_=at, **where)
    return False


def _number(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> float | None:
    """cpu / memory / gpu: positive finite numbers (Elyra's forms also save numeric strings).

    0 and "" mean "not set": Elyra applies a resource only when its value is truthy
    (kfp-notebook v0.23.0 kfp_notebook/pipeline/_notebook_op.py:234-242 for Elyra 2.x;
    elyra v3.15.0 elyra/templates/kubeflow/v1/python_dsl_template.jinja2:63-70, v4.1.1 the
    same template:63-76, which adds cpu_limit/memory_limit). Strings must be plain ASCII
    decimals: Python's float() would also take '1_0' or '٣'. Negative values stay refused.
    """
    if raw is None or raw == "" or (isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw == 0):
        return None
    value: float | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
    elif isinstance(raw, str) and _DECIMAL.fullmatch(raw.strip()):
        value = float(raw.strip())
        if value == 0:
            return None
    if value is None or not math.isfinite(value) or value <= 0 or value > MAX_RESOURCE:
        found.problem(f"must be a positive number up to {MAX_RESOURCE:g}, got {shown(raw)}", field_=at, **where)
        return None
    return value


def _gpu(found: Findings, raw: Any, at: str, where: dict[str, Any]) -> int | None:
    value = _number(found, raw, at, where)
    if value is None:
        return None
    if not value.is_integer():
        found.problem(f"gpu must be a whole number, got {shown(raw)}",
                      hint="Kubernetes extended resources are integers", field_=at, **where)
        return None
    return int(value)
