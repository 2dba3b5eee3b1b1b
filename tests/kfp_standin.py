"""A stand-in for the Kubeflow Pipelines 1.2 API server: real HTTP on 127.0.0.1, state in memory.

Why: t3qkfp submits with the real `kfp.Client` of kfp 1.2.0, and tests must watch real HTTP
requests without a cluster. The stand-in answers the v1beta1 endpoints kfp.Client calls
(healthz, pipeline upload / upload_version / list / get, pipeline versions, experiments, runs,
jobs), checks every JSON body and query against the published API definitions (our compact
copy in kfp_api_v1beta1.json, see kfp_api_schema.py), and reads uploaded workflows the way the
1.2 server does (backend/src/common/util/template_util.go, resource_manager.go):
apiVersion argoproj.io/v1alpha1, kind Workflow, `spec.arguments.parameters` as Go JSON of at
most 10,000 bytes, run parameters must name one of them ("Unrecognized input parameter").

Use:

    from kfp_standin import KfpStandin          # tests/ is on sys.path under pytest
    with KfpStandin() as server:                # serves on a random port until the block ends
        server.url                              # http://127.0.0.1:PORT/pipeline  (KFP's usual path)
        server.root_url                         # http://127.0.0.1:PORT          (a wrong host path: 404)
        ...                                     # point kfp.Client / t3qkfp.submit at server.url
        server.requests                         # every request, in order (Recorded)
        server.runs, server.jobs, server.pipelines, server.versions, server.experiments
        server.violations                       # requests that broke the API definitions (should stay [])

Simulations (attributes you may set, or constructor keywords):
    run_outcome="Succeeded" | "Failed"   what a run ends with; it reports "Running" for
                                         `polls_until_done` GETs first; or a function of the run's
                                         parameters ({name: value}) returning one of them
    run_metrics=f                        f(parameters) -> {metric name: number}: a run that ends
                                         reports these in `run.metrics` as KFP 1.2 does (apiRunMetric
                                         name/node_id/number_value/format, reported by the persistence
                                         agent from the nodes' mlpipeline-metrics.json; names KFP's
                                         ReportRunMetrics refuses are left out)
    run_error="..."                      the `error` text of a failed run
    multi_user=True                      healthz says so; experiments need a NAMESPACE reference
    token="t"                            every API request needs `Authorization: Bearer t` (else 401)
    dex_users={"user@example.com": "pw"} Kubeflow 1.2 / Dex / authservice: API requests need an
                                         `authservice_session` cookie (else a 302 to the Dex login
                                         page); GET / leads to a login form; `new_session()` makes one
    namespaces={"alice"}                 multi-user namespaces the user may use (others: 403)
    fail_next(operation, status, message)  the next call of an operation (e.g. "upload",
                                         "create_run", "healthz") fails with a KFP-style error body
    stall_next(operation, seconds)       the next call of an operation answers only after a delay
    answer_next(operation, body, ...)    the next call of an operation gets this answer instead
                                         (e.g. `{}` or an HTML page with HTTP 200, as a proxy might)
    end_sessions_before(operation)       every authservice session ends just before the next call
                                         of an operation (a login that expires partway): that call
                                         and all later ones get the 302 to the Dex login page

By hand (for the README): `python -m tests.kfp_standin --port 8888` from the repository root.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import email.parser
import email.policy
import io
import json
import re
import secrets
import tarfile
import threading
import time
import urllib.parse
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import yaml

try:  # imported as `kfp_standin` by pytest (tests/ on sys.path) or as `tests.kfp_standin` by -m
    from kfp_api_schema import check_message, check_query, load_compact
except ModuleNotFoundError:  # pragma: no cover - the `python -m tests.kfp_standin` path
    from tests.kfp_api_schema import check_message, check_query, load_compact

API = "/apis/v1beta1"
ARGO_API_VERSION = "argoproj.io/v1alpha1"
MAX_PARAMETER_BYTES = 10_000  # backend/src/common/util/consts.go
MAX_NAME_LENGTH = 100  # backend/src/apiserver/server/util.go MaxFileNameLength
SESSION_COOKIE = "authservice_session"
# gRPC codes the grpc-gateway maps to HTTP statuses (runtime.HTTPStatusFromCode).
# The metric names KFP 1.2 accepts (apiRunMetric.name in the 1.2.0 API definitions: 1 to 63
# characters of `[a-z]([-a-z0-9]*[a-z0-9])?`).
_METRIC_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13}


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the stand-in received it (the body decoded if JSON, else raw bytes)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    operation: str | None
    status: int


class _Fail(Exception):
    """An error answer: HTTP status, and either a KFP JSON error or a plain text body."""

    def __init__(self, status: int, message: str, *, kind: str = "grpc",
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind  # "grpc" (grpc-gateway JSON), "upload" (upload server JSON), "text"
        self.headers = headers or {}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_json_bytes(value: Any) -> int:
    """Length of Go's json.Marshal output: compact, UTF-8, with <, >, &, U+2028/9 as 6-byte
    \\uXXXX and, as the Go (< 1.22) of the KFP 1.x server writes them, backspace and form feed
    as 6-byte \\u0008 / \\u000c (Python: 1 byte for <>&, 3 raw bytes for U+2028/9, 2 for \\b \\f)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raw = "".join(_all_strings(value))
    return (len(text.encode("utf-8")) + 5 * sum(text.count(c) for c in "<>&")
            + 3 * sum(text.count(c) for c in "\u2028\u2029") + 4 * sum(raw.count(c) for c in "\b\f"))


