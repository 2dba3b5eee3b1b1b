"""Execute a compiled workflow's steps on this machine: one process group per node, in DAG order.

Owns: `run_workflow()` (steps from local_steps → node processes → `LocalRun`), the node folders
(`<workdir>/nodes/<task>/{work,metadata}`), each node's environment, its log lines, Ctrl-C (stop
every node's process group, a second Ctrl-C kills), declared output artifacts and the failure
message naming the first node that failed.
Why run the compiled workflow rather than the Elyra model: a green local run then means the
compiled YAML works, not that some second implementation does.
Must not: use a shell, compile, start an S3 server, or let host credentials reach a node except
through the env vars the workflow takes from Kubernetes secrets.
"""
from __future__ import annotations

import dataclasses
import os
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
from typing import Any, Mapping, TextIO

from . import nodespec
from .errors import Interrupted, RunError, UsageError
from .local_steps import Step, check_parameters, plan_steps
from .object_storage import Credentials

# Host env vars a node process inherits; everything else comes from the container's env, as in a
# pod (where the image sets PATH/HOME and Kubernetes the rest).
_HOST_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
             "SYSTEMROOT", "TERM")
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
    Env vars from Kubernetes secrets: the object storage secret's keys get `credentials` (as
    AWS_*, or under the loader's private names where the user's own secrets set AWS_*), others
    `secret_values[(secret, key)]` or the same-named env var of this process.
    """
    stream = out if out is not None else sys.stderr
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            note(stream, text)

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
                    note(stream, "interrupted: stopping the running nodes (Ctrl-C again kills them at once)")
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


def _run_step(step: Step, work: Path, stream: TextIO, lock: threading.Lock, log: list[str],
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
        note(stream, f"[{step.task}] starting {step.label!r}")
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


def note(stream: TextIO, text: str) -> None:
    """One `t3qkfp: ` line of the run's own output (node lines are prefixed `[task]` instead)."""
    print(f"t3qkfp: {text}", file=stream, flush=True)
