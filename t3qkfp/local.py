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

import copy
import json
import logging
import os
import secrets as _secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from . import nodespec
from .errors import RunError, StorageError, UsageError, did_you_mean
from .storage import Credentials, StorageConfig

LOCAL_BUCKET_PREFIX = "t3qkfp-local"
# Host env vars a node process inherits; everything else comes from the container's env, as in a
# pod (where the image sets PATH/HOME and Kubernetes the rest).
_HOST_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
             "SYSTEMROOT", "TERM")
_UNSUPPORTED_TASK_KEYS = ("when", "withItems", "withParam", "withSequence", "onExit")


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
    """A finished local run: its id, the resolved run parameters and where its files are."""

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
              base_dir: str | os.PathLike[str] | None = None, storage: StorageConfig | None = None,
              workdir: str | os.PathLike[str] | None = None,
              results_dir: str | os.PathLike[str] | None = None, scope: str = "auto",
              credentials: Credentials | None = None, create_bucket: bool = False,
              max_parallel: int | None = None, out: TextIO | None = None) -> LocalRun:
    """Compile `pipeline_json`, put its archives into object storage and run it here.

    With `storage=None` a private S3 server (moto) is started on 127.0.0.1 with generated keys
    and stopped at the end, so nothing but this machine is involved; the run's files (executed
    notebooks, logs, outputs) are copied to `results_dir` (default `<workdir>/results`) first.
    With a `storage` config the real endpoint is used with `credentials` (default: the
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY env vars). Raises UsageError for unknown `params`,
    RunError naming the first node that failed (after copying the results).
    """
    from .compiler import compile_pipeline
    from .elyra_reader import load
    from .params import plan
    from .storage import download_prefix, put_archives

    # Unknown names fail before a server starts: the plan has the same names as the workflow.
    names = {p.name for p in plan(load(pipeline_json, base_dir=base_dir), scope=scope).parameters}
    _check_names(names, params)
    stream = out if out is not None else sys.stderr
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="t3qkfp-run-"))
    work.mkdir(parents=True, exist_ok=True)
    results = Path(results_dir) if results_dir is not None else work / "results"
    with _ObjectStorage(storage, credentials, stream) as (config, creds, local):
        compiled = compile_pipeline(pipeline_json, base_dir=base_dir, scope=scope, storage=config)
        check_parameters(compiled.workflow, params)
        put_archives([(compiled.pipeline.node(node_id), archive)
                      for node_id, archive in compiled.archives.items()],
                     config=config, credentials=creds, create_bucket=create_bucket or local,
                     progress=stream)
        run_id = str(uuid.uuid4())
        failure: RunError | None = None
        try:
            run = run_workflow(compiled.workflow, params=params, credentials=creds, workdir=work,
                               run_id=run_id, max_parallel=max_parallel, out=stream)
        except RunError as exc:
            failure = exc
            run = None
        copied = download_prefix(config, creds, config.key("runs", run_id), results)
        _say(stream, f"{len(copied)} result file(s) of run {run_id} copied to {results}")
    if failure is not None:
        raise RunError(f"{failure}\nfiles of the run (executed notebooks, logs, outputs): {results}")
    assert run is not None
    return LocalRun(run_id=run.run_id, parameters=run.parameters, workdir=work,
                    results_dir=results, nodes=run.nodes)


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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

    from .storage import _storage_call, make_client
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
    return {p["name"]: str(p.get("value", "")) for p in
            workflow.get("spec", {}).get("arguments", {}).get("parameters", []) or []}


def check_parameters(workflow: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, str]:
    """Defaults with the overrides applied; unknown names and values Argo cannot carry are refused."""
    from .checks import argo_safe

    values = workflow_parameters(workflow)
    _check_names(set(values), params)
    for name, value in (params or {}).items():
        text = value if isinstance(value, str) else str(value)  # kfp.Client sends str(value)
        problem = argo_safe(text)
        if problem:
            raise UsageError(f"value of run parameter {name!r} {problem}")
        values[name] = text
    return values


