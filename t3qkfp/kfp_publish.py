"""What every start of runs on KFP shares: connect, node files, the pipeline or its new version, the experiment.

Owns: the Python API's argument checks for starting runs (`check_arguments`), the namespace
(required by multi-user servers, refused by single-user ones), uploading the node archives the
compilation hashed, uploading the pipeline (a new pipeline, or a new version of the pipeline with
the same name, with kfp 1.2's name limit and a retry on a name taken meanwhile) and getting or
creating the experiment — in the order that leaves nothing on the server when an earlier step
fails. `publish` runs them all and returns a `Published`; one run (kfp_submit), a recurring run
and a sweep's runs (sweeps) start from it. Separate from kfp_submit so a sweep publishes exactly
as a submission does without reaching into it. Must not: compile, or start a run.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from . import object_storage
from .errors import SubmitError, UsageError
from .kfp_auth import ENV_NAMESPACE, KfpAuth, normalize_host
from .kfp_client import KfpConnection, connect, is_conflict

MAX_NAME_LENGTH = 100  # KFP 1.2 upload server: pipeline and version names (server/util.go)


def check_arguments(*, host: Any, auth: Any, timeout: Any, request_timeout: Any,
                    poll_interval: Any, **names: Any) -> None:
    """UsageError for arguments of the wrong type, before they fail deep inside (Python API)."""
    if not isinstance(host, str):
        raise UsageError(f"host must be a URL string such as http://127.0.0.1:8888/pipeline, "
                         f"not {type(host).__name__}")
    if auth is not None and not isinstance(auth, KfpAuth):
        # Never show the value: it is most likely a credential.
        raise UsageError(f"auth must be a KfpAuth, e.g. KfpAuth(token=...), KfpAuth(cookie=...) or "
                         f"KfpAuth(username=..., password=...), not {type(auth).__name__}")
    for name, value in names.items():
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a str, not {type(value).__name__}")
    for name, value, least in (("timeout", timeout, 0.0), ("request_timeout", request_timeout, None),
                               ("poll_interval", poll_interval, None)):
        if value is None and name == "timeout":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or (value < least if least is not None else value <= 0):
            limit = "0 or more" if least is not None else "more than 0"
            raise UsageError(f"{name} must be a number of seconds, {limit}, not {value!r}")


def server_target(host: str, auth: KfpAuth | None, namespace: str | None) -> tuple[str, KfpAuth, str | None]:
    """The server address, the credential (argument, else the T3QKFP_KFP_* env vars, checked)
    and the namespace (argument, else $T3QKFP_KFP_NAMESPACE) that submit and sweep both start
    from, resolved once before anything is compiled or sent."""
    target = normalize_host(host)
    auth = auth if auth is not None else KfpAuth.resolve()
    auth.check()
    return target, auth, namespace or os.environ.get(ENV_NAMESPACE) or None


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    """The connection and what `publish` made ready on the server: runs start from these ids."""

    connection: KfpConnection
    pipeline_id: str
    version_id: str
    version_name: str
    experiment_id: str

    def start_run(self, action: str, title: str, params: Mapping[str, Any]) -> str:
        """Start one run of the published version with these overrides; its id."""
        run = self.connection.call(action, self.connection.client.run_pipeline, self.experiment_id, title,
                                   params=params, pipeline_id=self.pipeline_id, version_id=self.version_id)
        return str(self.connection.need(action, run, "id", "the run's id"))


def publish(compiled: Any, *, host: str, auth: KfpAuth, request_timeout: float, name: str,
            now: _dt.datetime, experiment: str, namespace: str | None, upload_files: bool,
            report: Callable[[str], None]) -> Published:
    """Connect, upload the node files and the pipeline (or a new version), find the experiment.

    The steps every start of runs shares (one run, a recurring run, a sweep's runs), in the
    order that leaves nothing on the server when an earlier step fails. Call it inside
    kfp_client.quiet_kfp(), held until the last call on the connection.
    """
    connection = connect(host, auth, request_timeout)
    namespace = _namespace(connection, namespace)
    if upload_files:
        upload_node_files(compiled, progress=report)
    pipeline_id, version_id, version_name = _upload(connection, compiled.yaml, name, now,
                                                    compiled.pipeline.description)
    experiment_id = _experiment(connection, experiment, namespace)
    return Published(connection=connection, pipeline_id=pipeline_id, version_id=version_id,
                     version_name=version_name, experiment_id=experiment_id)


def _namespace(connection: KfpConnection, namespace: str | None) -> str | None:
    """The user namespace: required by multi-user servers, refused by single-user ones."""
    if connection.multi_user:
        namespace = namespace or connection.client.get_user_namespace() or None
        if not namespace:
            raise UsageError(f"the KFP server at {connection.host} is multi-user: pass --namespace "
                             f"(your Kubeflow profile namespace, or ${ENV_NAMESPACE})")
        return namespace
    if namespace:
        raise UsageError(f"the KFP server at {connection.host} is single-user: leave out --namespace "
                         f"(and ${ENV_NAMESPACE})")
    return None


def upload_node_files(compiled: Any, *, progress: Callable[[str], None] | None = None) -> None:
    """Put the compiled node archives into the bucket (object_storage.put_archives), before the workflow.

    Uploading exactly the archives the compilation hashed guarantees the keys in the workflow
    exist. Storage credentials are storage's business (AWS_ACCESS_KEY_ID / ..._SECRET_...).
    """
    stream = _LineStream(progress) if progress else None
    object_storage.put_archives(compiled.node_archives(), config=compiled.storage,
                                credentials=object_storage.Credentials.from_env(), progress=stream)


class _LineStream:
    """A file-like object that hands each written line to a callback (storage prints progress)."""

    def __init__(self, callback: Callable[[str], None]):
        self._callback = callback

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                # storage prefixes its lines for a terminal; the callback adds its own prefix
                self._callback(line.removeprefix("t3qkfp: "))
        return len(text)

    def flush(self) -> None:
        pass


def _upload(connection: KfpConnection, yaml_text: str, name: str, now: _dt.datetime,
            description: str) -> tuple[str, str, str]:
    """Upload as a new pipeline, or as a new version of the pipeline with this name.

    kfp 1.2 uploads from a file path, so the YAML is written to a temporary folder first.
    """
    with tempfile.TemporaryDirectory(prefix="t3qkfp-submit-") as tmp:
        path = Path(tmp) / "pipeline.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        pipeline_id = connection.call("looking up the pipeline", connection.client.get_pipeline_id, name)
        if pipeline_id is None:
            pipeline_id, version_id = _new_pipeline(connection, path, name, description)
            if version_id is not None:
                return pipeline_id, version_id, name
        return _new_version(connection, path, yaml_text, name, now, pipeline_id)


def _new_pipeline(connection: KfpConnection, path: Path, name: str,
                  description: str) -> tuple[str, str | None]:
    """Upload a new pipeline: its id and default version's id, or (id, None) for one made meanwhile.

    Someone may create a pipeline of this name between our lookup and our upload: the upload
    is then refused as a conflict, and that pipeline gets a new version instead if we can see it.
    """
    action = "uploading the pipeline"
    try:
        pipeline = connection.client.upload_pipeline(str(path), pipeline_name=name,
                                                     description=description or None)
    except Exception as exc:
        if not is_conflict(exc):
            raise connection.errors.error(action, exc) from None
        pipeline_id = connection.call("looking up the pipeline", connection.client.get_pipeline_id, name)
        if pipeline_id is None:
            raise SubmitError(
                f"pipeline name conflict: the KFP server already has a pipeline named {name!r} "
                "that cannot be found by name (it may belong to someone else); choose another "
                "name with --pipeline-name") from None
        return pipeline_id, None
    new_id = connection.need(action, pipeline, "id", "the new pipeline's id")
    return new_id, getattr(pipeline.default_version, "id", None) or new_id


def _new_version(connection: KfpConnection, path: Path, yaml_text: str, name: str, now: _dt.datetime,
                 pipeline_id: str) -> tuple[str, str, str]:
    """Upload a new version named after the pipeline, the time and the YAML's digest.

    The name must be new on the server: a conflict (two uploads in one second) retries with a
    counter, up to 5 names, all within kfp 1.2's name limit.
    """
    digest = hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()[:8]
    stamp = f"{now:%Y%m%d-%H%M%S}-{digest}"
    for attempt in range(5):
        suffix = f"{stamp}-{attempt}" if attempt else stamp
        version_name = f"{name[:MAX_NAME_LENGTH - len(suffix) - 1]}-{suffix}"
        action = "uploading a new version of the pipeline"
        try:
            version = connection.client.upload_pipeline_version(str(path), version_name,
                                                                pipeline_id=pipeline_id)
        except Exception as exc:
            if not is_conflict(exc):
                raise connection.errors.error(action, exc) from None
        else:
            return pipeline_id, connection.need(action, version, "id", "the new version's id"), version_name
    raise SubmitError(f"pipeline name conflict: the KFP server refused 5 version names for "
                      f"pipeline {name!r} as already existing; try again")


def _experiment(connection: KfpConnection, name: str, namespace: str | None) -> str:
    """The id of the experiment with this name (in the namespace), created if missing."""
    action = "getting or creating the experiment"
    experiment = connection.call(action, connection.client.create_experiment, name, namespace=namespace)
    return str(connection.need(action, experiment, "id", "the experiment's id"))
