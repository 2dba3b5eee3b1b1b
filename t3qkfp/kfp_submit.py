"""Submission to a Kubeflow Pipelines 1.2 server: compile, publish, start a run or schedule, wait.

Owns: `submit`, the public entry — checking the arguments and the run-parameter overrides
against the plan before anything is sent, then publishing (kfp_publish: node files, pipeline or
new version, experiment), starting a run or a recurring run (job; `kfp_cron` turns a standard
cron expression into the 6 fields KFP 1.2 reads), following the run (kfp_follow) — and its
result (`SubmitResult`, with the dashboard links). The last guard that no credential leaves in
an error message sits here, on the public entry. Credentials and the host are kfp_auth's, each
call's failure kfp_client's. Must not: compile anything itself (compiler.compile_pipeline does),
print (progress goes to a callback, the CLI decides where), or let a credential reach a message,
a log line or a repr.
"""
from __future__ import annotations

import datetime as _dt
import functools
import logging
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from .compiler import compile_pipeline
from .errors import MAX_PROBLEM_SHOWN, T3qkfpError, UsageError, bounded, shown
from .kfp_auth import KfpAuth
from .kfp_client import quiet_kfp
from .kfp_follow import follow
from .kfp_publish import MAX_NAME_LENGTH, Published, check_arguments, publish, server_target
from .params import check_overrides
from .secrecy import scrub

log = logging.getLogger("t3qkfp")

MAX_MESSAGE = MAX_PROBLEM_SHOWN  # no SubmitError is longer (server text is clipped before)
_CRON_FIELD = re.compile(r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
                         r"(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*")
_CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


# ---- result --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitResult:
    """What a submission created on the server, with the dashboard links a user clicks."""

    host: str
    pipeline_id: str
    pipeline_name: str
    version_id: str
    version_name: str
    experiment_id: str
    experiment_name: str
    parameters: tuple[tuple[str, str], ...] = ()
    run_id: str | None = None
    run_name: str | None = None
    run_url: str | None = None
    job_id: str | None = None
    job_name: str | None = None
    job_url: str | None = None
    schedule: str | None = None
    status: str | None = None

    def lines(self) -> list[str]:
        """The result as `key: value` lines (what the CLI prints on stdout)."""
        rows = [("pipeline", f"{self.pipeline_name} ({self.pipeline_id})"),
                ("version", f"{self.version_name} ({self.version_id})"),
                ("experiment", f"{self.experiment_name} ({self.experiment_id})")]
        if self.parameters:
            rows.append(("parameters", ", ".join(f"{k}={v}" for k, v in self.parameters)))
        if self.run_id:
            rows += [("run", f"{self.run_name} ({self.run_id})"), ("run id", self.run_id),
                     ("run url", self.run_url or "")]
        if self.job_id:
            rows += [("recurring run", f"{self.job_name} ({self.job_id})"),
                     ("recurring run id", self.job_id), ("schedule", self.schedule or ""),
                     ("recurring run url", self.job_url or "")]
        if self.status:
            rows.append(("status", self.status))
        return [f"{key}: {value}" for key, value in rows]


# ---- parameters ----------------------------------------------------------------------------
def kfp_cron(expr: str) -> str:
    """A cron expression in the form KFP 1.2 reads (robfig/cron v1: seconds first), or UsageError.

    KFP 1.2 parses 6 fields, seconds first; a standard 5-field expression would be read shifted
    by one field (minute as second, ...), so it gets a leading "0" second instead.
    """
    text = " ".join(expr.split())
    if text in _CRON_DESCRIPTORS or re.fullmatch(r"@every ([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+", text):
        return text
    fields = text.split(" ")
    if len(fields) not in (5, 6):
        raise UsageError(f"cron expression {expr!r} has {len(fields)} fields; give 5 (minute hour "
                         "day month weekday) or KFP's 6 (second minute hour day month weekday)")
    for item in fields:
        if not _CRON_FIELD.fullmatch(item):
            raise UsageError(f"cron expression {expr!r}: cannot read field {item!r}")
    return text if len(fields) == 6 else "0 " + text


# ---- the submission ------------------------------------------------------------------------
def _no_secret_in_errors(func: Callable[..., SubmitResult]) -> Callable[..., SubmitResult]:
    """The last guard: a t3qkfp error leaving `submit` is scrubbed of the credentials and bounded.

    Every message is built from scrubbed, clipped parts already (`KfpErrors.foreign`); this
    catches a path that forgot, so no credential reaches a terminal, a log or a notebook.
    """
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> SubmitResult:
        try:
            return func(*args, **kwargs)
        except T3qkfpError as exc:
            auth = kwargs.get("auth")
            secrets = list(auth.secrets()) if isinstance(auth, KfpAuth) else []
            secrets += KfpAuth.resolve().secrets()
            if exc.args and isinstance(exc.args[0], str) and not hasattr(exc, "problems"):
                exc.args = (bounded(scrub(exc.args[0], secrets), MAX_MESSAGE),) + exc.args[1:]
            raise

    return guarded