def _check_names(names: set[str], params: Mapping[str, Any] | None) -> None:
    for name in params or {}:
        if name not in names:
            valid = ", ".join(sorted(names)) or "(none)"
            raise UsageError(f"unknown run parameter {name!r}.{did_you_mean(name, names)} "
                             f"Valid run parameters: {valid}")


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
    """The kubelet's `$(VAR)` expansion (kubernetes third_party/forked/golang/expansion).

    `$$` → `$`; `$(NAME)` → the value when NAME is defined earlier, else left as written.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                close = text.find(")", i + 2)
                if close >= 0:
                    name = text[i + 2:close]
                    out.append(defined[name] if name in defined else text[i:close + 1])
                    i = close + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


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
    """Every DAG task of the entrypoint with its argv and env resolved as on a cluster."""
    # KFP's API server replaces {{workflow.uid}} with the run id in the whole workflow JSON
    # (kubeflow/pipelines@1.2.0 backend/src/common/util/workflow.go ReplaceUID).
    wf = json.loads(json.dumps(workflow).replace("{{workflow.uid}}", run_id))
    spec = wf.get("spec", {})
    templates = {t["name"]: t for t in spec.get("templates", [])}
    entry = templates.get(spec.get("entrypoint", ""))
    if entry is None or "dag" not in entry:
        raise UsageError("the workflow's entrypoint is not a DAG template; the local runner runs "
                         "workflows compiled by t3qkfp")
    name = (wf.get("metadata", {}).get("generateName") or "t3qkfp-").rstrip("-") + "-" + run_id[:5]
    globals_ = {"workflow.uid": run_id, "workflow.name": name, "workflow.namespace": "local",
                **{f"workflow.parameters.{k}": v for k, v in values.items()}}
    dag_inputs = {}
    for p in (entry.get("inputs") or {}).get("parameters", []) or []:
        if p["name"] in values:
            dag_inputs[p["name"]] = values[p["name"]]
        elif "value" in p:
            dag_inputs[p["name"]] = str(p["value"])
        else:
            raise RunError(f"entrypoint input {p['name']!r} has no value")
    tasks = _substitute_all(_substitute_all(entry["dag"]["tasks"], globals_),
                            {f"inputs.parameters.{k}": v for k, v in dag_inputs.items()})
    steps = []
    for task in tasks:
        unsupported = [k for k in _UNSUPPORTED_TASK_KEYS if k in task]
        if unsupported:
            raise UsageError(f"task {task['name']!r} uses {unsupported}, which the local runner does not support")
        template = templates[task["template"]]
        if "container" not in template:
            raise UsageError(f"task {task['name']!r}: template {template['name']!r} is not a container template")
        args = {a["name"]: str(a.get("value", "")) for a in
                (task.get("arguments") or {}).get("parameters", []) or []}
        inputs = {}
        for p in (template.get("inputs") or {}).get("parameters", []) or []:
            if p["name"] in args:
                inputs[p["name"]] = args[p["name"]]
            elif "value" in p:
                inputs[p["name"]] = str(p["value"])
            else:
                raise RunError(f"task {task['name']!r}: input {p['name']!r} has no value")
        pod = f"{name}-{abs(hash(task['name'])) % 10**10}"
        resolved = _substitute_all(_substitute_all(copy.deepcopy(template), {**globals_, "pod.name": pod}),
                                   {f"inputs.parameters.{k}": v for k, v in inputs.items()})
        container = resolved["container"]
        env = _container_env(container, resolved, pod, credentials, secret_values or {}, warn,
                             task["name"])
        defined = dict(env)
        argv = tuple(kubelet_expand(a, defined) for a in
                     [*(container.get("command") or []), *(container.get("args") or [])])
        if not argv:
            raise UsageError(f"task {task['name']!r} has no command; the local runner cannot use image entrypoints")
        label = _label(dict(env), resolved, task["name"])
        artifacts = tuple(a["path"] for a in (resolved.get("outputs") or {}).get("artifacts", []) or []
                          if "path" in a)
        steps.append(_Step(task=task["name"], label=label, dependencies=tuple(task.get("dependencies") or ()),
                           argv=argv, env=tuple(env), artifacts=artifacts))
    return steps


def _container_env(container: Mapping[str, Any], template: Mapping[str, Any], pod: str,
                   credentials: Credentials, secret_values: Mapping[tuple[str, str], str],
                   warn: Callable[[str], None], task: str) -> list[tuple[str, str]]:
    """The container's env in order, `$(VAR)` expanded from earlier entries as the kubelet does."""
    env: list[tuple[str, str]] = []
    defined: dict[str, str] = {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
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
                if ref in secret_values:
                    value = secret_values[ref]
                elif name == nodespec.ACCESS_KEY_ENV:
                    value = credentials.access_key
                elif name == nodespec.SECRET_KEY_ENV:
                    value = credentials.secret_key
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

    Each node runs in a fresh folder `<workdir>/<task>/work` (as in a new pod) with
    T3QKFP_METADATA_DIR=`<workdir>/<task>/metadata`; `python3` is this interpreter (its folder
    is put first on PATH). Independent nodes run in parallel threads; after the first failure
    no new node starts, running ones finish, and RunError names the failed node.
    Env vars from Kubernetes secrets: the object storage keys get `credentials`, others
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
    by_task = {s.task: s for s in steps}
    for step in steps:
        missing = [d for d in step.dependencies if d not in by_task]
        if missing:
            raise UsageError(f"task {step.task!r} depends on unknown task(s) {missing}")
    say(f"run {run_id}: {len(steps)} node(s); node images are not used locally, nodes run with "
        f"{sys.executable}")
    results: dict[str, NodeResult] = {}
    logs: dict[str, list[str]] = {}
    failed: list[str] = []
    started: list[str] = []
    workers = max_parallel or max(1, min(len(steps), os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="t3qkfp-node") as pool:
        running: dict[Future[NodeResult], str] = {}
        while True:
            if not failed:
                for step in steps:
                    if (step.task not in results and step.task not in running.values()
                            and all(results.get(d) and results[d].status == "succeeded"
                                    for d in step.dependencies)):
                        logs[step.task] = []
                        started.append(step.task)
                        running[pool.submit(_run_step, step, work, stream, lock, logs[step.task])] = step.task
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
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
    if failed:
        first = by_task[failed[0]]
        result = results[first.task]
        raise RunError(f"node {first.label!r} ({first.task}) failed with exit code {result.exit_code}; "
                       f"run {run_id} stopped.\n{_failure_excerpt(logs[first.task])}")
    say(f"run {run_id} succeeded: {len(steps)}/{len(steps)} nodes done")
    return LocalRun(run_id=run_id, parameters=values, workdir=work, results_dir=None, nodes=nodes)


def _run_step(step: _Step, work: Path, stream: TextIO, lock: threading.Lock, log: list[str]) -> NodeResult:
    """One node as one process; its output lines go to `stream` prefixed with `[task]`."""
    folder = work / step.task / "work"
    metadata = work / step.task / "metadata"
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
        proc = subprocess.Popen(list(step.argv), cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        log.append(f"cannot start {step.argv[0]!r}: {exc}")
        return NodeResult(task=step.task, label=step.label, status="failed", exit_code=None,
                          seconds=time.monotonic() - started, workdir=folder)
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
