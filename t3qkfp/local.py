"""Run a compiled workflow on this machine, node by node, with the commands the pods run.

Owns: `run_local()` (compile + local S3 server + upload + run + copy results back) and
`run_workflow()` (execute an already compiled Argo workflow dict). Parameters are resolved as
KFP and Argo 2.7 would: KFP replaces `{{workflow.uid}}` with the run id in the whole workflow,
Argo fills `spec.arguments` (defaults, then overrides) into the entrypoint DAG's inputs, the
DAG's task arguments into each container template's inputs, and those into the container
(globals first, then inputs; fasttemplate semantics, so an unbalanced `{{` swallows the next
placeholder exactly as on a cluster). The kubelet's `$(VAR)` expansion of env values, command
and args is applied too, so a value with `$$` behaves as it would in a pod.
Why run the compiled workflow rather than the Elyra model: a green local run then means the
compiled YAML works, not that some second implementation does.
Must not: use a shell, or let host credentials reach a node except through the env vars the
workflow takes from Kubernetes secrets.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import os
import secrets as _secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from . import nodespec, quiet
from .errors import Interrupted, RunError, StorageError, UsageError, did_you_mean
from .params import check_names, check_override_value
from .object_storage import Credentials
from .storage_settings import StorageConfig

LOCAL_BUCKET_PREFIX = "t3qkfp-local"
# Host env vars a node process inherits; everything else comes from the container's env, as in a
# pod (where the image sets PATH/HOME and Kubernetes the rest).
_HOST_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
             "SYSTEMROOT", "TERM")
_UNSUPPORTED_TASK_KEYS = ("when", "withItems", "withParam", "withSequence", "onExit")
# A run's folder holds `nodes/<task>/{work,metadata}` and (run_local's default) `results/`:
# node folders live apart from the results, whose top level is named by task too.
NODES_FOLDER = "nodes"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeResult:
    """How one node ended locally."""

    task: str
    label: str
    status: str          # "succeeded" | "failed" | "not run"
    exit_code: int | None
    seconds: float
    workdir: Path | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRun:
    """A finished local run: its id, the resolved run parameters and where its files are.

    `workdir` is the run's own folder (node folders in `workdir/nodes/<task>/`), `results_dir`
    where its files from object storage were copied (None for `run_workflow`).
    """

    run_id: str
    parameters: dict[str, str]
    workdir: Path
    results_dir: Path | None
    nodes: tuple[NodeResult, ...] = field(default=())

    @property
    def succeeded(self) -> bool:
        return all(n.status == "succeeded" for n in self.nodes)


# --- the whole thing ---------------------------------------------------------------------------

def run_local(pipeline_json: Any, *, params: Mapping[str, Any] | None = None,
              base_dir: str | os.PathLike[str] | None = None,
              root_dir: str | os.PathLike[str] | None = None, storage: StorageConfig | None = None,
              workdir: str | os.PathLike[str] | None = None,
              results_dir: str | os.PathLike[str] | None = None, scope: str = "auto",
              credentials: Credentials | None = None, create_bucket: bool = False,
              max_parallel: int | None = None,
              secret_values: Mapping[tuple[str, str], str] | None = None,
              out: TextIO | None = None) -> LocalRun:
    """Compile `pipeline_json`, put its archives into object storage and run it here.

    Every run gets a folder of its own: `<workdir>/<run id>/` (with `workdir=None`, a new
    temporary folder), holding `nodes/<task>/` (each node's working and metadata folders) and
    `results/`, so running again with the same `workdir` never touches an earlier run.
    With `storage=None` a private S3 server (moto) is started on 127.0.0.1 with generated keys
    and stopped at the end, so nothing but this machine is involved; the run's files (executed
    notebooks, logs, outputs) are copied to `results_dir` (default `<run folder>/results`;
    a given one must be new or empty) first.
    With a `storage` config the real endpoint is used with `credentials` (default: the
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY env vars). Raises UsageError for unknown `params`,
    values that do not fit an Integer/Float/Bool parameter
    or an unusable folder (before anything starts), RunError naming the first node that failed
    (after copying the results). `secret_values` as for run_workflow.
    """
    from .compiler import compile_pipeline
    from .elyra_reader import load
    from .params import check_overrides, plan
    from .object_storage import download_prefix, put_archives

    # Unknown names, values that do not fit a typed parameter and values Argo cannot carry fail
    # before a server starts, by the check `submit` uses: the plan has the workflow's names and types.
    pipeline = load(pipeline_json, base_dir=base_dir, root_dir=root_dir)  # once: compiled below from the same model
    params = check_overrides(plan(pipeline, scope=scope), params)
    stream = out if out is not None else sys.stderr
    run_id = str(uuid.uuid4())
    # Folders are checked and claimed before the server starts, so a reused or unusable folder
    # is one clear error, not a failure in a node's thread after the uploads.
    given_results = _fresh_results_dir(results_dir, workdir)
    claimed = [given_results] if given_results is not None and not given_results.exists() else []
    work = _new_run_folder(workdir, run_id)
    claimed.insert(0, work)
    results = given_results if given_results is not None else work / "results"
    started = False
    try:
        if given_results is not None:
            try:
                given_results.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"results folder {str(given_results)!r} cannot be used: "
                                 f"{exc.strerror or exc}") from None
        with _ObjectStorage(storage, credentials, stream) as (config, creds, local):
            compiled = compile_pipeline(pipeline, scope=scope, storage=config)
            put_archives([(compiled.pipeline.node(node_id), archive)
                          for node_id, archive in compiled.archives.items()],
                         config=config, credentials=creds, create_bucket=create_bucket or local,
                         progress=stream)
            started = True
            failure: RunError | None = None
            try:
                run = run_workflow(compiled.workflow, params=params, credentials=creds, workdir=work,
                                   secret_values=secret_values,
                                   run_id=run_id, max_parallel=max_parallel, out=stream)
            except RunError as exc:
                failure = exc
                run = None
            try:
                copied = download_prefix(config, creds, config.key("runs", run_id), results)
            except StorageError as exc:
                if failure is None:
                    raise
                raise RunError(f"{failure}\nfiles of the run (executed notebooks, logs, outputs): {results}\n{exc}") from None
            _say(stream, f"{len(copied)} result file(s) of run {run_id} copied to {results}")
    except BaseException:
        if not started:  # still empty: a run that never started leaves no folder behind
            for folder in claimed:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise
    if failure is not None:
        raise type(failure)(f"{failure}\nfiles of the run (executed notebooks, logs, outputs): {results}")
    assert run is not None
    return LocalRun(run_id=run.run_id, parameters=run.parameters, workdir=work,
                    results_dir=results, nodes=run.nodes)


def _new_run_folder(workdir: str | os.PathLike[str] | None, run_id: str) -> Path:
    """`<workdir>/<run id>`, created here and new (a temporary folder when `workdir` is None)."""
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="t3qkfp-run-"))
    parent = Path(workdir)
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"workdir {str(parent)!r} is not a folder; choose another --workdir")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder = parent / run_id
        folder.mkdir(exist_ok=False)  # a fresh uuid: never an earlier run's folder, never lost
    except OSError as exc:
        raise UsageError(f"workdir {str(parent)!r} cannot be used: {exc.strerror or exc}") from exc
    return folder


def _fresh_results_dir(results_dir: str | os.PathLike[str] | None,
                       workdir: str | os.PathLike[str] | None) -> Path | None:
    """A given results folder must be new or empty, so copying a run into it overwrites nothing;
    run_local creates it (and removes it again if the run never starts)."""
    if results_dir is None:
        return None
    results = Path(results_dir)
    if workdir is not None and results.resolve() == Path(workdir).resolve():
        raise UsageError(f"results folder {str(results)!r} is the workdir; choose another --results "
                         "(by default each run's results are in <workdir>/<run id>/results)")
    try:
        if results.exists() and not results.is_dir():
            raise UsageError(f"results folder {str(results)!r} is not a folder; choose another --results")
        if results.exists() and any(results.iterdir()):
            raise UsageError(f"results folder {str(results)!r} already holds files; choose another "
                             "--results or remove it")
    except OSError as exc:
        raise UsageError(f"results folder {str(results)!r} cannot be used: {exc.strerror or exc}") from exc
    return results


class _ObjectStorage:
    """Context manager: (config, credentials, is_local) — a private moto server unless given."""

    def __init__(self, storage: StorageConfig | None, credentials: Credentials | None, out: TextIO):
        self.storage, self.credentials, self.out = storage, credentials, out
        self.server: Any = None

    def __enter__(self) -> tuple[StorageConfig, Credentials, bool]:
        if self.storage is not None:
            return self.storage, self.credentials or Credentials.from_env(), False
        self.server, endpoint = start_s3_server()
        config = StorageConfig(endpoint=endpoint, bucket=f"{LOCAL_BUCKET_PREFIX}-{uuid.uuid4().hex[:12]}")
        creds = self.credentials or Credentials(access_key="T3QKFP" + _secrets.token_hex(7).upper(),
                                                secret_key=_secrets.token_urlsafe(30))
        _say(self.out, f"local S3 server (moto) at {endpoint}, bucket {config.bucket}")
        self.config, self.creds = config, creds
        return config, creds, True

    def __exit__(self, *exc: object) -> None:
        if self.server is None:
            return
        try:
            _drop_bucket(self.config, self.creds)
        except StorageError:
            pass  # the server goes away anyway; this only frees moto's in-process memory
        self.server.stop()
        _say(self.out, "local S3 server stopped")


def start_s3_server() -> tuple[Any, str]:
    """moto's threaded S3 server on 127.0.0.1 and a free port; returns (server, endpoint URL).

    moto's modules raise DeprecationWarnings at import on some Python versions; they are not
    the user's concern, so the import is done with warnings silenced.
    """
    with quiet.silenced():
        from moto.server import ThreadedMotoServer
    # werkzeug logs every request at INFO through its own handler unless its logger has a level;
    # a user who configured that logger keeps their setting.
    werkzeug_log = logging.getLogger("werkzeug")
    if werkzeug_log.level == logging.NOTSET:
        werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _drop_bucket(config: StorageConfig, credentials: Credentials) -> None:
    from minio.deleteobjects import DeleteObject

    from .object_storage import _storage_call, make_client
    client = make_client(config, credentials)

    def drop() -> None:
        names = [DeleteObject(o.object_name) for o in client.list_objects(config.bucket, recursive=True)]
        for error in client.remove_objects(config.bucket, names):
            raise StorageError(str(error))
        client.remove_bucket(config.bucket)
    _storage_call(config, "removing the local bucket", drop)


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
class _Step:
    """One DAG task with its container template fully resolved."""

    task: str
    label: str
    dependencies: tuple[str, ...]
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    artifacts: tuple[str, ...]


def plan_steps(workflow: Mapping[str, Any], values: Mapping[str, str], *, run_id: str,
               credentials: Credentials, secret_values: Mapping[tuple[str, str], str] | None = None,
               warn: Callable[[str], None] = lambda _: None) -> list[_Step]:
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
    metadata = _mapping(wf.get("metadata") or {}, "the workflow's metadata")
    name = str(metadata.get("generateName") or "t3qkfp-").rstrip("-") + "-" + run_id[:5]
    globals_ = {"workflow.uid": run_id, "workflow.name": name, "workflow.namespace": "local",
                **{f"workflow.parameters.{k}": v for k, v in values.items()}}
    dag_inputs = {}
    entry_inputs = _mapping(entry.get("inputs") or {}, f"template {entrypoint!r}: inputs")
    for p in _named(entry_inputs.get("parameters"), f"template {entrypoint!r}: inputs.parameters"):
        if p["name"] in values:
            dag_inputs[p["name"]] = values[p["name"]]
        elif "value" in p:
            dag_inputs[p["name"]] = str(p["value"])
        else:
            raise RunError(f"entrypoint input {p['name']!r} has no value")
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
        inputs = {}
        for p in _named(template_inputs.get("parameters"), f"{where}: inputs.parameters"):
            if p["name"] in args:
                inputs[p["name"]] = args[p["name"]]
            elif "value" in p:
                inputs[p["name"]] = str(p["value"])
            else:
                raise RunError(f"task {task_name!r}: input {p['name']!r} has no value")
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
        steps.append(_Step(task=task_name, label=label, dependencies=dependencies,
                           argv=argv, env=tuple(env), artifacts=artifacts))
    _check_dag(steps)
    return steps


def _check_dag(steps: list[_Step]) -> None:
    """Every dependency is a task of the DAG and there is no cycle (Argo refuses both)."""
    from .checks import find_cycle_in

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
                   credentials: Credentials, secret_values: Mapping[tuple[str, str], str],
                   warn: Callable[[str], None], task: str) -> list[tuple[str, str]]:
    """The container's env in order, `$(VAR)` expanded from earlier entries as the kubelet does."""
    env: list[tuple[str, str]] = []
    defined: dict[str, str] = {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    # The object storage secret's keys, found by the private names the loader reads: every entry
    # naming the same secret key (the AWS_* the user's code sees) gets the same local credential.
    storage: dict[tuple[str, str], str] = {}
    for entry in container.get("env") or []:
        ref = ((entry.get("valueFrom") or {}).get("secretKeyRef") or {})
        own = {nodespec.ACCESS_KEY_ENV: credentials.access_key,
               nodespec.SECRET_KEY_ENV: credentials.secret_key}.get(entry.get("name"))
        if ref and own is not None:
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
                if name == nodespec.ACCESS_KEY_ENV:
                    value = credentials.access_key
                elif name == nodespec.SECRET_KEY_ENV:
                    value = credentials.secret_key
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
            return str(nodespec.decode(env[nodespec.NODE_ENV]).get("label") or task)
        except ValueError:
            pass
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get("pipelines.kubeflow.org/task_display_name") or task)