def _all_strings(value: Any) -> list[str]:
    """Every string of a JSON value, keys included (iterative: a stand-in must not recurse out)."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _dag_order(workflow: dict[str, Any]) -> list[str]:
    """The container templates of the workflow's DAG tasks, parents before children."""
    containers = {t["name"] for t in workflow.get("spec", {}).get("templates", []) if "container" in t}
    tasks = [task for t in workflow.get("spec", {}).get("templates", [])
             for task in ((t.get("dag") or {}).get("tasks") or [])]
    done: list[str] = []
    while len(done) < len(tasks):
        ready = [t for t in tasks if t["name"] not in done and all(d in done for d in t.get("dependencies") or [])]
        if not ready:
            break
        done += [t["name"] for t in ready[:1]]
    by_name = {t["name"]: t.get("template", t["name"]) for t in tasks}
    return [by_name[n] for n in done if by_name[n] in containers]


def pipeline_file_text(data: bytes) -> str:
    """The workflow text of an uploaded file, as KFP 1.2's ReadPipelineFile finds it.

    A zip or a gzip'd tar (what `kfp dsl-compile -o x.zip/.tar.gz` and Elyra's own processor
    send) is unpacked, preferring a member named pipeline.yaml, else the first file; anything
    else is read as the YAML itself.
    """
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                files = [i for i in archive.infolist() if not i.is_dir()]
                chosen = next((i for i in files if i.filename == "pipeline.yaml"), files[0] if files else None)
                if chosen is None:
                    raise _Fail(400, "Invalid package. Empty zip file.", kind="upload")
                data = archive.read(chosen)
        except (zipfile.BadZipFile, OSError):
            raise _Fail(400, "Error extracting pipeline from the zip file. Not a valid zip file.", kind="upload") from None
    elif data.startswith(b"\x1f\x8b"):
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                files = [m for m in archive.getmembers() if m.isfile()]
                chosen = next((m for m in files if m.name == "pipeline.yaml"), files[0] if files else None)
                if chosen is None:
                    raise _Fail(400, "Invalid package. Empty tarball file.", kind="upload")
                data = archive.extractfile(chosen).read()  # type: ignore[union-attr]
        except (tarfile.TarError, OSError, EOFError):
            raise _Fail(400, "Error extracting pipeline from the tarball file. Not a valid tarball file.",
                        kind="upload") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Fail(400, "Failed to read pipeline from file: not UTF-8 YAML", kind="upload") from None


def read_workflow(text: str) -> dict[str, Any]:
    """Read an uploaded workflow like KFP 1.2's ValidateWorkflow + GetParameters, or raise _Fail."""
    try:
        workflow = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _Fail(400, f"InvalidInputError: Failed to parse the parameter.: {exc}") from None
    if not isinstance(workflow, dict):
        raise _Fail(400, "InvalidInputError: Failed to parse the parameter.: not a mapping")
    if workflow.get("apiVersion") != ARGO_API_VERSION:
        raise _Fail(400, f"Invalid input error: Unsupported argo version. Expected: {ARGO_API_VERSION}. "
                         f"Received: {workflow.get('apiVersion')}")
    if workflow.get("kind") != "Workflow":
        raise _Fail(400, "Invalid input error: Unexpected resource type. Expected: Workflow. "
                         f"Received: {workflow.get('kind')}")
    params = workflow_parameters(workflow)
    size = go_json_bytes(params)
    if size > MAX_PARAMETER_BYTES:
        raise _Fail(400, "Invalid input error: The input parameter length exceed maximum size of "
                         f"{MAX_PARAMETER_BYTES}.")
    return workflow


