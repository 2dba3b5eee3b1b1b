"""Sweeps: many runs of one pipeline over combinations of run-parameter values, compared by metrics.

Owns the two runners: `sweep_local` (each combination through `local.run_local`, at most
`parallel` at a time, its metrics read from the run's node folders) and `sweep` on KFP (one
pipeline version, one experiment, one run per combination with only its overrides, followed to
the end if asked, its metrics from the KFP run details), with one progress line for the whole
sweep. The combinations come from sweep_values, the comparison is sweep_result's SweepResult.
Why a failed combination is a row and not an exception: a sweep is a comparison; one bad
value must not hide the other results.
Must not: import kfp or matplotlib at module level (`import t3qkfp` stays fast); print (progress
goes to a callback or stream the caller chose).
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .compiler import compile_pipeline
from .elyra_reader import load_checked
from .errors import RunError, SubmitError, T3qkfpError, UsageError
from .kfp_client import quiet_kfp
from .kfp_follow import TERMINAL
from .kfp_publish import MAX_NAME_LENGTH, check_arguments, publish, server_target
from .local import run_local
from .local_exec import NODES_FOLDER
from .params import plan as make_plan
from .sweep_result import METRICS_FILE, SweepResult, SweepRun, merge_metrics, read_metrics_file
from .sweep_values import DEFAULT_MAX_RUNS, combinations, normalize_grid

_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def sweep_local(pipeline_json: Any, grid: Mapping[str, Any], *, random: int | None = None,
                seed: int | None = None, max_runs: int | None = DEFAULT_MAX_RUNS, parallel: int = 1,
                workdir: str | os.PathLike[str] | None = None, base_dir: str | os.PathLike[str] | None = None,
                root_dir: str | os.PathLike[str] | None = None,
                scope: str = "auto", name: str | None = None,
                on_progress: Callable[[str], None] | None = None,
                stop: threading.Event | None = None) -> SweepResult:
    """Run every combination here (local runner), at most `parallel` at a time, and compare them.

    Each run has its own folder under `workdir` (default: a new temporary folder) and writes
    its node output to `<workdir>/run-<n>.log`. Each run has its own private S3 server, as
    `run_local` starts one: moto's server is not safe for concurrent PUTs of one key, and the
    runs of a sweep upload the same content-addressed archives at once.
    Setting `stop` stops launching; runs not started are rows with status "not started".
    """
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise UsageError(f"parallel must be a whole number, 1 or more, not {parallel!r}")
    loaded = load_checked(pipeline_json, base_dir=base_dir, root_dir=root_dir)  # each run reuses it
    pipeline = loaded.pipeline
    the_plan = make_plan(pipeline, scope=scope)
    combos = combinations(the_plan, normalize_grid(the_plan, grid), random=random, seed=seed, max_runs=max_runs)
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="t3qkfp-sweep-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"workdir {str(root)!r} cannot be used: {exc.strerror or exc}") from None
    report = on_progress or (lambda line: None)
    stop = stop or threading.Event()
    progress = _Progress(len(combos), report)
    results: list[SweepRun | None] = [None] * len(combos)

    def one(index: int, overrides: dict[str, str]) -> SweepRun:
        base = SweepRun(index=index + 1, parameters=tuple(overrides.items()), status="not started")
        if stop.is_set():
            return base
        progress.started()
        log_path = root / f"run-{index + 1}.log"
        with open(log_path, "w", encoding="utf-8") as log:
            try:
                run = run_local(loaded, params=overrides, workdir=root, scope=scope, out=log)
            except RunError as exc:
                progress.ended(False)
                found = _RUN_ID.search(str(exc))
                run_id = found.group(0) if found else ""
                return replace(base, status="failed", run_id=run_id, error=_first_line(str(exc)),
                               folder=str(root / run_id) if run_id else str(log_path))
            except T3qkfpError as exc:
                progress.ended(False)
                return replace(base, status="error", error=_first_line(str(exc)), folder=str(log_path))
        metrics = merge_metrics(
            (node.task, read_metrics_file(run.workdir / NODES_FOLDER / node.task / "metadata" / METRICS_FILE))
            for node in run.nodes)
        progress.ended(run.succeeded)
        return replace(base, status="succeeded" if run.succeeded else "failed", run_id=run.run_id,
                       metrics=metrics, folder=str(run.workdir))

    interrupted = False
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="t3qkfp-sweep") as pool:
        futures = [pool.submit(one, i, c) for i, c in enumerate(combos)]
        try:
            for i, future in enumerate(futures):
                results[i] = future.result()
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for future in futures:
                future.cancel()
            for i, future in enumerate(futures):
                if not future.cancelled():
                    results[i] = future.result()
    rows = tuple(r if r is not None else SweepRun(index=i + 1, parameters=tuple(combos[i].items()),
                                                     status="not started")
                 for i, r in enumerate(results))
    return SweepResult(name=name or pipeline.name, swept=tuple(combos[0]) if combos else (), runs=rows,
                       target="local", interrupted=interrupted or stop.is_set())


class _Progress:
    """One progress line for the whole sweep: done/running/failed of the total."""

    def __init__(self, total: int, report: Callable[[str], None]):
        self.total, self.report = total, report
        self.running = self.done = self.failed = 0
        self._lock = threading.Lock()

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._say()

    def ended(self, ok: bool) -> None:
        with self._lock:
            self.running -= 1
            self.done += 1
            self.failed += 0 if ok else 1
            self._say()

    def set(self, *, done: int, running: int, failed: int) -> None:
        with self._lock:
            if (done, running, failed) != (self.done, self.running, self.failed):
                self.done, self.running, self.failed = done, running, failed
                self._say()

    def _say(self) -> None:
        self.report(f"sweep: {self.done}/{self.total} done, {self.running} running, {self.failed} failed")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# ---- running on KFP ------------------------------------------------------------------------
def sweep(pipeline_json: Any, grid: Mapping[str, Any], *, host: str, random: int | None = None,
          seed: int | None = None, max_runs: int | None = DEFAULT_MAX_RUNS, parallel: int | None = None,
          wait: bool = False, experiment: str | None = None, name: str | None = None,
          pipeline_name: str | None = None, namespace: str | None = None, auth: Any = None,
          storage: Any = None, base_dir: str | os.PathLike[str] | None = None,
          root_dir: str | os.PathLike[str] | None = None, upload_files: bool = True,
          timeout: float | None = None, request_timeout: float = 30.0, poll_interval: float = 5.0,
          on_progress: Callable[[str], None] | None = None,
          on_started: Callable[[SweepRun], None] | None = None) -> SweepResult:
    """Start one KFP run per combination: one pipeline version, one experiment named after the sweep.

    Each run gets only its own overrides (the other parameters keep their defaults). With
    `parallel`, at most that many of the sweep's runs are active at once (launching waits for
    one to end); `wait` follows all runs to their end and collects each run's metrics from the
    KFP run details (what KFP 1.2 reads from the nodes' metrics files). A run that could not be
    started or failed is a row with its status and error. Ctrl-C stops launching; the result
    (interrupted=True) lists the runs already on the server.
    """
    if parallel is not None and (isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1):
        raise UsageError(f"parallel must be a whole number, 1 or more, not {parallel!r}")
    check_arguments(host=host, auth=auth, experiment=experiment, run_name=name,
                    pipeline_name=pipeline_name, namespace=namespace, schedule=None,
                    timeout=timeout, request_timeout=request_timeout, poll_interval=poll_interval)
    if timeout is not None and not wait:
        raise UsageError("a timeout applies to following the runs: --timeout needs --wait (wait=True)")
    host, auth, namespace = server_target(host, auth, namespace)
    report = on_progress or (lambda line: None)
    compiled = compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, storage=storage, deterministic=True)
    combos = combinations(compiled.plan, normalize_grid(compiled.plan, grid), random=random, seed=seed,
                          max_runs=max_runs)
    pipe_name = pipeline_name or compiled.pipeline.name
    if not pipe_name or len(pipe_name) > MAX_NAME_LENGTH:
        raise UsageError(f"pipeline name {pipe_name!r} must be 1 to {MAX_NAME_LENGTH} characters; "
                         "choose one with --pipeline-name")
    now = _dt.datetime.now(_dt.timezone.utc)
    sweep_name = name or f"{pipe_name} sweep {now:%Y-%m-%d %H-%M-%S}"
    experiment_name = experiment or sweep_name
    rows: list[SweepRun] = [SweepRun(index=i + 1, parameters=tuple(c.items()), status="not started")
                            for i, c in enumerate(combos)]
    progress = _Progress(len(combos), report)
    interrupted = False
    version_id = ""

    with quiet_kfp():
        published = publish(compiled, host=host, auth=auth, request_timeout=request_timeout, name=pipe_name,
                            now=now, experiment=experiment_name, namespace=namespace,
                            upload_files=upload_files, report=report)
        session, client, version_id = published.connection, published.connection.client, published.version_id
        active: set[int] = set()
        try:
            for i, overrides in enumerate(combos):
                while parallel is not None and len(active) >= parallel:
                    _poll(session, client, rows, active, progress, collect=wait)
                    if active and len(active) >= parallel:
                        time.sleep(poll_interval)
                title = f"{sweep_name} #{i + 1}"
                try:
                    run_id = published.start_run("starting a run", title, overrides)
                except SubmitError as exc:
                    rows[i] = replace(rows[i], status="not started", error=str(exc))
                    progress.set(done=progress.done + 1, running=progress.running, failed=progress.failed + 1)
                    continue
                rows[i] = replace(rows[i], run_id=run_id, status="started", url=f"{host}/#/runs/details/{run_id}")
                active.add(i)
                progress.set(done=progress.done, running=len(active), failed=progress.failed)
                if on_started:
                    on_started(rows[i])
            # The timeout counts from here: following the runs, as `submit --timeout` does.
            deadline = None if timeout is None else time.monotonic() + timeout
            while wait and active:
                _poll(session, client, rows, active, progress, collect=True)
                if not active or (deadline is not None and time.monotonic() >= deadline):
                    break
                time.sleep(poll_interval if deadline is None
                           else max(0.0, min(poll_interval, deadline - time.monotonic())))
        except KeyboardInterrupt:
            interrupted = True
    return SweepResult(name=sweep_name, swept=tuple(combos[0]) if combos else (), runs=tuple(rows),
                       target=host, experiment=experiment_name, version_id=version_id, interrupted=interrupted)


def _poll(session: Any, client: Any, rows: list[SweepRun], active: set[int], progress: _Progress, *,
          collect: bool) -> None:
    """One status check of every active run; ended runs leave `active` with their metrics."""
    for i in sorted(active):
        try:
            detail = session.call("following a run", client.get_run, rows[i].run_id)
            run = session.need("following a run", detail, "run", f"the run {rows[i].run_id}")
        except SubmitError as exc:
            rows[i] = replace(rows[i], status="unknown", error=str(exc))
            active.discard(i)
            continue
        status = (run.status or "Pending")
        rows[i] = replace(rows[i], status=status.lower())  # as the local rows: succeeded, failed, running
        if status.lower() in TERMINAL:
            active.discard(i)
            rows[i] = replace(rows[i], metrics=_dedupe_kfp(run.metrics or []) if collect else (),
                              error="" if status.lower() == "succeeded" else (run.error or ""))
    done = sum(1 for r in rows if r.status in TERMINAL or r.status in ("unknown",) or
               (r.status == "not started" and r.error))
    failed = sum(1 for r in rows if (r.status in TERMINAL and r.status != "succeeded") or r.status == "unknown"
                 or (r.status == "not started" and r.error))
    progress.set(done=done, running=len(active), failed=failed)


def _dedupe_kfp(metrics: Sequence[Any]) -> tuple[tuple[str, float], ...]:
    """KFP run metrics (name, node_id, number_value) as merge_metrics pairs."""
    per_node: dict[str, list[tuple[str, float]]] = {}
    for m in metrics:
        if m.name and m.number_value is not None:
            per_node.setdefault(str(m.node_id or ""), []).append((str(m.name), float(m.number_value)))
    return merge_metrics(per_node.items())


def still_on_server(result: SweepResult) -> list[SweepRun]:
    """Runs of an interrupted or unfollowed sweep that may still be running on the server."""
    return [r for r in result.runs if r.run_id and r.status not in TERMINAL]