# --- execution ------------------------------------------------------------------------------------

def run_workflow(workflow: Mapping[str, Any], *, params: Mapping[str, Any] | None = None,
                 credentials: Credentials | None = None, workdir: str | os.PathLike[str] | None = None,
                 run_id: str | None = None, max_parallel: int | None = None,
                 secret_values: Mapping[tuple[str, str], str] | None = None,
                 out: TextIO | None = None) -> LocalRun:
    """Execute a compiled workflow's containers as local processes, in DAG order.

    Each node runs in a fresh folder `<workdir>/nodes/<task>/work` (as in a new pod) with
    T3QKFP_METADATA_DIR=`<workdir>/nodes/<task>/metadata`; `python3` is this interpreter (its
    folder is put first on PATH). A `workdir` that already holds a run's `nodes/` folder is
    refused (UsageError) before anything starts; so are a cycle, unknown dependencies and a
    malformed workflow. Independent nodes run in parallel threads; after the first failure
    no new node starts, running ones finish, and RunError names the failed node.
    Env vars from Kubernetes secrets: the object storage secret's keys get `credentials` (under
    the loader's private names and as AWS_* for the user's code), others
    `secret_values[(secret, key)]` or the same-named env var of this process.
    """
    stream = out if out is not None else sys.stderr
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            _say(stream, text)

    values = check_parameters(workflow, params)
    run_id = run_id or str(uuid.uuid4())
    creds = credentials or Credentials.from_env()
    steps = plan_steps(workflow, values, run_id=run_id, credentials=creds,
                       secret_values=secret_values, warn=say)
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="t3qkfp-run-"))
    _claim_nodes_folder(work)
    by_task = {s.task: s for s in steps}
    say(f"run {run_id}: {len(steps)} node(s); node images are not used locally, nodes run with "
        f"{sys.executable}")
    results: dict[str, NodeResult] = {}
    logs: dict[str, list[str]] = {}
    failed: list[str] = []
    started: list[str] = []
    workers = max_parallel or max(1, min(len(steps), os.cpu_count() or 2))
    procs: dict[str, subprocess.Popen[bytes]] = {}  # running node processes, for Ctrl-C
    interrupted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t3qkfp-node") as pool:
        running: dict[Future[NodeResult], str] = {}
        while True:
            if interrupted:
                if not running:
                    break
                done, _ = _wait_stopping(running, procs, lock)
                for future in done:
                    task = running.pop(future)
                    result = future.result()
                    results[task] = (result if result.status == "succeeded"
                                     else dataclasses.replace(result, status="interrupted"))
                continue
            if not failed:
                for step in steps:
                    if (step.task not in results and step.task not in running.values()
                            and all(results.get(d) and results[d].status == "succeeded"
                                    for d in step.dependencies)):
                        logs[step.task] = []
                        started.append(step.task)
                        running[pool.submit(_run_step, step, work, stream, lock, logs[step.task],
                                            procs)] = step.task
            if not running:
                break
            try:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                interrupted = True
                with lock:
                    _say(stream, "interrupted: stopping the running nodes (Ctrl-C again kills them at once)")
                _signal_groups(procs, lock, signal.SIGTERM)
                continue
            for future in done:
                task = running.pop(future)
                result = future.result()
                results[task] = result
                if result.status != "succeeded":
                    failed.append(task)
                finished = sum(1 for r in results.values() if r.status == "succeeded")
                say(f"{finished}/{len(steps)} nodes done ({by_task[task].label!r} {result.status} "
                    f"in {result.seconds:.1f}s)")
    # in the order they started (a topological order), then those that never ran
    nodes = tuple([results[t] for t in started] +
                  [NodeResult(task=s.task, label=s.label, status="not run", exit_code=None,
                              seconds=0.0, workdir=None) for s in steps if s.task not in results])
    if interrupted:
        states = "\n".join(f"  {n.task:<24} {n.status:<11} {n.label}" for n in nodes)
        raise Interrupted(f"run {run_id} interrupted:\n{states}\nrun folder: {work}")
    if failed:
        first = by_task[failed[0]]
        result = results[first.task]
        raise RunError(f"node {first.label!r} ({first.task}) failed with exit code {result.exit_code}; "
                       f"run {run_id} stopped.\n{_failure_excerpt(logs[first.task])}")
    say(f"run {run_id} succeeded: {len(steps)}/{len(steps)} nodes done")
    return LocalRun(run_id=run_id, parameters=values, workdir=work, results_dir=None, nodes=nodes)