def workflow_parameters(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """spec.arguments.parameters as Go would marshal them (Argo's Parameter keeps values as strings).

    A non-string value is refused here although Argo would stringify it: t3qkfp promises every
    parameter value is a YAML string, so one that is not is a bug worth a loud failure.
    """
    spec = workflow.get("spec") or {}
    params = ((spec.get("arguments") or {}).get("parameters")) or []
    result = []
    for param in params:
        if not isinstance(param, dict) or not isinstance(param.get("name"), str):
            raise _Fail(400, f"InvalidInputError: Failed to parse the parameter.: bad parameter {param!r}")
        entry: dict[str, Any] = {"name": param["name"]}
        if "value" in param:
            if not isinstance(param["value"], str):
                raise _Fail(400, "InvalidInputError: Failed to parse the parameter.: parameter "
                                 f"{param['name']!r} has a non-string value {param['value']!r}")
            entry["value"] = param["value"]
        result.append(entry)
    return result


# robfig/cron v1.2.0 (KFP 1.2's job validation): 6 fields, seconds first (day-of-week may be
# left out), or a descriptor.
_CRON_FIELD = re.compile(r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*")
_CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_problem(expr: str) -> str | None:
    """Why robfig/cron v1 would refuse `expr`, or None."""
    if expr in _CRON_DESCRIPTORS:
        return None
    if expr.startswith("@every "):
        return None if re.fullmatch(r"@every ([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+", expr) else "bad duration"
    fields = expr.split()
    if len(fields) not in (5, 6):
        return f"Expected 5 to 6 fields, found {len(fields)}: {expr}"
    bad = [f for f in fields if not _CRON_FIELD.fullmatch(f)]
    return f"Failed to parse field {bad[0]!r}" if bad else None


@dataclass
class _State:
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    version_yaml: dict[str, str] = field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_polls: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)


class KfpStandin:
    """The stand-in server; a context manager that starts on enter and stops on exit."""

    def __init__(self, *, port: int = 0, base_path: str = "/pipeline", multi_user: bool = False,
                 token: str | None = None, dex_users: dict[str, str] | None = None,
                 namespaces: set[str] | None = None, run_outcome: Any = "Succeeded",
                 polls_until_done: int = 1, run_error: str = "node train failed: exit code 1",
                 run_metrics: Callable[[dict[str, str]], dict[str, float]] | None = None,
                 verbose: bool = False):
        self.base_path = base_path.rstrip("/")
        self.multi_user = multi_user
        self.token = token
        self.dex_users = dict(dex_users or {})
        self.namespaces = namespaces
        self.run_outcome = run_outcome
        self.polls_until_done = polls_until_done
        self.run_metrics = run_metrics
        self.run_error = run_error
        self.verbose = verbose
        self.schema = load_compact()
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.sessions: set[str] = set()
        self._failures: list[tuple[str, int, str]] = []
        self._stalls: list[tuple[str, float]] = []
        self._session_ends: list[str] = []
        self._answers: list[tuple[str, int, str, bytes, dict[str, str]]] = []
        self._state = _State()
        self._lock = threading.RLock()
        self._ids = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """The server without the KFP path: what a user who forgot `/pipeline` would pass."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The KFP API host to give kfp.Client (root + base path, `/pipeline` by default)."""
        return self.root_url + self.base_path

    def start(self) -> "KfpStandin":
        # A short poll interval: stop() returns within ~20 ms instead of serve_forever's 0.5 s.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="kfp-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "KfpStandin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- state seen by tests ---------------------------------------------------------------
    @property
    def pipelines(self) -> dict[str, dict[str, Any]]:
        return self._state.pipelines

    @property
    def versions(self) -> dict[str, dict[str, Any]]:
        return self._state.versions

    @property
    def experiments(self) -> dict[str, dict[str, Any]]:
        return self._state.experiments

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return self._state.runs

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self._state.jobs

    def version_yaml(self, version_id: str) -> str:
        """The workflow file exactly as uploaded for a pipeline version."""
        return self._state.version_yaml[version_id]

    def run_workflow(self, run_id: str) -> dict[str, Any]:
        """The workflow a run would execute: the version's, with run parameters applied."""
        return self._state.run_workflows[run_id]

    def calls(self, operation: str) -> list[Recorded]:
        """The recorded requests of one operation (e.g. "create_run")."""
        return [r for r in self.requests if r.operation == operation]

    def fail_next(self, operation: str, status: int, message: str = "simulated failure", *,
                  times: int = 1) -> None:
        """Make the next `times` calls of `operation` fail with `status` and a KFP error body.

        `operation` names: healthz, upload, upload_version, list_pipelines, get_pipeline,
        list_versions, get_version, create_experiment, list_experiments, get_experiment,
        create_run, get_run, list_runs, create_job, get_job, or "*" for any.
        """
        with self._lock:
            self._failures += [(operation, status, message)] * times

    def stall_next(self, operation: str, seconds: float) -> None:
        """Make the next call of `operation` wait `seconds` before answering (a stalled server)."""
        with self._lock:
            self._stalls.append((operation, seconds))

    def answer_next(self, operation: str, body: Any, *, status: int = 200,
                    content_type: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Make the next call of `operation` get this answer instead of the real one.

        `body`: a dict (sent as JSON) or text/bytes (sent as is, `text/html` unless `content_type`
        says otherwise): what a proxy, a login page or a broken server might answer; `headers`
        are added (e.g. a `Location` for a 3xx).
        """
        if isinstance(body, (dict, list)):
            payload, kind = json.dumps(body).encode(), "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else bytes(body)
            kind = "text/html; charset=utf-8"
        with self._lock:
            self._answers.append((operation, status, content_type or kind, payload, dict(headers or {})))

    def _maybe_answer(self, operation: str) -> tuple[int, str, bytes, dict[str, str]] | None:
        with self._lock:
            for index, (name, status, content_type, payload, headers) in enumerate(self._answers):
                if name in (operation, "*"):
                    del self._answers[index]
                    return status, content_type, payload, headers
        return None

    def end_sessions_before(self, operation: str) -> None:
        """End every authservice session just before the next call of `operation` ("*": any).

        As when a Kubeflow login expires or is revoked partway through a submission: the earlier
        calls succeed, that call and every later one are redirected to the Dex login page.
        """
        with self._lock:
            self._session_ends.append(operation)

    def _maybe_end_sessions(self, operation: str) -> None:
        with self._lock:
            if operation in self._session_ends or "*" in self._session_ends:
                self._session_ends.remove(operation if operation in self._session_ends else "*")
                self.sessions.clear()

    def new_session(self) -> str:
        """A valid authservice_session cookie value (as if the user had logged in with Dex)."""
        value = secrets.token_urlsafe(24)
        self.sessions.add(value)
        return value

    # ---- request handling ------------------------------------------------------------------
    def _next_id(self, kind: str) -> str:
        """UUIDs like the real server's, readable in test output: the kind's initial, then a counter."""
        with self._lock:
            self._ids += 1
            return str(uuid.UUID(int=(ord(kind[0]) << 96) + self._ids))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as urllib3 pools expect

            def log_message(self, format: str, *args: Any) -> None:
                if server.verbose:
                    super().log_message(format, *args)

            def do_GET(self) -> None:
                server._serve(self, "GET")

            def do_POST(self) -> None:
                server._serve(self, "POST")

            def do_DELETE(self) -> None:
                server._serve(self, "DELETE")

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        operation: str | None = None
        body: Any = raw
        status = 200
        extra_headers: dict[str, str] = {}
        try:
            if headers.get("content-type", "").startswith("application/json") and raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _Fail(400, "invalid JSON body") from None
            path = parsed.path
            if not path.startswith(self.base_path + "/"):
                content_type, payload, status, extra_headers = self._outside_api(method, path, query, raw, headers)
            else:
                path = path[len(self.base_path):]
                operation, route, params = self._route(method, path)
                self._maybe_stall(operation)
                self._maybe_end_sessions(operation)
                self._authenticate(headers)
                self._maybe_fail(operation)
                self._check_request(operation, query, body)
                canned = self._maybe_answer(operation)
                if canned:
                    status, content_type, payload, extra_headers = canned
                else:
                    result = route(query=query, body=body, headers=headers, raw=raw, **params)
                    content_type, payload = "application/json", json.dumps(result).encode()
        except _Fail as fail:
            status, extra_headers = fail.status, fail.headers
            content_type, payload = self._error_body(fail)
        with self._lock:
            self.requests.append(Recorded(method, parsed.path, query, headers, body, operation, status))
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in extra_headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    @staticmethod
    def _error_body(fail: _Fail) -> tuple[str, bytes]:
        if fail.kind == "text":
            return "text/plain; charset=utf-8", fail.message.encode()
        if fail.kind == "upload":  # api.Error from pipeline_upload_server.go writeErrorToResponse
            return "application/json", json.dumps(
                {"error_message": fail.message, "error_details": fail.message}).encode()
        code = _GRPC_CODE.get(fail.status, 2)
        return "application/json", json.dumps({
            "error": fail.message, "message": fail.message, "code": code,
            "details": [{"@type": "type.googleapis.com/api.Error", "error_message": fail.message,
                         "error_details": fail.message}]}).encode()

    def _route(self, method: str, path: str) -> tuple[str, Callable[..., Any], dict[str, str]]:
        for op_method, pattern, operation, route in self._routes():
            match = re.fullmatch(pattern, path)
            if match and op_method == method:
                return operation, route, match.groupdict()
        # Go's http.ServeMux / grpc-gateway answer for an unknown path.
        raise _Fail(404, "404 page not found\n", kind="text")

    def _routes(self) -> list[tuple[str, str, str, Callable[..., Any]]]:
        seg = r"(?P<id>[^/:]+)"
        return [
            ("GET", f"{API}/healthz", "healthz", self._healthz),
            ("POST", f"{API}/pipelines/upload", "upload", self._upload),
            ("POST", f"{API}/pipelines/upload_version", "upload_version", self._upload_version),
            ("GET", f"{API}/pipelines", "list_pipelines", self._list_pipelines),
            ("GET", f"{API}/pipelines/{seg}", "get_pipeline", self._get_pipeline),
            ("GET", f"{API}/pipeline_versions", "list_versions", self._list_versions),
            ("GET", f"{API}/pipeline_versions/{seg}", "get_version", self._get_version),
            ("POST", f"{API}/experiments", "create_experiment", self._create_experiment),
            ("GET", f"{API}/experiments", "list_experiments", self._list_experiments),
            ("GET", f"{API}/experiments/{seg}", "get_experiment", self._get_experiment),
            ("POST", f"{API}/runs", "create_run", self._create_run),
            ("GET", f"{API}/runs", "list_runs", self._list_runs),
            ("GET", f"{API}/runs/{seg}", "get_run", self._get_run),
            ("POST", f"{API}/jobs", "create_job", self._create_job),
            ("GET", f"{API}/jobs/{seg}", "get_job", self._get_job),
        ]

    # The swagger's operationId for each operation we serve.
    _OPERATION_IDS = {
        "healthz": "GetHealthz", "upload": "UploadPipeline", "upload_version": "UploadPipelineVersion",
        "list_pipelines": "ListPipelines", "get_pipeline": "GetPipeline",
        "list_versions": "ListPipelineVersions", "get_version": "GetPipelineVersion",
        "create_experiment": "CreateExperiment", "list_experiments": "ListExperiment",
        "get_experiment": "GetExperiment", "create_run": "CreateRun", "list_runs": "ListRuns",
        "get_run": "GetRun", "create_job": "CreateJob", "get_job": "GetJob",
    }
    # Response message of each operation, checked too so the stand-in cannot drift from the API.
    _RESPONSES = {
        "upload": "apiPipeline", "upload_version": "apiPipelineVersion",
        "list_pipelines": "apiListPipelinesResponse", "get_pipeline": "apiPipeline",
        "list_versions": "apiListPipelineVersionsResponse", "get_version": "apiPipelineVersion",
        "create_experiment": "apiExperiment", "list_experiments": "apiListExperimentsResponse",
        "get_experiment": "apiExperiment", "create_run": "apiRunDetail", "list_runs": "apiListRunsResponse",
        "get_run": "apiRunDetail", "create_job": "apiJob", "get_job": "apiJob",
    }

    def _check_request(self, operation: str, query: dict[str, list[str]], body: Any) -> None:
        op = self.schema["operations"][self._OPERATION_IDS[operation]]
        problems = check_query(query, self._OPERATION_IDS[operation], self.schema)
        if "body" in op:
            if not isinstance(body, (dict, list)):
                problems.append("body: expected a JSON body")
            else:
                problems += check_message(body, op["body"], self.schema)
        if problems:
            with self._lock:
                self.violations += [f"{operation}: {p}" for p in problems]
            raise _Fail(400, "; ".join(problems))

    def _respond(self, operation: str, result: dict[str, Any]) -> dict[str, Any]:
        problems = check_message(result, self._RESPONSES[operation], self.schema, "response")
        if problems:  # a bug in the stand-in itself
            with self._lock:
                self.violations += [f"{operation} (stand-in response): {p}" for p in problems]
        return result

    def _maybe_stall(self, operation: str) -> None:
        with self._lock:
            index = next((i for i, (name, _) in enumerate(self._stalls) if name in (operation, "*")), None)
            delay = self._stalls.pop(index)[1] if index is not None else 0.0
        if delay:
            time.sleep(delay)

    def _maybe_fail(self, operation: str) -> None:
        with self._lock:
            for index, (name, status, message) in enumerate(self._failures):
                if name in (operation, "*"):
                    del self._failures[index]
                    break
            else:
                return
        kind = "upload" if operation in ("upload", "upload_version") else "grpc"
        if status == 404 and message == "404 page not found\n":
            kind = "text"
        raise _Fail(status, message, kind=kind)

    # ---- auth ------------------------------------------------------------------------------
    def _authenticate(self, headers: dict[str, str]) -> None:
        if self.token is not None:
            got = headers.get("authorization", "")
            if not got:
                raise _Fail(401, "Jwt is missing", kind="text")
            if got != f"Bearer {self.token}":
                raise _Fail(401, "Jwt verification fails", kind="text")
        if self.dex_users:
            cookies = _parse_cookies(headers.get("cookie", ""))
            if cookies.get(SESSION_COOKIE) not in self.sessions:
                # oidc-authservice in front of Kubeflow 1.2 redirects to Dex.
                state = secrets.token_urlsafe(8)
                raise _Fail(302, "", kind="text", headers={
                    "Location": f"/dex/auth?client_id=kubeflow-oidc-authservice&redirect_uri=%2Flogin%2Foidc"
                                f"&response_type=code&scope=profile+email+groups+openid&state={state}"})

    def _outside_api(self, method: str, path: str, query: dict[str, list[str]], raw: bytes,
                     headers: dict[str, str]) -> tuple[str, bytes, int, dict[str, str]]:
        """The Dex login flow of a Kubeflow 1.2 cluster, and 404 for anything else."""
        if self.dex_users:
            cookies = _parse_cookies(headers.get("cookie", ""))
            if path == "/" and cookies.get(SESSION_COOKIE) not in self.sessions:
                return "text/plain", b"", 302, {"Location": "/dex/auth?client_id=kubeflow-oidc-authservice&state=s1"}
            if path == "/":
                return "text/html", b"<html>Kubeflow Central Dashboard</html>", 200, {}
            if path == "/dex/auth":
                return "text/plain", b"", 302, {"Location": "/dex/auth/local?req=r1"}
            if path == "/dex/auth/local" and method == "GET":
                form = ('<html><form method="post" action="/dex/auth/local?req=r1">'
                        '<input name="login"><input name="password" type="password"></form></html>')
                return "text/html", form.encode(), 200, {}
            if path == "/dex/auth/local" and method == "POST":
                fields = urllib.parse.parse_qs(raw.decode())
                login = (fields.get("login") or [""])[0]
                password = (fields.get("password") or [""])[0]
                if self.dex_users.get(login) != password or not login:
                    form = '<html><div class="dex-error-box">Invalid Email Address and password.</div></html>'
                    return "text/html", form.encode(), 200, {}
                return "text/plain", b"", 303, {"Location": "/dex/approval?req=r1"}
            if path == "/dex/approval":
                return "text/plain", b"", 303, {"Location": "/login/oidc?code=c1&state=s1"}
            if path == "/login/oidc":
                session = self.new_session()
                return "text/plain", b"", 302, {
                    "Location": "/", "Set-Cookie": f"{SESSION_COOKIE}={session}; Path=/; HttpOnly"}
        raise _Fail(404, "404 page not found\n", kind="text")

    # ---- endpoints -------------------------------------------------------------------------
    def _healthz(self, **_: Any) -> dict[str, Any]:
        return {"commit_sha": "kfp-standin", "tag_name": "1.2.0", "multi_user": self.multi_user}

    def _uploaded_file(self, headers: dict[str, str], raw: bytes) -> tuple[str, str]:
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise _Fail(400, "Failed to read pipeline from file: request Content-Type isn't "
                             "multipart/form-data", kind="upload")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "uploadfile":
                data = part.get_payload(decode=True) or b""
                return part.get_filename() or "", pipeline_file_text(data)
        raise _Fail(400, "Failed to read pipeline from file: http: no such file", kind="upload")

    def _read_upload(self, query: dict[str, list[str]], headers: dict[str, str], raw: bytes,
                     what: str) -> tuple[str, str, dict[str, Any]]:
        filename, text = self._uploaded_file(headers, raw)
        name = (query.get("name") or [""])[0] or filename
        if len(name) > MAX_NAME_LENGTH:
            raise _Fail(400, f"Invalid {what} name.: Invalid input error: Pipeline name too long. "
                             f"Support maximum length of {MAX_NAME_LENGTH}", kind="upload")
        try:
            workflow = read_workflow(text)
        except _Fail as fail:
            raise _Fail(500, f"Error creating {what}: Failed to get parameters from the workflow: "
                             f"{fail.message}", kind="upload") from None
        return name, text, workflow

    def _new_version(self, pipeline_id: str, name: str, text: str, workflow: dict[str, Any]) -> dict[str, Any]:
        version_id = self._next_id("version")
        version = {"id": version_id, "name": name, "created_at": _now(),
                   "parameters": workflow_parameters(workflow),
                   "resource_references": [{"key": {"type": "PIPELINE", "id": pipeline_id},
                                            "relationship": "OWNER"}]}
        self._state.versions[version_id] = version
        self._state.version_yaml[version_id] = text
        return version

    def _upload(self, query: dict[str, list[str]], headers: dict[str, str], raw: bytes, **_: Any) -> dict[str, Any]:
        name, text, workflow = self._read_upload(query, headers, raw, "pipeline")
        with self._lock:
            if any(p["name"] == name for p in self._state.pipelines.values()):
                raise _Fail(500, "Error creating pipeline: Already exist error: Failed to create a new "
                                 f"pipeline. The name {name} already exist. Please specify a new name.",
                            kind="upload")
            pipeline_id = self._next_id("pipeline")
            version = self._new_version(pipeline_id, name, text, workflow)
            pipeline = {"id": pipeline_id, "created_at": version["created_at"], "name": name,
                        "description": (query.get("description") or [""])[0],
                        "parameters": version["parameters"], "default_version": version}
            self._state.pipelines[pipeline_id] = pipeline
        return self._respond("upload", pipeline)

    def _upload_version(self, query: dict[str, list[str]], headers: dict[str, str], raw: bytes,
                        **_: Any) -> dict[str, Any]:
        name, text, workflow = self._read_upload(query, headers, raw, "pipeline version")
        pipeline_id = (query.get("pipelineid") or [""])[0]
        if not pipeline_id:
            raise _Fail(400, "Please specify a pipeline id when creating versions.", kind="upload")
        with self._lock:
            pipeline = self._state.pipelines.get(pipeline_id)
            if pipeline is None:
                raise _Fail(500, "Error creating pipeline version: ResourceNotFoundError: Pipeline "
                                 f"{pipeline_id} not found.", kind="upload")
            for version in self._state.versions.values():
                if version["name"] == name and version["resource_references"][0]["key"]["id"] == pipeline_id:
                    raise _Fail(500, "Error creating pipeline version: Already exist error: Failed to "
                                     f"create a new pipeline version. The name {name} already exist. "
                                     "Please specify a new name.", kind="upload")
            version = self._new_version(pipeline_id, name, text, workflow)
            pipeline["default_version"] = version  # IsPipelineVersionUpdatedByDefault in 1.2
            pipeline["parameters"] = version["parameters"]
        return self._respond("upload_version", version)

    def _list_pipelines(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        items = list(self._state.pipelines.values())
        items = _apply_filter(items, (query.get("filter") or [""])[0])
        return self._respond("list_pipelines", _page(items, query, "pipelines"))

    def _get_pipeline(self, id: str, **_: Any) -> dict[str, Any]:
        if id not in self._state.pipelines:
            raise _Fail(404, f"ResourceNotFoundError: Pipeline {id} not found.")
        return self._respond("get_pipeline", self._state.pipelines[id])

    def _list_versions(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        kind = (query.get("resource_key.type") or [""])[0]
        owner = (query.get("resource_key.id") or [""])[0]
        if kind != "PIPELINE" or not owner:
            raise _Fail(400, "Invalid input error: ResourceKey must be set and must be PIPELINE")
        items = [v for v in self._state.versions.values()
                 if v["resource_references"][0]["key"]["id"] == owner]
        items = _apply_filter(items, (query.get("filter") or [""])[0])
        return self._respond("list_versions", _page(items, query, "versions"))

    def _get_version(self, id: str, **_: Any) -> dict[str, Any]:
        if id not in self._state.versions:
            raise _Fail(404, f"ResourceNotFoundError: PipelineVersion {id} not found.")
        return self._respond("get_version", self._state.versions[id])

    def _namespace_of(self, refs: list[dict[str, Any]]) -> str:
        for ref in refs or []:
            key = ref.get("key") or {}
            if key.get("type") == "NAMESPACE":
                return str(key.get("id") or "")
        return ""

    def _check_namespace(self, namespace: str) -> None:
        if self.namespaces is not None and namespace not in self.namespaces:
            raise _Fail(403, "Failed to authorize with API resource references: PermissionDenied: "
                             f"User is not authorized to access namespace {namespace!r}")

    def _create_experiment(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        name = body.get("name") or ""
        if not name:
            raise _Fail(400, "Invalid input error: Experiment name is empty. Please specify a valid experiment name.")
        refs = body.get("resource_references") or []
        namespace = self._namespace_of(refs)
        # experiment_server.go ValidateCreateExperimentRequest (1.2.0)
        if self.multi_user:
            if (len(refs) != 1 or (refs[0].get("key") or {}).get("type") != "NAMESPACE"
                    or refs[0].get("relationship") != "OWNER"):
                raise _Fail(400, "Invalid input error: Invalid resource references for experiment. Expect one "
                                 f"namespace type with owner relationship. Got: {refs}")
            if not namespace:
                raise _Fail(400, "Invalid input error: Invalid resource references for experiment. Namespace is empty.")
            self._check_namespace(namespace)
        elif refs:
            raise _Fail(400, "Invalid input error: In single-user mode, CreateExperimentRequest shouldn't "
                             "contain resource references.")
        with self._lock:
            if any(e["name"] == name and self._namespace_of(e["resource_references"]) == namespace
                   for e in self._state.experiments.values()):
                raise _Fail(409, "Already exist error: Failed to create a new experiment. The name "
                                 f"{name} already exist. Please specify a new name.")
            experiment = {"id": self._next_id("experiment"), "name": name,
                          "description": body.get("description") or "", "created_at": _now(),
                          "resource_references": [{"key": {"type": "NAMESPACE", "id": namespace},
                                                   "relationship": "OWNER"}] if namespace else [],
                          "storage_state": "STORAGESTATE_AVAILABLE"}
            self._state.experiments[experiment["id"]] = experiment
        return self._respond("create_experiment", experiment)

    def _list_experiments(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        kind = (query.get("resource_reference_key.type") or [""])[0]
        namespace = (query.get("resource_reference_key.id") or [""])[0]
        # experiment_server.go ListExperiment (1.2.0)
        if self.multi_user:
            if kind != "NAMESPACE":
                raise _Fail(400, "Invalid input error: Invalid resource references for experiment. "
                                 "ListExperiment requires filtering by namespace.")
            if not namespace:
                raise _Fail(400, "Invalid input error: Invalid resource references for experiment. Namespace is empty.")
            self._check_namespace(namespace)
        elif kind == "NAMESPACE" and namespace:
            raise _Fail(400, "Invalid input error: In single-user mode, ListExperiment cannot filter by namespace.")
        items = [e for e in self._state.experiments.values()
                 if not namespace or self._namespace_of(e["resource_references"]) == namespace]
        items = _apply_filter(items, (query.get("filter") or [""])[0])
        return self._respond("list_experiments", _page(items, query, "experiments"))

    def _get_experiment(self, id: str, **_: Any) -> dict[str, Any]:
        if id not in self._state.experiments:
            raise _Fail(404, f"ResourceNotFoundError: Experiment {id} not found.")
        return self._respond("get_experiment", self._state.experiments[id])

    def _resolve_spec(self, body: dict[str, Any], what: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        """The workflow a run or job would use and its experiment's namespace, per KFP 1.2's rules."""
        spec = body.get("pipeline_spec") or {}
        refs = body.get("resource_references") or []
        params = spec.get("parameters") or []
        experiments = [r for r in refs if (r.get("key") or {}).get("type") == "EXPERIMENT"]
        if len(experiments) != 1 or (experiments[0].get("relationship") != "OWNER"):
            raise _Fail(400, f"Invalid input error: Please specify exactly one experiment that owns this {what}.")
        experiment = self._state.experiments.get(experiments[0]["key"].get("id") or "")
        if experiment is None:
            raise _Fail(404, f"ResourceNotFoundError: Experiment {experiments[0]['key'].get('id')} not found.")
        namespace = self._namespace_of(experiment["resource_references"])
        if self.multi_user:
            self._check_namespace(namespace)
        if go_json_bytes(params) > MAX_PARAMETER_BYTES:
            raise _Fail(400, "Invalid input error: The input parameter length exceed maximum size of "
                             f"{MAX_PARAMETER_BYTES}.")
        version_refs = [r for r in refs if (r.get("key") or {}).get("type") == "PIPELINE_VERSION"]
        manifest = spec.get("workflow_manifest") or ""
        pipeline_id = spec.get("pipeline_id") or ""
        if version_refs:
            version_id = version_refs[0]["key"].get("id") or ""
            if version_id not in self._state.versions:
                raise _Fail(404, f"ResourceNotFoundError: PipelineVersion {version_id} not found.")
            workflow = yaml.safe_load(self._state.version_yaml[version_id])
        elif pipeline_id and manifest:
            raise _Fail(400, "Invalid input error: Please either specify a pipeline ID or a workflow manifest, not both.")
        elif pipeline_id:
            pipeline = self._state.pipelines.get(pipeline_id)
            if pipeline is None:
                raise _Fail(404, f"ResourceNotFoundError: Pipeline {pipeline_id} not found.")
            workflow = yaml.safe_load(self._state.version_yaml[pipeline["default_version"]["id"]])
        elif manifest:
            try:
                workflow = read_workflow(manifest)
            except _Fail as fail:
                raise _Fail(400, f"Invalid input error: {fail.message}") from None
        else:
            raise _Fail(400, "Invalid input error: Please specify a pipeline by providing a pipeline ID "
                             "or workflow manifest.")
        known = {p["name"] for p in workflow_parameters(workflow)}
        for param in params:
            if param.get("name") not in known:
                raise _Fail(400, "Failed to verify parameters.: Invalid input error: Unrecognized input "
                                 f"parameter: {param.get('name')}")
        overrides = {p["name"]: p.get("value", "") for p in params}
        for param in ((workflow.get("spec") or {}).get("arguments") or {}).get("parameters") or []:
            if param["name"] in overrides:
                param["value"] = overrides[param["name"]]
        return workflow, experiments, namespace

    def _create_run(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not body.get("name"):
            raise _Fail(400, "Invalid input error: The run name is empty. Please specify a valid name.")
        workflow, _refs, namespace = self._resolve_spec(body, "run")
        run_id = self._next_id("run")
        refs = [dict(r) for r in body.get("resource_references") or []]
        if namespace:
            refs.append({"key": {"type": "NAMESPACE", "id": namespace}, "relationship": "OWNER"})
        run = {"id": run_id, "name": body["name"], "storage_state": "STORAGESTATE_AVAILABLE",
               "description": body.get("description") or "", "pipeline_spec": body.get("pipeline_spec") or {},
               "resource_references": refs, "service_account": "pipeline-runner",
               "created_at": _now(), "scheduled_at": _now(), "finished_at": "1970-01-01T00:00:00Z",
               "status": ""}
        with self._lock:
            self._state.runs[run_id] = run
            self._state.run_workflows[run_id] = workflow
            self._state.run_polls[run_id] = 0
        return self._respond("create_run", self._run_detail(run_id))

    def _run_detail(self, run_id: str) -> dict[str, Any]:
        run = self._state.runs[run_id]
        workflow = dict(self._state.run_workflows[run_id])
        if run["status"]:
            workflow["status"] = self._workflow_status(run_id, run["status"])
        return {"run": run, "pipeline_runtime": {"workflow_manifest": json.dumps(workflow)}}

    def _workflow_status(self, run_id: str, status: str) -> dict[str, Any]:
        """What KFP's persistence agent stores: Argo's status with one node per pod.

        While Running, the container tasks before the poll count have Succeeded and the next one
        Runs (so a follower sees node states change); at the end all share the run's outcome.
        """
        workflow = self._state.run_workflows[run_id]
        tasks = _dag_order(workflow)
        polls = self._state.run_polls.get(run_id, 0)
        name = workflow.get("metadata", {}).get("generateName", "run-") + run_id[:5]
        nodes = {name: {"id": name, "name": name, "displayName": name, "type": "DAG", "phase": status}}
        for index, task in enumerate(tasks):
            if status == "Running":
                phase = "Succeeded" if index < polls - 1 else "Running" if index == polls - 1 else None
            else:
                phase = status if index == len(tasks) - 1 or status == "Succeeded" else "Succeeded"
            if phase:
                node_id = f"{name}-{index}"
                nodes[node_id] = {"id": node_id, "name": f"{name}.{task}", "displayName": task,
                                  "type": "Pod", "phase": phase, "templateName": task}
        return {"phase": status, "nodes": nodes}

    def _get_run(self, id: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            run = self._state.runs.get(id)
            if run is None:
                raise _Fail(404, f"ResourceNotFoundError: Run {id} not found.")
            polls = self._state.run_polls[id] = self._state.run_polls[id] + 1
            if run["status"] in ("", "Running"):
                if polls > self.polls_until_done:
                    values = {p["name"]: p.get("value", "") for p in workflow_parameters(self._state.run_workflows[id])}
                    outcome = self.run_outcome(values) if callable(self.run_outcome) else self.run_outcome
                    run["status"] = outcome
                    run["finished_at"] = _now()
                    if outcome == "Failed":
                        run["error"] = self.run_error
                    elif self.run_metrics is not None:
                        run["metrics"] = [{"name": name, "node_id": f"{run['name'][:40]}-{id[:8]}".replace(" ", "-"),
                                           "number_value": float(value), "format": "RAW"}
                                          for name, value in self.run_metrics(values).items()
                                          if _METRIC_NAME.fullmatch(name)]
                else:
                    run["status"] = "Running"
        return self._respond("get_run", self._run_detail(id))

    def _list_runs(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        return self._respond("list_runs", _page(list(self._state.runs.values()), query, "runs"))

    def _create_job(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not body.get("name"):
            raise _Fail(400, "Invalid input error: The job name is empty. Please specify a valid name.")
        self._resolve_spec(body, "job")
        concurrency = int(body.get("max_concurrency") or 0)
        if not 1 <= concurrency <= 10:
            raise _Fail(400, "Invalid input error: The max concurrency of the job is out of range. "
                             f"Support 1-10. Received {concurrency}.")
        trigger = body.get("trigger") or {}
        cron = (trigger.get("cron_schedule") or {}).get("cron")
        if cron is not None and (problem := cron_problem(cron)):
            raise _Fail(400, "Invalid input error: Schedule cron is not a supported format"
                             f"(https://godoc.org/github.com/robfig/cron). Error: {problem}")
        job = {key: value for key, value in body.items()}
        job.update({"id": self._next_id("job"), "created_at": _now(), "updated_at": _now(),
                    "status": "Enabled" if body.get("enabled") else "Disabled",
                    "mode": "ENABLED" if body.get("enabled") else "DISABLED",
                    "max_concurrency": str(concurrency)})
        with self._lock:
            self._state.jobs[job["id"]] = job
        return self._respond("create_job", job)

    def _get_job(self, id: str, **_: Any) -> dict[str, Any]:
        if id not in self._state.jobs:
            raise _Fail(404, f"ResourceNotFoundError: Job {id} not found.")
        return self._respond("get_job", self._state.jobs[id])


def _parse_cookies(header: str) -> dict[str, str]:
    result = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            result[name] = value
    return result


def _apply_filter(items: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """KFP's filter: JSON {"predicates": [{"op": EQUALS(1)|NOT_EQUALS(2), "key", "stringValue"}]}."""
    if not text:
        return items
    try:
        predicates = json.loads(text)["predicates"]
    except (ValueError, KeyError, TypeError):
        raise _Fail(400, f"Invalid input error: Failed to parse valid filter from {text!r}") from None
    for pred in predicates:
        op = pred.get("op")
        if op in ("EQUALS", 1):
            items = [i for i in items if i.get(pred["key"]) == pred.get("stringValue")]
        elif op in ("NOT_EQUALS", 2):
            items = [i for i in items if i.get(pred["key"]) != pred.get("stringValue")]
        else:
            raise _Fail(400, f"Invalid input error: the stand-in does not support filter op {op!r}")
    return items


def _page(items: list[dict[str, Any]], query: dict[str, list[str]], key: str) -> dict[str, Any]:
    size = int((query.get("page_size") or ["20"])[0] or 20) or 20
    start = int((query.get("page_token") or ["0"])[0] or 0)
    page = items[start:start + size]
    result: dict[str, Any] = {"total_size": len(items)}
    if page:
        result[key] = page
    if start + size < len(items):
        result["next_page_token"] = str(start + size)
    return result


def main(argv: list[str] | None = None) -> None:
    """Serve by hand: `python -m tests.kfp_standin --port 8888` (Ctrl-C stops it)."""
    parser = argparse.ArgumentParser(prog="python -m tests.kfp_standin", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--base-path", default="/pipeline")
    parser.add_argument("--multi-user", action="store_true")
    parser.add_argument("--token", help="require this bearer token")
    parser.add_argument("--run-outcome", choices=["Succeeded", "Failed"], default="Succeeded")
    parser.add_argument("--polls-until-done", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    server = KfpStandin(port=args.port, base_path=args.base_path, multi_user=args.multi_user,
                        token=args.token, run_outcome=args.run_outcome,
                        polls_until_done=args.polls_until_done, verbose=args.verbose)
    print(f"KFP 1.2 API stand-in at {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
        for problem in server.violations:
            print(f"violation: {problem}")


if __name__ == "__main__":
    main()
