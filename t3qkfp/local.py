"""Run an Elyra pipeline on this machine: compile, put its archives into object storage, execute.

Owns: `run_local()` (pipeline → compile → object storage (local_s3) → execute (local_exec) →
the run's files copied back) and the run folders (`<workdir>/<run id>/`, a results folder that
must be new or empty), claimed before anything starts and removed again if the run never starts.
The parts it joins are separate modules: local_steps reads a compiled workflow into steps,
local_exec runs them as processes, local_s3 is the private loopback S3 server.
Must not: use a shell, or let host credentials reach a node except through the env vars the
workflow takes from Kubernetes secrets.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Mapping, TextIO

from .compiler import compile_pipeline
from .elyra_reader import load_checked
from .errors import RunError, StorageError, UsageError
from .local_exec import LocalRun, note, run_workflow
from .local_s3 import RunStorage
from .params import check_overrides, plan
from .object_storage import Credentials, download_prefix, put_archives
from .storage_settings import StorageConfig


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
    # Unknown names, values that do not fit a typed parameter and values Argo cannot carry fail
    # before a server starts, by the check `submit` uses: the plan has the workflow's names and types.
    loaded = load_checked(pipeline_json, base_dir=base_dir, root_dir=root_dir)  # once: compiled below as it is
    params = check_overrides(plan(loaded.pipeline, scope=scope), params)
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
        with RunStorage(storage, credentials, lambda text: note(stream, text)) as (config, creds, local):
            compiled = compile_pipeline(loaded, scope=scope, storage=config)
            put_archives(compiled.node_archives(), config=config, credentials=creds,
                         create_bucket=create_bucket or local, progress=stream)
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
            note(stream, f"{len(copied)} result file(s) of run {run_id} copied to {results}")
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