@_no_secret_in_errors
def submit(pipeline_json: Any, *, host: str, experiment: str | None = None,
           run_name: str | None = None, params: Mapping[str, Any] | None = None,
           pipeline_name: str | None = None, namespace: str | None = None,
           auth: KfpAuth | None = None, wait: bool = False, schedule: str | None = None,
           storage: Any = None, base_dir: str | os.PathLike[str] | None = None,
           root_dir: str | os.PathLike[str] | None = None,
           upload_files: bool = True, timeout: float | None = None,
           request_timeout: float = 30.0, poll_interval: float = 5.0,
           on_status: Callable[[str], None] | None = None,
           on_started: Callable[[SubmitResult], None] | None = None) -> SubmitResult:
    """Compile an Elyra pipeline and start it on a KFP 1.2 server; returns what was created.

    `params` overrides run parameters by name (all others keep their defaults) and is checked
    against the plan before anything is sent. The pipeline is uploaded under `pipeline_name`
    (default: the pipeline's name), as a new version when a pipeline of that name exists.
    `experiment` defaults to the pipeline name (as Elyra does). `schedule` (a cron expression)
    creates a recurring run instead of a run. `wait` follows the run until it ends, reporting
    each status change to `on_status` (default: the "t3qkfp" logger), for at most `timeout`
    seconds (None: until it ends), and raises SubmittedRunError (a SubmitError with `run_id` and
    `run_url`) if it did not succeed or could not be followed. `on_started` is called with the
    result as soon as the run or recurring run exists, before the run is followed.
    `auth` defaults to the T3QKFP_KFP_* env vars; `namespace` to $T3QKFP_KFP_NAMESPACE.
    """
    check_arguments(host=host, auth=auth, experiment=experiment, run_name=run_name,
                    pipeline_name=pipeline_name, namespace=namespace, schedule=schedule,
                    timeout=timeout, request_timeout=request_timeout, poll_interval=poll_interval)
    host, auth, namespace = server_target(host, auth, namespace)
    if wait and schedule:
        raise UsageError("--wait follows one run; a recurring run (--cron) has no single run to follow")
    if timeout is not None and not wait:
        raise UsageError("a timeout applies to following the run: --timeout needs --wait (wait=True)")
    cron = kfp_cron(schedule) if schedule else None
    report = on_status or (lambda line: log.info("%s", line))

    compiled = compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, storage=storage, deterministic=True)
    overrides = check_overrides(compiled.plan, params)
    name = pipeline_name or compiled.pipeline.name
    if not name or len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"pipeline name {shown(name)} must be 1 to {MAX_NAME_LENGTH} characters "
                         "(KFP 1.2's limit); choose one with --pipeline-name")
    now = _dt.datetime.now(_dt.timezone.utc)
    experiment_name = experiment or name

    with quiet_kfp():
        published = publish(compiled, host=host, auth=auth, request_timeout=request_timeout, name=name,
                            now=now, experiment=experiment_name, namespace=namespace,
                            upload_files=upload_files, report=report)
        base = SubmitResult(host=host, pipeline_id=published.pipeline_id, pipeline_name=name,
                            version_id=published.version_id, version_name=published.version_name,
                            experiment_id=published.experiment_id, experiment_name=experiment_name,
                            parameters=tuple(overrides.items()))
        title = run_name or f"{name} {now:%Y-%m-%d %H-%M-%S}"
        if cron:
            result = _schedule(published, base, title, cron, overrides)
            if on_started:
                on_started(result)
            return result
        run_id = published.start_run("starting the run", title, overrides)
        run_url = f"{host}/#/runs/details/{run_id}"
        result = replace(base, run_id=run_id, run_name=title, run_url=run_url)
        report(f"run {title!r} started: {run_url}")
        if on_started:
            on_started(result)
        if not wait:
            return result
        status = follow(published.connection, run_id=run_id, run_url=run_url, run_name=title,
                        timeout=timeout, poll_interval=poll_interval, report=report)
        return replace(result, status=status)


def _schedule(published: Published, base: SubmitResult, title: str, cron: str,
              overrides: Mapping[str, Any]) -> SubmitResult:
    """Create the recurring run (a KFP job, one run at a time) of the published version."""
    action = "creating the recurring run"
    connection = published.connection
    job = connection.call(action, connection.client.create_recurring_run,
                          published.experiment_id, title, cron_expression=cron, params=overrides,
                          pipeline_id=published.pipeline_id, version_id=published.version_id,
                          max_concurrency=1, enabled=True)
    job_id = connection.need(action, job, "id", "the recurring run's id")
    return replace(base, job_id=job_id, job_name=title, schedule=cron,
                   job_url=f"{base.host}/#/recurringrun/details/{job_id}")