def _claim_nodes_folder(work: Path) -> Path:
    """Create `<work>/nodes`, which must be new: node folders are never shared between runs."""
    nodes = work / NODES_FOLDER
    if work.exists() and not work.is_dir():
        raise UsageError(f"workdir {str(work)!r} is not a folder; choose another workdir")
    try:
        work.mkdir(parents=True, exist_ok=True)
        nodes.mkdir(exist_ok=False)
    except FileExistsError as exc:
        raise UsageError(f"{str(work)!r} already holds a run ({nodes} exists); choose another "
                         "workdir or remove it") from exc
    except OSError as exc:
        raise UsageError(f"workdir {str(work)!r} cannot be used: {exc.strerror or exc}") from exc
    return nodes


def _signal_groups(procs: Mapping[str, "subprocess.Popen[bytes]"], lock: threading.Lock, sig: int) -> None:
    """Send `sig` to every running node's process group (its notebook kernel and children too)."""
    with lock:
        targets = [p for p in procs.values() if p.poll() is None]
    for proc in targets:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_stopping(running: Mapping[Future[NodeResult], str], procs: Mapping[str, "subprocess.Popen[bytes]"],
                   lock: threading.Lock) -> tuple[set[Future[NodeResult]], set[Future[NodeResult]]]:
    """Wait for stopped nodes to end; a second Ctrl-C, or 10 s, kills what is left at once."""
    try:
        done, pending = wait(list(running), timeout=10, return_when=FIRST_COMPLETED)
    except KeyboardInterrupt:
        done, pending = set(), set(running)
    if not done:
        _signal_groups(procs, lock, signal.SIGKILL)
    return done, pending


