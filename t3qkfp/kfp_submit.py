"""Submission to a Kubeflow Pipelines 1.2 server: upload, version, experiment, run or schedule, wait.

Owns: the conversation with the KFP API through the real `kfp.Client` of kfp 1.2.0 — checking
run-parameter overrides against the plan before anything is sent, uploading node archives,
uploading the pipeline (a new pipeline, or a new version of the pipeline with the same name),
getting or creating the experiment, starting a run or a recurring run (job), following a run
to its end — plus authentication (none, bearer token, Kubeflow's `authservice_session`
cookie, Dex username/password) and turning every failure into one clear SubmitError line.
Must not: compile anything itself (compiler.compile_pipeline does), print (progress goes to a
callback, the CLI decides where), or let a credential reach a message, a log line or a repr.

kfp 1.2 quirks handled here, in one place each:
* `kfp.Client.__init__` polls healthz up to 5 times with 5-second sleeps when the server answers
  with an HTTP error, and follows redirects into HTML login pages; `_preflight` asks healthz
  once, without redirects and with a timeout, so a wrong host, path or credential fails at once.
* kfp_server_api 1.8.5 calls urllib3's deprecated `getheader(s)` on every response
  (DeprecationWarning); `_kfp_warnings` silences exactly that, around our kfp calls only.
* kfp's own `wait_for_run_completion` sleeps 5 s between polls and prints nothing; `_Session.follow`
  polls at `poll_interval` and reports each status change.
* kfp_server_api sends requests without a timeout and lets urllib3 follow redirects, so an
  expired Kubeflow session (a 302 to the Dex login page) comes back as an empty model object;
  `_Session._wrap_rest` gives this client's REST object `request_timeout`, no redirects (a 3xx is
  an error naming the login page) and refuses an HTML page as an answer. `_need` still checks
  every field we read, for any other empty answer.
* kfp 1.2's create/list/get_experiment fall back to the namespace saved in
  ~/.config/kfp/context.json (`set_user_namespace`); a single-user server refuses any namespace,
  so `_Session.connect` clears that fallback (in memory only) on single-user servers.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from . import quiet
from .errors import (FOREIGN_TEXT, MAX_PROBLEM_SHOWN, SubmitError, SubmittedRunError, T3qkfpError, UsageError,
                     WaitInterrupted, bounded, shown)
from .params import check_overrides
from .progress import duration
from .secrecy import check_header_value, refuse_userinfo, scrub, without_userinfo

log = logging.getLogger("t3qkfp")

API_PATH = "/apis/v1beta1"
SESSION_COOKIE = "authservice_session"
MAX_NAME_LENGTH = 100  # KFP 1.2 upload server: pipeline and version names (server/util.go)
MAX_MESSAGE = MAX_PROBLEM_SHOWN  # no SubmitError is longer (server text is clipped before)
TERMINAL = {"succeeded", "failed", "error", "skipped", "terminated"}
# Env vars read when no credential is passed; never read from the pipeline file.
ENV_TOKEN = "T3QKFP_KFP_TOKEN"
ENV_COOKIE = "T3QKFP_KFP_COOKIE"
ENV_USERNAME = "T3QKFP_KFP_USERNAME"
ENV_PASSWORD = "T3QKFP_KFP_PASSWORD"
ENV_NAMESPACE = "T3QKFP_KFP_NAMESPACE"

_LOGIN_LOCATION = re.compile(r"dex|auth|login|oauth|sign", re.I)
_CRON_FIELD = re.compile(r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
                         r"(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*")
_CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


# ---- credentials ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class KfpAuth:
    """How to authenticate to the KFP API; secrets are left out of repr so they never reach logs.

    At most one kind: a bearer `token` (IAP, istio JWT, ...), the `cookie` of a Kubeflow 1.2
    multi-user cluster (`authservice_session`, value alone or `authservice_session=...`), or a
    Dex `username`/`password` to log in with. `origin` says where they came from, for messages.
    Surrounding whitespace of a token or cookie is dropped: read from a secret file it usually
    ends with a newline, which no HTTP header can carry.
    """

    token: str | None = field(default=None, repr=False)
    cookie: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    origin: str = "arguments"

    def __post_init__(self) -> None:
        for name in ("token", "cookie"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.strip() or None)

    @classmethod
    def resolve(cls, *, token: str | None = None, cookie: str | None = None,
                username: str | None = None, password: str | None = None,
                env: Mapping[str, str] | None = None) -> "KfpAuth":
        """Arguments if any is given, else the T3QKFP_KFP_* env vars, else no credentials.

        The one mix allowed: a Dex username given as an argument with the password from
        $T3QKFP_KFP_PASSWORD (or the other way round), so the password stays off the command line.
        """
        env = os.environ if env is None else env
        if token or cookie or username or password:
            from_env = []
            if username and not password and env.get(ENV_PASSWORD):
                password, from_env = env[ENV_PASSWORD], [ENV_PASSWORD]
            elif password and not username and env.get(ENV_USERNAME):
                username, from_env = env[ENV_USERNAME], [ENV_USERNAME]
            origin = "arguments" + (f" and env {from_env[0]}" if from_env else "")
            return cls(token=token or None, cookie=cookie or None, username=username or None,
                       password=password or None, origin=origin)
        values = {key: env.get(var) or None for key, var in (
            ("token", ENV_TOKEN), ("cookie", ENV_COOKIE), ("username", ENV_USERNAME),
            ("password", ENV_PASSWORD))}
        used = [var for var in (ENV_TOKEN, ENV_COOKIE, ENV_USERNAME, ENV_PASSWORD) if env.get(var)]
        return cls(**values, origin=f"env {', '.join(used)}" if used else "none")

    @property
    def kind(self) -> str:
        """"none", "token", "cookie" or "dex" (after check(), exactly one applies)."""
        if self.token:
            return "token"
        if self.cookie:
            return "cookie"
        if self.username or self.password:
            return "dex"
        return "none"

    def check(self) -> None:
        """Refuse mixed or half-given credentials before anything is sent."""
        for name, value in (("token", self.token), ("cookie", self.cookie), ("username", self.username),
                            ("password", self.password)):
            if value is not None and not isinstance(value, str):
                raise UsageError(f"the KFP {name} must be a str, not {type(value).__name__}")
        kinds = [k for k, v in (("token", self.token), ("cookie", self.cookie),
                                ("username/password", self.username or self.password)) if v]
        if len(kinds) > 1:
            raise UsageError(f"give one kind of KFP credential, not {' and '.join(kinds)} ({self.origin})")
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise UsageError(f"Dex login needs a username and a password; the {missing} is missing "
                             f"(--{missing} or ${ENV_PASSWORD if missing == 'password' else ENV_USERNAME})")
        where = "" if self.origin in ("arguments", "none") else f" (from {self.origin})"
        if self.token:
            check_header_value(self.token, f"the KFP bearer token{where}")
        if self.cookie:
            check_header_value(self.cookie, f"the KFP {SESSION_COOKIE} cookie{where}", spaces=True)

    def describe(self) -> str:
        """Which auth was tried, without any secret: for error messages."""
        where = "" if self.origin in ("arguments", "none") else f" from {self.origin}"
        return {"none": "no credentials",
                "token": f"a bearer token{where}",
                "cookie": f"an {SESSION_COOKIE} cookie{where}",
                "dex": f"a Dex login as {shown(self.username)}{where}"}[self.kind]

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so messages can be scrubbed of them (secrecy.scrub)."""
        values = [self.token, self.cookie, self.password]
        if self.cookie and "=" in self.cookie:
            values.append(self.cookie.split("=", 1)[1])
        return tuple(v for v in values if v)

    def cookie_header(self) -> str | None:
        """The Cookie header for a session cookie given alone or as name=value."""
        if not self.cookie:
            return None
        return self.cookie if "=" in self.cookie else f"{SESSION_COOKIE}={self.cookie}"


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

    Every message is built from scrubbed, clipped parts already (`_Session._foreign`); this
    catches a path that forgot, so no credential reaches a terminal, a log or a notebook.
    """
    import functools

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
    from .compiler import compile_pipeline

    _check_arguments(host=host, auth=auth, experiment=experiment, run_name=run_name,
                     pipeline_name=pipeline_name, namespace=namespace, schedule=schedule,
                     timeout=timeout, request_timeout=request_timeout, poll_interval=poll_interval)
    host = normalize_host(host)
    auth = auth if auth is not None else KfpAuth.resolve()
    auth.check()
    if wait and schedule:
        raise UsageError("--wait follows one run; a recurring run (--cron) has no single run to follow")
    if timeout is not None and not wait:
        raise UsageError("a timeout applies to following the run: --timeout needs --wait (wait=True)")
    cron = kfp_cron(schedule) if schedule else None
    namespace = namespace or os.environ.get(ENV_NAMESPACE) or None
    report = on_status or (lambda line: log.info("%s", line))

    compiled = compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, storage=storage, deterministic=True)
    overrides = check_overrides(compiled.plan, params)
    name = pipeline_name or compiled.pipeline.name
    if not name or len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"pipeline name {shown(name)} must be 1 to {MAX_NAME_LENGTH} characters "
                         "(KFP 1.2's limit); choose one with --pipeline-name")
    now = _dt.datetime.now(_dt.timezone.utc)
    experiment_name = experiment or name

    with _Session(host, auth, request_timeout) as session:
        client, pipeline_id, version_id, version_name, experiment_id = session.publish(
            compiled, name=name, now=now, experiment=experiment_name, namespace=namespace,
            upload_files=upload_files, report=report)
        base = dict(host=host, pipeline_id=pipeline_id, pipeline_name=name, version_id=version_id,
                    version_name=version_name, experiment_id=experiment_id,
                    experiment_name=experiment_name, parameters=tuple(overrides.items()))
        title = run_name or f"{name} {now:%Y-%m-%d %H-%M-%S}"
        if cron:
            action = "creating the recurring run"
            job = session.call(action, client.create_recurring_run,
                               experiment_id, title, cron_expression=cron, params=overrides,
                               pipeline_id=pipeline_id, version_id=version_id, max_concurrency=1,
                               enabled=True)
            job_id = session.need(action, job, "id", "the recurring run's id")
            result = SubmitResult(**base, job_id=job_id, job_name=title, schedule=cron,
                                  job_url=f"{host}/#/recurringrun/details/{job_id}")
            if on_started:
                on_started(result)
            return result
        action = "starting the run"
        run = session.call(action, client.run_pipeline, experiment_id, title,
                           params=overrides, pipeline_id=pipeline_id, version_id=version_id)
        run_id = session.need(action, run, "id", "the run's id")
        result = SubmitResult(**base, run_id=run_id, run_name=title,
                              run_url=f"{host}/#/runs/details/{run_id}")
        report(f"run {title!r} started: {result.run_url}")
        if on_started:
            on_started(result)
        if not wait:
            return result
        status = session.follow(client, result, timeout=timeout, poll_interval=poll_interval,
                                report=report)
        return SubmitResult(**{**base, "run_id": result.run_id, "run_name": title,
                               "run_url": result.run_url, "status": status})


def _check_arguments(*, host: Any, auth: Any, timeout: Any, request_timeout: Any,
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


def normalize_host(host: str) -> str:
    """`http(s)://host[:port][/path]` without a trailing slash, or UsageError.

    A user:password@ in the host is refused first: kfp.Client would send it nowhere useful and
    every run link we print would show it.
    """
    refuse_userinfo(host or "", "KFP host", "pass --token, --cookie, or --username with "
                    f"${ENV_PASSWORD} (Python: auth=KfpAuth(...))")
    text = (host or "").strip().rstrip("/")
    if not re.match(r"https?://[^/\s]+", text):
        raise UsageError(f"KFP host {shown(host)} must be a URL such as http://127.0.0.1:8888 or "
                         "https://kubeflow.example.com/pipeline")
    if text.endswith(API_PATH) or API_PATH + "/" in text:
        raise UsageError(f"KFP host {shown(host)}: give the address before {API_PATH} "
                         "(for example https://kubeflow.example.com/pipeline)")
    return text


def upload_node_files(compiled: Any, *, progress: Callable[[str], None] | None = None) -> None:
    """Put the compiled node archives into the bucket (object_storage.put_archives), before the workflow.

    Uploading exactly the archives the compilation hashed guarantees the keys in the workflow
    exist. Storage credentials are storage's business (AWS_ACCESS_KEY_ID / ..._SECRET_...).
    """
    from . import object_storage

    nodes = {node.id: node for node in compiled.pipeline.nodes}
    archives = [(nodes[node_id], archive) for node_id, archive in compiled.archives.items()]
    stream = _LineStream(progress) if progress else None
    object_storage.put_archives(archives, config=compiled.storage,
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


@contextlib.contextmanager
def _kfp_warnings() -> Iterator[None]:
    """Silence only the warnings kfp 1.2 and kfp_server_api 1.8.5 cause, around our kfp calls.

    kfp_server_api's rest.py calls urllib3 1.26's deprecated HTTPResponse.getheader(s)
    (DeprecationWarning on every response); importing kfp 1.2 emits DeprecationWarnings from
    its own and kubernetes' modules. Neither is the user's concern.
    """
    def filters() -> None:
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=r"HTTPResponse\.getheaders?\(\) is deprecated")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(kfp|kubernetes|kfp_server_api)\b")

    # Held for the whole session: quiet.py says why filter changes must not overlap.
    with quiet.silenced(filters):
        yield


class _Session:
    """One submission's connection: the preflight, the kfp.Client and error translation."""

    def __init__(self, host: str, auth: KfpAuth, request_timeout: float):
        self.host = host
        self.auth = auth
        self.request_timeout = request_timeout
        self.cookie: str | None = auth.cookie_header()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._warnings = _kfp_warnings()

    def __enter__(self) -> "_Session":
        self._warnings.__enter__()
        self._tmp = tempfile.TemporaryDirectory(prefix="t3qkfp-submit-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp:
            self._tmp.cleanup()
        self._warnings.__exit__(*exc)

    # -- connecting ------------------------------------------------------------------------
    def publish(self, compiled: Any, *, name: str, now: _dt.datetime, experiment: str,
                namespace: str | None, upload_files: bool,
                report: Callable[[str], None]) -> tuple[Any, str, str, str, str]:
        """Connect, upload the node files and the pipeline (or a new version), find the experiment.

        The steps every start of runs shares (one run, a recurring run, a sweep's runs), in the
        order that leaves nothing on the server when an earlier step fails. Returns the client,
        pipeline id, version id, version name and experiment id.
        """
        client, multi_user = self.connect()
        namespace = self.namespace(client, multi_user, namespace)
        if upload_files:
            upload_node_files(compiled, progress=report)
        pipeline_id, version_id, version_name = self.upload(client, compiled.yaml, name, now,
                                                            compiled.pipeline.description)
        experiment_id = self.experiment(client, experiment, namespace)
        return client, pipeline_id, version_id, version_name, experiment_id

    def connect(self) -> tuple[Any, bool]:
        """Log in if asked, ask healthz once (fast, clear errors), then build kfp.Client."""
        if self.auth.kind == "dex":
            self.cookie = dex_login(self.host, self.auth, timeout=self.request_timeout)
        healthz = self._preflight()
        import kfp

        try:
            client = kfp.Client(host=self.host, existing_token=self.auth.token or None,
                                cookies=self.cookie)
        except Exception as exc:  # kfp.Client raises anything; healthz just worked, so say so
            raise self.error("connecting", exc) from None
        self._wrap_rest(client)
        multi_user = bool(healthz.get("multi_user"))
        if not multi_user:
            self._forget_saved_namespace(client)
        return client, multi_user

    @staticmethod
    def _forget_saved_namespace(client: Any) -> None:
        """Single-user servers refuse any namespace: drop kfp's saved one, in memory only.

        kfp 1.2's create_experiment / get_experiment / list_experiments / list_runs send
        `namespace or self.get_user_namespace()`, the namespace `set_user_namespace` saved in
        ~/.config/kfp/context.json (for another, multi-user cluster, say); the file is not touched.
        """
        settings = getattr(client, "_context_setting", None)
        if isinstance(settings, dict):
            settings["namespace"] = ""

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.auth.token:
            headers["Authorization"] = f"Bearer {self.auth.token}"
        if self.cookie:
            headers["Cookie"] = self.cookie
        return headers

    def _preflight(self) -> dict[str, Any]:
        """GET healthz once: unreachable, login redirects, 401/403 and 404 each get one line."""
        import requests

        url = self.host + API_PATH + "/healthz"
        try:
            response = requests.get(url, headers=self._headers(), allow_redirects=False,
                                    timeout=self.request_timeout)
        except requests.exceptions.Timeout:
            raise SubmitError(f"cannot reach the KFP API at {self.host}: no answer within "
                              f"{self.request_timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise SubmitError(f"cannot reach the KFP API at {self.host}: {self._foreign(_reason(exc))}") from None
        status = response.status_code
        if 300 <= status < 400:
            raise self._redirect_error("", status, response.headers.get("Location", ""))
        if status >= 400:
            raise self._http_error("connecting", status, response.text, content_type=
                                   response.headers.get("Content-Type", ""))
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SubmitError(f"{self.host} is not a KFP API: {API_PATH}/healthz did not answer JSON "
                              f"(HTTP {status}); the KFP API path is usually /pipeline, "
                              "e.g. https://kubeflow.example.com/pipeline")
        return data

    def _wrap_rest(self, client: Any) -> None:
        """Every kfp call: a (connect, read) timeout, no redirects, and no HTML page as an answer.

        kfp.Client's methods have no timeout argument, and kfp_server_api's RESTClientObject sends
        `timeout=None` to urllib3 unless `_request_timeout` is given; so this client's (one,
        shared) REST object gets a default `_request_timeout`. Its urllib3 pool follows redirects,
        so an expired Kubeflow session (302 to the Dex login page) would come back as the login
        page, which kfp_server_api turns into an empty object: the pool is told not to follow
        (the 3xx becomes an ApiException that `error` explains), and a 2xx HTML page is refused.
        Only this instance is touched.
        """
        api_client = getattr(getattr(client, "_run_api", None), "api_client", None)
        rest = getattr(api_client, "rest_client", None)
        if rest is None or not callable(getattr(rest, "request", None)):
            return
        pool = getattr(rest, "pool_manager", None)
        if pool is not None and callable(getattr(pool, "request", None)):
            pool_request = pool.request

            def no_redirects(*args: Any, **kwargs: Any) -> Any:
                kwargs["redirect"] = False
                return pool_request(*args, **kwargs)

            pool.request = no_redirects
        send = rest.request
        limits = (self.request_timeout, self.request_timeout)

        def request(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
            response = send(*args, _request_timeout=_request_timeout or limits, **kwargs)
            data = getattr(response, "data", None)
            if isinstance(data, (bytes, str)) and data[:200].lstrip()[:1] in (b"<", "<"):
                raise _HtmlAnswer(getattr(response, "status", 200))
            return response

        rest.request = request

    def namespace(self, client: Any, multi_user: bool, namespace: str | None) -> str | None:
        """The user namespace: required by multi-user servers, refused by single-user ones."""
        if multi_user:
            namespace = namespace or client.get_user_namespace() or None
            if not namespace:
                raise UsageError(f"the KFP server at {self.host} is multi-user: pass --namespace "
                                 f"(your Kubeflow profile namespace, or ${ENV_NAMESPACE})")
            return namespace
        if namespace:
            raise UsageError(f"the KFP server at {self.host} is single-user: leave out --namespace "
                             f"(and ${ENV_NAMESPACE})")
        return None

    # -- calls -----------------------------------------------------------------------------
    def call(self, action: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one kfp.Client call; every failure becomes one SubmitError line."""
        try:
            return func(*args, **kwargs)
        except SubmitError:
            raise
        except Exception as exc:  # kfp raises ApiException, urllib3 errors and bare ValueErrors
            raise self.error(action, exc) from None

    def need(self, action: str, obj: Any, path: str, what: str) -> Any:
        """The field at `path` ("run.id") of a kfp answer, or one SubmitError line if it is empty.

        kfp_server_api turns any answer it cannot read (an empty body, `{}`, a page from a proxy)
        into a model object whose fields are all None; reading on would be an AttributeError.
        """
        value = obj
        for part in path.split("."):
            value = getattr(value, part, None) if value is not None else None
        if value is None or value == "":
            hint = ("has the session expired? log in again" if self.auth.kind in ("cookie", "dex")
                    else "is a login page or a proxy in front of the API?")
            raise SubmitError(f"{action}: the KFP API at {self.host} answered without {what} (an "
                              f"empty or foreign answer with {self.auth.describe()}; {hint})")
        return value

    def upload(self, client: Any, yaml_text: str, name: str, now: _dt.datetime,
               description: str) -> tuple[str, str, str]:
        """Upload as a new pipeline, or as a new version of the pipeline with this name."""
        assert self._tmp is not None
        path = Path(self._tmp.name) / "pipeline.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        pipeline_id = self.call("looking up the pipeline", client.get_pipeline_id, name)
        if pipeline_id is None:
            action = "uploading the pipeline"
            try:
                pipeline = client.upload_pipeline(str(path), pipeline_name=name,
                                                  description=description or None)
            except Exception as exc:
                if not _is_conflict(exc):
                    raise self.error(action, exc) from None
                # Someone created it since we looked: fall back to a version if we can see it.
                pipeline_id = self.call("looking up the pipeline", client.get_pipeline_id, name)
                if pipeline_id is None:
                    raise SubmitError(
                        f"pipeline name conflict: the KFP server already has a pipeline named {name!r} "
                        "that cannot be found by name (it may belong to someone else); choose another "
                        "name with --pipeline-name") from None
            else:
                new_id = self.need(action, pipeline, "id", "the new pipeline's id")
                version_id = getattr(pipeline.default_version, "id", None) or new_id
                return new_id, version_id, name
        digest = hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()[:8]
        stamp = f"{now:%Y%m%d-%H%M%S}-{digest}"
        for attempt in range(5):
            suffix = f"{stamp}-{attempt}" if attempt else stamp
            version_name = f"{name[:MAX_NAME_LENGTH - len(suffix) - 1]}-{suffix}"
            action = "uploading a new version of the pipeline"
            try:
                version = client.upload_pipeline_version(str(path), version_name, pipeline_id=pipeline_id)
            except Exception as exc:
                if not _is_conflict(exc):
                    raise self.error(action, exc) from None
            else:
                return pipeline_id, self.need(action, version, "id", "the new version's id"), version_name
        raise SubmitError(f"pipeline name conflict: the KFP server refused 5 version names for "
                          f"pipeline {name!r} as already existing; try again")

    def experiment(self, client: Any, name: str, namespace: str | None) -> str:
        """The id of the experiment with this name (in the namespace), created if missing."""
        action = "getting or creating the experiment"
        experiment = self.call(action, client.create_experiment, name, namespace=namespace)
        return str(self.need(action, experiment, "id", "the experiment's id"))

    def follow(self, client: Any, result: SubmitResult, *, timeout: float | None,
               poll_interval: float, report: Callable[[str], None]) -> str:
        """Poll the run until it ends; SubmittedRunError (with the run's id and URL) unless it succeeded.

        Polls every `poll_interval` seconds, but never sleeps past `timeout`: the last poll is at
        the deadline, and a timeout reports the time really spent.
        """
        assert result.run_id is not None and result.run_url is not None
        start = time.monotonic()
        last: str | None = None
        seen: dict[str, str] = {}  # node phases already reported
        said = 0.0  # when the last line was reported (for the heartbeat)

        def failure(message: str) -> SubmittedRunError:
            return SubmittedRunError(message, run_id=str(result.run_id), run_url=str(result.run_url),
                            run_name=result.run_name, status=last)

        action = "following the run"
        try:
            while True:
                try:
                    detail = self.call(action, client.get_run, result.run_id)
                    run = self.need(action, detail, "run", f"the run {result.run_id}")
                except SubmitError as exc:
                    raise failure(f"{exc}; the run goes on on the server: {result.run_url}") from None
                status = run.status or "Pending"
                elapsed = time.monotonic() - start
                nodes = node_phases(detail)
                for task, phase in nodes.items():
                    if seen.get(task) != phase:
                        shown_phase = phase if phase in ARGO_PHASES else shown(phase)
                        report(f"node {shown(task)}: {shown_phase} ({duration(elapsed)})")
                        said = elapsed
                seen.update(nodes)
                if status != last:
                    report(f"run {shown(result.run_name)}: {status} ({duration(elapsed)})")
                    last, said = status, elapsed
                elif elapsed - said >= HEARTBEAT and status.lower() not in TERMINAL:
                    running = [shown(task) for task, phase in seen.items() if phase == "Running"]
                    report(f"run {shown(result.run_name)}: still {status} after {duration(elapsed)}"
                           + (f" (running: {', '.join(running)})" if running else ""))
                    said = elapsed
                if status.lower() in TERMINAL:
                    if status.lower() != "succeeded":
                        error = run.error or ""
                        raise failure(f"run {shown(result.run_name)} ({result.run_id}) ended {status}"
                                      f"{': ' + self._foreign(error) if error else ''}; see {result.run_url}")
                    return status
                if timeout is not None:
                    left = timeout - elapsed
                    if left <= 0:
                        raise failure(f"run {shown(result.run_name)} ({result.run_id}) is still {status} after "
                                      f"{_seconds(elapsed)} (timeout {timeout:g} s); it goes on on the "
                                      f"server: {result.run_url}")
                    time.sleep(min(poll_interval, left))
                else:
                    time.sleep(poll_interval)
        except KeyboardInterrupt:
            raise WaitInterrupted(f"interrupted: run {shown(result.run_name)} ({result.run_id}) goes on on the "
                                  f"server: {result.run_url}", run_id=str(result.run_id),
                                  run_url=str(result.run_url), run_name=result.run_name, status=last) from None

    # -- errors ----------------------------------------------------------------------------
    def error(self, action: str, exc: BaseException) -> SubmitError:
        """One clear line for a failed kfp call, naming the cause and the fix."""
        status = getattr(exc, "status", None)
        if isinstance(exc, _HtmlAnswer):
            return self._html_error(action, exc.status)
        if isinstance(status, int) and 300 <= status < 400:
            headers = getattr(exc, "headers", None) or {}
            return self._redirect_error(action, status, str(headers.get("Location", "") or ""))
        if isinstance(status, int) and status >= 400:
            headers = getattr(exc, "headers", None) or {}
            return self._http_error(action, status, getattr(exc, "body", "") or "",
                                    content_type=str(headers.get("Content-Type", "")))
        import urllib3

        if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
            return SubmitError(f"{action}: cannot reach the KFP API at {self.host}: {self._foreign(_reason(exc))}")
        if isinstance(exc, ValueError):  # kfp's own checks, e.g. several pipelines with one name
            return SubmitError(f"{action}: {self._foreign(str(exc))}")
        return SubmitError(f"{action}: {type(exc).__name__}: {self._foreign(str(exc))}")

    def _redirect_error(self, action: str, status: int, location: str) -> SubmitError:
        """A 3xx from the KFP API: a login page (not authenticated, or no longer) or a moved host."""
        prefix = f"{action}: " if action else ""
        if _LOGIN_LOCATION.search(location):
            if self.auth.kind in ("cookie", "dex") and action:
                fix = (f"the session may have expired: log in again (--username/--password) or pass "
                       f"a fresh --cookie ({SESSION_COOKIE})")
            else:
                fix = (f"pass --cookie ({SESSION_COOKIE}) or --username/--password for a Dex login, "
                       "or --token")
            return SubmitError(f"{prefix}not authenticated (the KFP API at {self.host} redirected to "
                               f"its login page, HTTP {status}) with {self.auth.describe()}; {fix}")
        target = without_userinfo(self._scrub(location))
        moved = target
        api = moved.find(API_PATH)
        if api >= 0:  # the redirect of an API call: the host is what comes before the API path
            moved = moved[:api]
        return SubmitError(f"{prefix}the KFP API at {self.host} redirected to {bounded(target, FOREIGN_TEXT)!r} "
                           f"(HTTP {status}); give {bounded(moved, FOREIGN_TEXT)!r} as --host")

    def _html_error(self, action: str, status: int) -> SubmitError:
        """A 2xx HTML page where KFP answers JSON: a login page or a proxy served instead."""
        return SubmitError(f"{action}: the KFP API at {self.host} answered with an HTML page, not "
                           f"KFP's JSON (HTTP {status}): a login page? not authenticated with "
                           f"{self.auth.describe()}, or the host path is wrong (usually /pipeline)")

    def _http_error(self, action: str, status: int, body: Any, *, content_type: str = "") -> SubmitError:
        message = self._foreign(_server_message(body))
        said = f": {message}" if message else ""
        if status == 401:
            return SubmitError(f"{action}: the KFP API at {self.host} refused the request as not "
                               f"authenticated (HTTP 401) with {self.auth.describe()}{said}")
        if status == 403:
            return SubmitError(f"{action}: the KFP API at {self.host} refused the request as forbidden "
                               f"(HTTP 403) with {self.auth.describe()}{said}; check the credentials and "
                               "that the namespace is yours")
        if status == 404 and not _is_kfp_error(body):
            return SubmitError(f"{action}: nothing answers at {self.host}{API_PATH} (HTTP 404): wrong "
                               "host path? The KFP API path is usually /pipeline, e.g. "
                               "https://kubeflow.example.com/pipeline or http://127.0.0.1:8888/pipeline")
        if _looks_like_conflict(status, message):
            return SubmitError(f"{action}: name conflict on the KFP server (HTTP {status}){said}")
        return SubmitError(f"{action}: the KFP server refused the request (HTTP {status}){said}")

    def _scrub(self, text: str) -> str:
        """`text` without any credential of this session (including a cookie Dex gave us)."""
        cookie = (self.cookie, self.cookie.split("=", 1)[-1]) if self.cookie else ()
        return scrub(text, (*self.auth.secrets(), *cookie))

    def _foreign(self, text: str) -> str:
        """A server's or library's text as part of our message: scrubbed first, then clipped."""
        return bounded(self._scrub(str(text)), FOREIGN_TEXT)


def dex_login(host: str, auth: KfpAuth, *, timeout: float = 30.0) -> str:
    """Log in through Dex like Elyra 2.x and return the `authservice_session` Cookie header.

    Kubeflow 1.2 (istio + oidc-authservice + Dex): GET the cluster root (the host without
    /pipeline) follows redirects to Dex's login form; POSTing `login`/`password` there
    follows redirects back through authservice, which sets the session cookie.
    """
    import requests
    from urllib.parse import urlsplit

    parts = urlsplit(host)
    root = f"{parts.scheme}://{parts.netloc}/"
    with requests.Session() as http:
        try:
            page = http.get(root, timeout=timeout)
            if not re.search(r"/(dex|auth)\b", urlsplit(page.url).path):
                raise SubmitError(f"Dex login as {shown(auth.username)}: {root} did not lead to a Dex login "
                                  f"page (ended at {urlsplit(page.url).path or '/'}); this cluster may "
                                  "not use Dex: pass --cookie or --token instead")
            http.post(page.url, data={"login": auth.username or "", "password": auth.password or ""},
                      timeout=timeout)
        except requests.exceptions.RequestException as exc:
            reason = bounded(scrub(_reason(exc), auth.secrets()), FOREIGN_TEXT)
            raise SubmitError(f"Dex login as {shown(auth.username)}: cannot reach {root}: {reason}") from None
        value = http.cookies.get(SESSION_COOKIE)
    if not value:
        raise SubmitError(f"Dex login as {shown(auth.username)} failed: no {SESSION_COOKIE} cookie came back "
                          "(wrong username or password?)")
    return f"{SESSION_COOKIE}={value}"


class _HtmlAnswer(Exception):
    """Raised inside kfp's REST call when a 2xx answer is an HTML page (turned into a SubmitError)."""

    def __init__(self, status: int):
        super().__init__(f"HTML page (HTTP {status})")
        self.status = status


HEARTBEAT = 30.0  # seconds without news after which --wait says the run is still going
ARGO_PHASES = frozenset({"Pending", "Running", "Succeeded", "Skipped", "Failed", "Error", "Omitted"})


def node_phases(detail: Any) -> dict[str, str]:
    """Each pod's phase from the run's Argo workflow status, as the KFP dashboard reads it.

    KFP's persistence agent stores the workflow (with `status.nodes`) in the run detail's
    `pipeline_runtime.workflow_manifest`; a manifest that is missing or unreadable just means no
    node lines (the run's own status is still followed).
    """
    try:
        manifest = json.loads(detail.pipeline_runtime.workflow_manifest or "{}")
        nodes = (manifest.get("status") or {}).get("nodes") or {}
        pods = [n for n in nodes.values() if isinstance(n, dict) and n.get("type") == "Pod"]
        pods.sort(key=lambda n: (str(n.get("startedAt") or ""), str(n.get("id") or "")))
        return {str(n.get("displayName") or n.get("name")): str(n.get("phase") or "Pending") for n in pods}
    except (AttributeError, TypeError, ValueError):
        return {}


def _seconds(value: float) -> str:
    """A duration for messages: 0.05 s, 2.3 s, 125 s."""
    if value < 1:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection failure (urllib3 nests them deeply); scrub, then clip it."""
    seen = exc
    for _ in range(6):
        inner = getattr(seen, "reason", None) or (seen.args[0] if getattr(seen, "args", None) else None)
        if isinstance(inner, BaseException) and inner is not seen:
            seen = inner
            continue
        break
    text = str(seen)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip()
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text)
    return text.strip() or type(seen).__name__


def _server_message(body: Any) -> str:
    """The message in a KFP error body (grpc-gateway or upload-server JSON), else its first line.

    Whole, not shortened: the caller scrubs it of credentials first, then clips it.
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or "").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error_message", "error", "message"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key].strip()
    if text.lstrip().startswith("<"):
        return ""  # an HTML page says nothing useful in one line
    return text.splitlines()[0] if text else ""


def _is_kfp_error(body: Any) -> bool:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(str(body or ""))
    except ValueError:
        return False
    return isinstance(data, dict) and any(k in data for k in ("error_message", "error", "code"))


def _looks_like_conflict(status: int, message: str) -> bool:
    return status == 409 or "already exist" in message.lower()


def _is_conflict(exc: BaseException) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(status, int) and _looks_like_conflict(status, _server_message(getattr(exc, "body", "")))
