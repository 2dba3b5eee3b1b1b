"""Read a compiled Argo workflow into the steps a local run executes, resolved as on a cluster.

Owns: the run parameters of a compiled workflow (`workflow_parameters`, `check_parameters`),
Argo 2.7's `{{...}}` substitution (`substitute`, fasttemplate semantics), the kubelet's
`$(VAR)` expansion byte for byte (`kubelet_expand`), the workflow's shape checks, the DAG checks
(unknown dependencies, cycles) and each container's env (secrets, field refs), all gathered
into `Step`s by `plan_steps`.
Parameters are resolved as KFP and Argo 2.7 would: KFP replaces `{{workflow.uid}}` with the run
id in the whole workflow, Argo fills `spec.arguments` (defaults, then overrides) into the
entrypoint DAG's inputs, the DAG's task arguments into each container template's inputs, and
those into the container (globals first, then inputs; an unbalanced `{{` swallows the next
placeholder exactly as on a cluster).
Why separate from execution: reading is pure (no process, no folder, no S3), so every rule
Argo and the kubelet apply can be tested on a workflow dict alone.
Must not: start processes, touch files, or import the compiler or object storage.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from . import nodespec
from .checks import find_cycle_in
from .errors import RunError, UsageError, did_you_mean
from .params import check_names, check_override_value

_UNSUPPORTED_TASK_KEYS = ("when", "withItems", "withParam", "withSequence", "onExit")


class StorageKeys(Protocol):
    """The object storage keys a node's secret refs get (storage's Credentials fits)."""

    @property
    def access_key(self) -> str: ...

    @property
    def secret_key(self) -> str: ...


# --- parameters as KFP and Argo resolve them -----------------------------------------------------

def workflow_parameters(workflow: Mapping[str, Any]) -> dict[str, str]:
    """spec.arguments.parameters: the run parameters and their defaults."""
    arguments = _mapping(_spec(workflow).get("arguments") or {}, "spec.arguments")
    return {p["name"]: str(p.get("value", "")) for p in
            _named(arguments.get("parameters"), "spec.arguments.parameters")}


# --- the workflow's shape: a clear UsageError instead of a KeyError deep inside -----------------

def _kind(value: Any) -> str:
    return {str: "a string", list: "a list", dict: "a mapping", type(None): "empty"}.get(
        type(value), f"a {type(value).__name__}")


def _spec(workflow: Any) -> Mapping[str, Any]:
    if not isinstance(workflow, Mapping):
        raise UsageError(f"the workflow is {_kind(workflow)}, not an Argo Workflow mapping (a dict, "
                         "e.g. t3qkfp.compile(...) or yaml.safe_load of the compiled YAML)")
    if "spec" not in workflow:
        raise UsageError("the workflow has no spec; the local runner runs workflows compiled by t3qkfp")
    return _mapping(workflow["spec"], "the workflow's spec")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where} is {_kind(value)}, not a mapping")
    return value


def _items(value: Any, where: str) -> list[Any]:
    """A list field; absent or null is an empty list, as in Argo."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UsageError(f"{where} is {_kind(value)}, not a list")
    return value


def _named(value: Any, where: str) -> list[Mapping[str, Any]]:
    """A list of mappings that each have a string `name`."""
    entries = [_mapping(entry, f"{where}[{i}]") for i, entry in enumerate(_items(value, where))]
    for i, entry in enumerate(entries):
        if not isinstance(entry.get("name"), str) or not entry["name"]:
            raise UsageError(f"{where}[{i}] has no name")
    return entries