def _run_step(step: _Step, work: Path, stream: TextIO, lock: threading.Lock, log: list[str],
              procs: dict[str, "subprocess.Popen[bytes]"] | None = None) -> NodeResult:
    """One node as one process; its output lines go to `stream` prefixed with `[task]`."""
    folder = work / NODES_FOLDER / step.task / "work"
    metadata = work / NODES_FOLDER / step.task / "metadata"
    folder.mkdir(parents=True, exist_ok=False)
    metadata.mkdir(parents=True, exist_ok=False)
    env = {k: os.environ[k] for k in _HOST_ENV if k in os.environ}
    env.update(dict(step.env))
    env[nodespec.METADATA_DIR_ENV] = str(metadata)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", os.defpath)])
    started = time.monotonic()
    with lock:
        _say(stream, f"[{step.task}] starting {step.label!r}")
    try:
        # Its own session: a terminal's Ctrl-C reaches t3qkfp only, which stops each node's
        # whole process group itself (no node traceback, and a kernel never outlives its node).
        proc = subprocess.Popen(list(step.argv), cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        log.append(f"cannot start {step.argv[0]!r}: {exc}")
        return NodeResult(task=step.task, label=step.label, status="failed", exit_code=None,
                          seconds=time.monotonic() - started, workdir=folder)
    if procs is not None:
        with lock:
            procs[step.task] = proc
    with proc:  # closes the pipe
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            log.append(line)
            with lock:
                print(f"[{step.task}] {line}", file=stream, flush=True)
        code = proc.wait()
    status = "succeeded" if code == 0 else "failed"
    if code == 0:
        # Argo saves the declared output artifacts after the container ends and fails the node
        # when a file is missing; KFP 1.2 declares its UI metadata / metrics files this way.
        for path in step.artifacts:
            local = metadata / Path(path).name
            if not local.is_file():
                log.append(f"t3qkfp: node {step.label!r} failed: it did not write {path}, a declared output artifact")
                status = "failed"
    return NodeResult(task=step.task, label=step.label, status=status, exit_code=code,
                      seconds=time.monotonic() - started, workdir=folder)


def _failure_excerpt(log: list[str]) -> str:
    """The node's own failure message through the end of its log, or its last lines."""
    for index in range(len(log) - 1, -1, -1):
        if log[index].startswith("t3qkfp: node ") and " failed" in log[index]:
            return "\n".join(log[index:])
    return "\n".join(log[-20:])


def _say(stream: TextIO, text: str) -> None:
    print(f"t3qkfp: {text}", file=stream, flush=True)