def _strings(value: Any, where: str) -> list[str]:
    items = _items(value, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise UsageError(f"{where}[{i}] is {_kind(item)}, not a string")
    return items


def check_parameters(workflow: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, str]:
    """Defaults with the overrides applied; unknown names and values Argo cannot carry are refused.

    For a compiled workflow run without its pipeline (no plan, so no types): the names and the
    value rule of params.check_overrides, which run_local and submit use.
    """
    values = workflow_parameters(workflow)
    check_names(set(values), params or {})
    for name, value in (params or {}).items():
        text = value if isinstance(value, str) else str(value)  # kfp.Client sends str(value)
        check_override_value(name, text)
        values[name] = text
    return values


def substitute(text: str, mapping: Mapping[str, str]) -> str:
    """Argo 2.7's fasttemplate: `{{tag}}` → mapping[tag]; unknown tags stay as they are.

    The tag is everything between a `{{` and the next `}}`, untrimmed, so `{{x` followed by
    `{{inputs.parameters.y}}` forms the unknown tag `x{{inputs.parameters.y` and both stay.
    """
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            break
        tag = text[start + 2:end]
        parts.append(text[pos:start])
        parts.append(mapping[tag] if tag in mapping else text[start:end + 2])
        pos = end + 2
    parts.append(text[pos:])
    return "".join(parts)


def _substitute_all(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return substitute(value, mapping)
    if isinstance(value, list):
        return [_substitute_all(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_all(v, mapping) for k, v in value.items()}
    return value


def kubelet_expand(text: str, defined: Mapping[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion (kubernetes third_party/forked/golang/expansion), byte for byte.

    `$$` → `$`; `$(NAME)` → the value when NAME is defined earlier, else left as written. Go's
    code works on bytes: after a `$` that starts nothing it writes `"$" + string(input[0])`, the
    next *byte* turned into a rune, so `$€` (E2 82 AC) becomes `$` C3 A2 82 AC, invalid UTF-8.
    The result keeps such bytes as surrogate escapes, which subprocess hands on as those bytes.
    """
    data = text.encode("utf-8", "surrogateescape")
    if b"$" not in data:
        return text
    values = {k: v.encode("utf-8", "surrogateescape") for k, v in defined.items()}
    out = bytearray()
    checkpoint, cursor = 0, 0
    while cursor < len(data):
        if data[cursor] == 0x24 and cursor + 1 < len(data):  # '$' with something after it
            out += data[checkpoint:cursor]
            nxt = data[cursor + 1]
            advance = 1
            if nxt == 0x24:
                out += b"$"
            elif nxt == 0x28:  # '('
                close = data.find(b")", cursor + 2)
                if close >= 0:
                    name = data[cursor + 2:close]
                    key = name.decode("utf-8", "surrogateescape")
                    out += values[key] if key in values else b"$(" + name + b")"
                    advance = close - cursor
                else:
                    out += b"$("
            else:
                out += b"$" + chr(nxt).encode("utf-8")  # Go's string(byte): the byte as a rune
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out += data[checkpoint:]
    return out.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One DAG task with its container template fully resolved."""

    task: str
    label: str
    dependencies: tuple[str, ...]
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    artifacts: tuple[str, ...]


def _main_container_patch(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The command/args a workflow-level spec.podSpecPatch sets on the main container ({} if none).

    t3qkfp puts the node loader there once per workflow; Argo applies the patch (a strategic
    merge: a list of strings replaces the template's) to every pod. Only JSON patches of the
    main container's command and args are understood here; anything else is a UsageError.
    """
    text = spec.get("podSpecPatch")
    if text is None:
        return {}
    unsupported = UsageError("spec.podSpecPatch: the local runner understands only a JSON patch of the "
                             "main container's command and args, as t3qkfp writes it")
    try:
        patch = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        raise unsupported from None
    containers = patch.get("containers") if isinstance(patch, dict) else None
    if set(patch or {}) != {"containers"} or not isinstance(containers, list) or len(containers) != 1:
        raise unsupported
    main = containers[0]
    if not isinstance(main, dict) or main.get("name") != "main" or not set(main) - {"name"} <= {"command", "args"}:
        raise unsupported
    return {k: main[k] for k in ("command", "args") if k in main}


def plan_steps(workflow: Mapping[str, Any], values: Mapping[str, str], *, run_id: str,
               credentials: StorageKeys, secret_values: Mapping[tuple[str, str], str] | None = None,
               warn: Callable[[str], None] = lambda _: None) -> list[Step]:
    """Every DAG task of the entrypoint with its argv and env resolved as on a cluster.

    A workflow of the wrong shape (not a mapping, a task naming no or an unknown template, a
    container without a command, ...) is a UsageError naming the task and template.
    """
    _spec(workflow)
    # KFP's API server replaces {{workflow.uid}} with the run id in the whole workflow JSON
    # (kubeflow/pipelines@1.2.0 backend/src/common/util/workflow.go ReplaceUID).
    wf = json.loads(json.dumps(workflow).replace("{{workflow.uid}}", run_id))
    spec = _spec(wf)
    templates: dict[str, Mapping[str, Any]] = {}
    for template in _named(spec.get("templates"), "spec.templates"):
        if template["name"] in templates:
            raise UsageError(f"template name {template['name']!r} appears twice in spec.templates")
        templates[template["name"]] = template
    entrypoint = spec.get("entrypoint", "")
    entry = templates.get(entrypoint) if isinstance(entrypoint, str) else None
    if entry is None or "dag" not in entry:
        raise UsageError("the workflow's entrypoint is not a DAG template; the local runner runs "
                         "workflows compiled by t3qkfp")
    patch = _main_container_patch(spec)
    metadata = _mapping(wf.get("metadata") or {}, "the workflow's metadata")
    name = str(metadata.get("generateName") or "t3qkfp-").rstrip("-") + "-" + run_id[:5]
    globals_ = {"workflow.uid": run_id, "workflow.name": name, "workflow.namespace": "local",
                **{f"workflow.parameters.{k}": v for k, v in values.items()}}
    entry_inputs = _mapping(entry.get("inputs") or {}, f"template {entrypoint!r}: inputs")
    dag_inputs = _input_values(entry_inputs, values, f"template {entrypoint!r}", "entrypoint ")
    dag = _mapping(entry["dag"], f"template {entrypoint!r}: dag")
    raw_tasks = _named(dag.get("tasks"), f"template {entrypoint!r}: dag.tasks")
    tasks = _substitute_all(_substitute_all(raw_tasks, globals_),
                            {f"inputs.parameters.{k}": v for k, v in dag_inputs.items()})
    seen: set[str] = set()
    steps = []
    for task in tasks:
        task_name = task["name"]
        if task_name in seen:
            raise UsageError(f"task name {task_name!r} appears twice in the DAG")
        seen.add(task_name)
        unsupported = [k for k in _UNSUPPORTED_TASK_KEYS if k in task]
        if unsupported:
            raise UsageError(f"task {task_name!r} uses {unsupported}, which the local runner does not support")
        template_name = task.get("template")
        if not isinstance(template_name, str) or not template_name:
            raise UsageError(f"task {task_name!r} names no template")
        if template_name not in templates:
            raise UsageError(f"task {task_name!r} uses template {template_name!r}, which the workflow does "
                             f"not define.{did_you_mean(template_name, templates)} Templates: "
                             f"{', '.join(sorted(templates))}")
        template = templates[template_name]
        where = f"task {task_name!r} (template {template_name!r})"
        if "container" not in template:
            raise UsageError(f"task {task_name!r}: template {template_name!r} is not a container template")
        if patch:  # Argo merges spec.podSpecPatch into every pod's main container
            template = {**template, "container": {**_mapping(template["container"], f"{where}: container"), **patch}}
        container = _mapping(template["container"], f"{where}: container")
        # On a cluster a container without `command` runs its image's entrypoint (with `args`, if
        # any); locally there is no image, so there is nothing to run.
        if not _strings(container.get("command"), f"{where}: container.command"):
            given = " (only args)" if container.get("args") else ""
            raise UsageError(f"{where} has no command{given}; the local runner cannot use image "
                             "entrypoints")
        _strings(container.get("args"), f"{where}: container.args")
        _named(container.get("env"), f"{where}: container.env")
        _mapping(template.get("metadata") or {}, f"{where}: metadata")
        outputs = _mapping(template.get("outputs") or {}, f"{where}: outputs")
        for i, artifact in enumerate(_items(outputs.get("artifacts"), f"{where}: outputs.artifacts")):
            _mapping(artifact, f"{where}: outputs.artifacts[{i}]")
        template_inputs = _mapping(template.get("inputs") or {}, f"{where}: inputs")
        arguments = _mapping(task.get("arguments") or {}, f"task {task_name!r}: arguments")
        args = {a["name"]: str(a.get("value", "")) for a in
                _named(arguments.get("parameters"), f"task {task_name!r}: arguments.parameters")}
        dependencies = tuple(_strings(task.get("dependencies"), f"task {task_name!r}: dependencies"))
        inputs = _input_values(template_inputs, args, where, f"task {task_name!r}: ")
        pod = f"{name}-{abs(hash(task_name)) % 10**10}"
        resolved = _substitute_all(_substitute_all(copy.deepcopy(template), {**globals_, "pod.name": pod}),
                                   {f"inputs.parameters.{k}": v for k, v in inputs.items()})
        container = resolved["container"]
        env = _container_env(container, resolved, pod, credentials, secret_values or {}, warn,
                             task_name)
        defined = dict(env)
        argv = tuple(kubelet_expand(a, defined) for a in
                     [*(container.get("command") or []), *(container.get("args") or [])])
        label = _label(dict(env), resolved, task_name)
        artifacts = tuple(a["path"] for a in (resolved.get("outputs") or {}).get("artifacts", []) or []
                          if "path" in a)
        steps.append(Step(task=task_name, label=label, dependencies=dependencies,
                           argv=argv, env=tuple(env), artifacts=artifacts))
    _check_dag(steps)
    return steps


def _input_values(inputs: Mapping[str, Any], given: Mapping[str, str], where: str,
                  missing: str) -> dict[str, str]:
    """A template's input parameters as Argo fills them: the given value, else the declared one."""
    filled = {}
    for p in _named(inputs.get("parameters"), f"{where}: inputs.parameters"):
        if p["name"] in given:
            filled[p["name"]] = given[p["name"]]
        elif "value" in p:
            filled[p["name"]] = str(p["value"])
        else:
            raise RunError(f"{missing}input {p['name']!r} has no value")
    return filled


def _check_dag(steps: list[Step]) -> None:
    """Every dependency is a task of the DAG and there is no cycle (Argo refuses both)."""
    tasks = {s.task for s in steps}
    for step in steps:
        missing = [d for d in step.dependencies if d not in tasks]
        if missing:
            raise UsageError(f"task {step.task!r} depends on unknown task(s) {missing}")
    looped = next((s.task for s in steps if s.task in s.dependencies), None)
    # find_cycle_in follows dependants; reversed, each task depends on the next
    cycle = [looped, looped] if looped else find_cycle_in({s.task: s.dependencies for s in steps})[::-1]
    if not cycle:
        return
    raise UsageError(f"the DAG's tasks form a cycle, so none of them can start: "
                     f"{' -> '.join(cycle)} (each task depends on the next)")


def _container_env(container: Mapping[str, Any], template: Mapping[str, Any], pod: str,
                   credentials: StorageKeys, secret_values: Mapping[tuple[str, str], str],
                   warn: Callable[[str], None], task: str) -> list[tuple[str, str]]:
    """The container's env in order, `$(VAR)` expanded from earlier entries as the kubelet does."""
    env: list[tuple[str, str]] = []
    defined: dict[str, str] = {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    # The object storage secret's keys, found by the names the loader reads (its private name
    # where the container has one, else the AWS_* name): every entry naming the same secret key
    # gets the same local credential, and the loader's own entries get it whatever they name.
    entries = [e for e in container.get("env") or [] if (e.get("valueFrom") or {}).get("secretKeyRef")]
    names = {e.get("name") for e in entries}
    loader = {(nodespec.ACCESS_KEY_ENV if nodespec.ACCESS_KEY_ENV in names else nodespec.USER_ACCESS_KEY_ENV):
              credentials.access_key,
              (nodespec.SECRET_KEY_ENV if nodespec.SECRET_KEY_ENV in names else nodespec.USER_SECRET_KEY_ENV):
              credentials.secret_key}
    storage: dict[tuple[str, str], str] = {}
    for entry in entries:
        ref = entry["valueFrom"]["secretKeyRef"]
        own = loader.get(entry.get("name"))
        if own is not None:
            storage[(ref.get("name", ""), ref.get("key", ""))] = own
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            value = kubelet_expand(str(entry["value"]), defined)
        else:
            source = entry.get("valueFrom") or {}
            secret = source.get("secretKeyRef")
            field_ref = source.get("fieldRef")
            if secret is not None:
                ref = (secret.get("name", ""), secret.get("key", ""))
                if name in loader:
                    value = loader[name]
                elif ref in storage:
                    value = storage[ref]
                elif ref in secret_values:
                    value = secret_values[ref]
                elif name in os.environ:
                    value = os.environ[name]
                else:
                    warn(f"[{task}] env {name} comes from secret {ref[0]!r} key {ref[1]!r}; set {name} "
                         "in this shell to pass it locally (left unset)")
                    continue
            elif field_ref is not None:
                path = field_ref.get("fieldPath", "")
                if path.startswith("metadata.annotations['") and path.endswith("']"):
                    value = str(annotations.get(path[len("metadata.annotations['"):-2], ""))
                elif path == "metadata.name":
                    value = pod
                elif path == "metadata.namespace":
                    value = "local"
                else:
                    warn(f"[{task}] env {name} comes from {path!r}, unknown locally (left unset)")
                    continue
            else:
                warn(f"[{task}] env {name} has a source the local runner does not know (left unset)")
                continue
        env.append((name, value))
        defined[name] = value
    return env


def _label(env: Mapping[str, str], template: Mapping[str, Any], task: str) -> str:
    if nodespec.NODE_ENV in env:
        try:
            return nodespec.decode(env[nodespec.NODE_ENV]).label or task
        except ValueError:
            pass
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get("pipelines.kubeflow.org/task_display_name") or task)
