"""t3qkfp.submit with the real kfp.Client 1.2.0 making real HTTP requests to the KFP stand-in.

Nothing in kfp is patched: every assertion is about what reached the server (tests/kfp_standin.py)
or what the user sees.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml

import t3qkfp
from t3qkfp.compiler import compile_pipeline
from t3qkfp.errors import StorageError, SubmitError, UsageError
from t3qkfp.object_storage import expected_objects
from t3qkfp.errors import SubmittedRunError
from t3qkfp.params import check_overrides
from t3qkfp.kfp_auth import KfpAuth
from t3qkfp.kfp_submit import SubmitResult, kfp_cron, submit

from kfp_standin import KfpStandin
from s3server import closed_port_endpoint, s3_server

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn" / "churn.pipeline"
TYPED = ROOT / "tests" / "cases" / "v3_kv_env" / "input.pipeline"  # Integer, Float, Bool, String


pytestmark = pytest.mark.usefixtures("no_user_credentials")


def go(server: KfpStandin, path: Path = CHURN, **kwargs: object) -> SubmitResult:
    kwargs.setdefault("upload_files", False)
    kwargs.setdefault("poll_interval", 0.01)
    return submit(path, host=kwargs.pop("host", server.url), **kwargs)  # type: ignore[arg-type]


# ---- what reaches the server ---------------------------------------------------------------
def test_run_carries_only_the_overrides(kfp: KfpStandin) -> None:
    result = go(kfp, params={"EPOCHS": 3, "LEARNING_RATE": "0.2"}, run_name="try 1")
    [call] = kfp.calls("create_run")
    body = call.body
    assert body["name"] == "try 1"
    assert body["pipeline_spec"]["parameters"] == [{"name": "EPOCHS", "value": "3"},
                                                   {"name": "LEARNING_RATE", "value": "0.2"}]
    refs = {(r["key"]["type"], r["relationship"]): r["key"]["id"] for r in body["resource_references"]}
    assert refs == {("EXPERIMENT", "OWNER"): result.experiment_id,
                    ("PIPELINE_VERSION", "CREATOR"): result.version_id}
    # The server applies them; every other parameter keeps its compiled default.
    params = {p["name"]: p["value"] for p in kfp.run_workflow(result.run_id)["spec"]["arguments"]["parameters"]}
    assert params["EPOCHS"] == "3" and params["LEARNING_RATE"] == "0.2"
    assert params["DATA_SIZE"] == "200" and params["train_LOG_LEVEL"] == "INFO"
    assert result.run_url == f"{kfp.url}/#/runs/details/{result.run_id}"
    assert result.parameters == (("EPOCHS", "3"), ("LEARNING_RATE", "0.2"))
    assert result.run_id in kfp.runs and result.status is None


def test_no_overrides_sends_no_parameters(kfp: KfpStandin) -> None:
    go(kfp)
    [call] = kfp.calls("create_run")
    assert call.body["pipeline_spec"].get("parameters") in (None, [])


def test_uploaded_workflow_is_the_compiled_one(kfp: KfpStandin) -> None:
    result = go(kfp)
    compiled = compile_pipeline(CHURN, deterministic=True)
    assert kfp.version_yaml(result.version_id) == compiled.yaml
    assert yaml.safe_load(kfp.version_yaml(result.version_id)) == compiled.workflow
    [upload] = kfp.calls("upload")
    assert upload.query["name"] == ["churn"]
    pipeline = kfp.pipelines[result.pipeline_id]
    assert [p["name"] for p in pipeline["parameters"]] == [p.name for p in compiled.plan.parameters]


def test_resubmitting_creates_a_new_version(kfp: KfpStandin) -> None:
    first = go(kfp)
    second = go(kfp, params={"SEED": "7"})
    assert second.pipeline_id == first.pipeline_id
    assert second.version_id != first.version_id
    assert second.version_name.startswith("churn-") and len(second.version_name) <= 100
    assert len(kfp.pipelines) == 1 and len(kfp.versions) == 2
    assert len(kfp.calls("upload")) == 1 and len(kfp.calls("upload_version")) == 1
    assert second.experiment_id == first.experiment_id  # experiment found, not created again
    assert len(kfp.experiments) == 1
    run = kfp.calls("create_run")[-1].body
    assert {"key": {"type": "PIPELINE_VERSION", "id": second.version_id}, "relationship": "CREATOR"} \
        in run["resource_references"]


def test_same_second_same_content_still_gets_a_version(kfp: KfpStandin) -> None:
    results = [go(kfp) for _ in range(3)]  # same content, very likely the same second
    assert len({r.version_name for r in results[1:]}) == 2
    assert len(kfp.versions) == 3


def test_names_and_experiment(kfp: KfpStandin) -> None:
    result = go(kfp, pipeline_name="churn nightly", experiment="team-a")
    assert result.pipeline_name == "churn nightly" and result.experiment_name == "team-a"
    assert [e["name"] for e in kfp.experiments.values()] == ["team-a"]
    assert kfp.calls("upload")[0].query["name"] == ["churn nightly"]


def test_wait_success(kfp: KfpStandin) -> None:
    kfp.polls_until_done = 2
    lines: list[str] = []
    result = go(kfp, wait=True, on_status=lines.append)
    assert result.status == "Succeeded"
    assert any("Running" in line for line in lines) and "Succeeded" in lines[-1]
    assert len(kfp.calls("get_run")) == 3


def test_wait_reports_node_states_from_the_workflow_status_and_a_heartbeat(kfp: KfpStandin, monkeypatch) -> None:
    import t3qkfp.kfp_follow

    monkeypatch.setattr(t3qkfp.kfp_follow, "HEARTBEAT", 0.0)  # every poll without news says so
    kfp.polls_until_done = 3
    lines: list[str] = []
    go(kfp, wait=True, on_status=lines.append)
    states = [line.split(" (")[0] for line in lines if line.startswith("node ")]
    assert states == ["node 'load-data': Running",
                      "node 'load-data': Succeeded", "node 'train': Running",
                      "node 'train': Succeeded", "node 'evaluate': Running",
                      "node 'evaluate': Succeeded"], lines
    assert any(line.startswith("run ") and "still Running after" in line and "(running: " in line
               for line in lines), lines
    assert "Succeeded" in lines[-1] and lines[-1].startswith("run ")


def test_a_run_without_workflow_status_is_still_followed() -> None:
    from types import SimpleNamespace

    from t3qkfp.kfp_follow import node_phases

    assert node_phases(SimpleNamespace(pipeline_runtime=SimpleNamespace(workflow_manifest=None))) == {}
    assert node_phases(SimpleNamespace(pipeline_runtime=SimpleNamespace(workflow_manifest="not json"))) == {}
    assert node_phases(SimpleNamespace()) == {}


def test_wait_failure_raises_with_the_run_url(kfp: KfpStandin) -> None:
    kfp.run_outcome = "Failed"
    with pytest.raises(SubmitError) as info:
        go(kfp, wait=True)
    message = str(info.value)
    assert "ended Failed" in message and "node train failed" in message
    assert "/#/runs/details/" in message and "\n" not in message
    # The exception says which run, for code that catches it (a SubmittedRunError is a SubmitError).
    [run_id] = kfp.runs
    assert isinstance(info.value, SubmittedRunError)
    assert info.value.run_id == run_id and info.value.status == "Failed"
    assert info.value.run_url == f"{kfp.url}/#/runs/details/{run_id}"


def test_wait_timeout(kfp: KfpStandin) -> None:
    kfp.polls_until_done = 10_000
    with pytest.raises(SubmittedRunError, match=r"still Running after 0\.\d\d s \(timeout 0\.05 s\)") as info:
        go(kfp, wait=True, timeout=0.05)
    [run_id] = kfp.runs
    assert (info.value.run_id, info.value.status) == (run_id, "Running")
    assert info.value.run_url == f"{kfp.url}/#/runs/details/{run_id}"


def test_wait_timeout_does_not_sleep_a_whole_poll_interval(kfp: KfpStandin) -> None:
    """The deadline cuts the sleep short, and the message reports the time really spent."""
    kfp.polls_until_done = 10_000
    start = time.monotonic()
    with pytest.raises(SubmittedRunError) as info:
        go(kfp, wait=True, timeout=0.4, poll_interval=30)
    spent = time.monotonic() - start
    assert spent < 5  # not 30 s
    match = re.search(r"still Running after ([0-9.]+) s \(timeout 0\.4 s\)", one_line(info.value))
    assert match, str(info.value)
    reported = float(match.group(1))
    assert 0.4 <= reported <= spent
    assert len(kfp.calls("get_run")) == 2  # at the start and at the deadline


def test_timeout_zero_polls_once(kfp: KfpStandin) -> None:
    kfp.polls_until_done = 10_000
    with pytest.raises(SubmittedRunError, match=r"timeout 0 s"):
        go(kfp, wait=True, timeout=0, poll_interval=30)
    assert len(kfp.calls("get_run")) == 1


def test_on_started_comes_before_following(kfp: KfpStandin) -> None:
    kfp.run_outcome = "Failed"
    seen: list[tuple[SubmitResult, int]] = []
    with pytest.raises(SubmittedRunError) as info:
        go(kfp, wait=True, on_started=lambda result: seen.append((result, len(kfp.calls("get_run")))))
    [(started, polls)] = seen
    assert polls == 0 and started.run_id == info.value.run_id and started.run_url == info.value.run_url
    assert started.status is None


def test_on_started_for_a_recurring_run(kfp: KfpStandin) -> None:
    seen: list[SubmitResult] = []
    result = go(kfp, schedule="@daily", on_started=seen.append)
    assert seen == [result] and result.job_id in kfp.jobs


def test_recurring_run(kfp: KfpStandin) -> None:
    result = go(kfp, schedule="0 6 * * 1-5", params={"EPOCHS": "9"}, run_name="nightly")
    assert result.run_id is None and result.job_id in kfp.jobs
    [call] = kfp.calls("create_job")
    body = call.body
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 6 * * 1-5"  # KFP's seconds-first form
    assert body["pipeline_spec"]["parameters"] == [{"name": "EPOCHS", "value": "9"}]
    assert body["enabled"] is True and body["name"] == "nightly"
    assert result.job_url == f"{kfp.url}/#/recurringrun/details/{result.job_id}"
    assert not kfp.calls("create_run")


def test_cron_forms() -> None:
    assert kfp_cron("0 0 6 * * *") == "0 0 6 * * *"
    assert kfp_cron("  */5  * * * * ") == "0 */5 * * * *"
    assert kfp_cron("@hourly") == "@hourly" and kfp_cron("@every 1h30m") == "@every 1h30m"
    with pytest.raises(UsageError, match="has 3 fields"):
        kfp_cron("0 6 *")
    with pytest.raises(UsageError, match="cannot read field"):
        kfp_cron("0 6 * * mon!")


def test_wait_and_schedule_together_is_a_usage_error(kfp: KfpStandin) -> None:
    with pytest.raises(UsageError):
        go(kfp, wait=True, schedule="0 6 * * *")
    assert kfp.requests == []


# ---- parameter checks before anything is sent ----------------------------------------------
def test_unknown_parameter_lists_valid_names(kfp: KfpStandin) -> None:
    with pytest.raises(UsageError) as info:
        go(kfp, params={"EPOCH": "3"})
    message = str(info.value)
    assert "unknown run parameter 'EPOCH'" in message and "Did you mean 'EPOCHS'?" in message
    assert "DATA_SIZE, EPOCHS, LEARNING_RATE" in message
    assert kfp.requests == []


@pytest.mark.parametrize("name, value, type_name", [
    ("INT", "1.5", "Integer"), ("INT", "ten", "Integer"), ("FLOAT", "abc", "Float"),
    ("FLOAT", "nan", "Float"), ("TRUE_BOOL", "yes", "Bool"), ("INT", True, "Integer")])
def test_value_that_does_not_fit_the_type(kfp: KfpStandin, name: str, value: object, type_name: str) -> None:
    with pytest.raises(UsageError) as info:
        go(kfp, TYPED, params={name: value})
    assert f"run parameter {name!r} is {type_name}" in str(info.value)
    assert kfp.requests == []


@pytest.mark.parametrize("value", [" 1.5 ", "1.5 ", " 1.5", "1_0", "1_000.5", "inf", "-Infinity", "nan",
                                   "1e999", "0x10", "", "1.5.2", "1,5", "e3", ".", "1e", "١.5",
                                   float("inf"), float("nan")])
def test_float_accepts_plain_decimal_text_only(value: object) -> None:
    plan = compile_pipeline(TYPED).plan
    with pytest.raises(UsageError, match="run parameter 'FLOAT' is Float"):
        check_overrides(plan, {"FLOAT": value})


@pytest.mark.parametrize("value", [" 3", "3 ", "1_000", "٣", "3.0", "", "9223372036854775808", 10**30, "1" * 5000])
def test_integer_stays_strict(value: str) -> None:
    plan = compile_pipeline(TYPED).plan
    with pytest.raises(UsageError, match="run parameter 'INT' is Integer"):
        check_overrides(plan, {"INT": value})


def test_float_forms_that_fit() -> None:
    plan = compile_pipeline(TYPED).plan
    for text in ("2", "-0.5", "+1.5", ".5", "5.", "1e-3", "2.5E+10", "007.5"):
        assert check_overrides(plan, {"FLOAT": text}) == {"FLOAT": text}
    assert check_overrides(plan, {"FLOAT": 1e-05}) == {"FLOAT": "1e-05"}


def test_values_that_fit() -> None:
    plan = compile_pipeline(TYPED).plan
    assert check_overrides(plan, {"INT": 7, "FLOAT": 0.5, "TRUE_BOOL": False, "CODE": 9}) == \
        {"INT": "7", "FLOAT": "0.5", "TRUE_BOOL": "false", "CODE": "9"}
    assert check_overrides(plan, {"INT": "-3", "FLOAT": "2", "TRUE_BOOL": "True", "FLAG": "no"}) == \
        {"INT": "-3", "FLOAT": "2", "TRUE_BOOL": "True", "FLAG": "no"}


@pytest.mark.parametrize("kwargs, expected", [
    ({"auth": "tok-SECRET-in-a-string"}, "auth must be a KfpAuth"),
    ({"auth": {"token": "tok-SECRET-in-a-dict"}}, "auth must be a KfpAuth"),
    ({"params": [("EPOCHS", 3)]}, "run parameters must be a mapping"),
    ({"params": "EPOCHS=3"}, "run parameters must be a mapping"),
    ({"params": {3: "EPOCHS"}}, "run parameter names must be str"),
    ({"timeout": 5}, "--timeout needs --wait"),
    ({"wait": True, "timeout": -1}, "timeout must be a number of seconds, 0 or more"),
    ({"wait": True, "timeout": "10"}, "timeout must be a number"),
    ({"poll_interval": 0}, "poll_interval must be a number of seconds, more than 0"),
    ({"request_timeout": None}, "request_timeout must be a number"),
    ({"experiment": 7}, "experiment must be a str"),
    ({"host": None}, "host must be a URL string"),
])
def test_wrong_argument_types_are_usage_errors(kfp: KfpStandin, kwargs: dict[str, object],
                                               expected: str) -> None:
    with pytest.raises(UsageError) as info:
        go(kfp, **kwargs)
    message = one_line(info.value)
    assert expected in message and "SECRET" not in message
    assert kfp.requests == []


def test_typed_pipeline_runs_with_overrides(kfp: KfpStandin) -> None:
    result = go(kfp, TYPED, params={"INT": 7, "TRUE_BOOL": False, "EMPTY": "now set"})
    params = {p["name"]: p["value"] for p in kfp.run_workflow(result.run_id)["spec"]["arguments"]["parameters"]}
    assert params["INT"] == "7" and params["TRUE_BOOL"] == "false" and params["EMPTY"] == "now set"
    assert params["CODE"] == "08" and params["NOTHING"] == "null"  # defaults kept exactly


# ---- errors a user meets: one clear line each, fast ----------------------------------------
def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text and "HTTPHeaderDict" not in text
    return text


def test_unreachable_host_is_fast() -> None:
    start = time.monotonic()
    with pytest.raises(SubmitError) as info:
        submit(CHURN, host=closed_port_endpoint() + "/pipeline", upload_files=False)
    assert time.monotonic() - start < 5
    assert "cannot reach the KFP API" in one_line(info.value) and "refused" in str(info.value)


def test_wrong_base_path_says_pipeline(kfp: KfpStandin) -> None:
    start = time.monotonic()
    with pytest.raises(SubmitError) as info:
        go(kfp, host=kfp.root_url)
    assert time.monotonic() - start < 5  # kfp.Client would retry healthz 5 x 5 s
    message = one_line(info.value)
    assert "404" in message and "usually /pipeline" in message


def test_stalled_server_times_out(kfp: KfpStandin) -> None:
    kfp.stall_next("create_run", 3)
    start = time.monotonic()
    with pytest.raises(SubmitError) as info:
        go(kfp, request_timeout=0.5)
    assert time.monotonic() - start < 2.5
    assert "starting the run: cannot reach the KFP API" in one_line(info.value)
    assert "timed out" in str(info.value)


def test_host_must_be_a_url() -> None:
    with pytest.raises(UsageError, match="must be a URL"):
        submit(CHURN, host="127.0.0.1:8888", upload_files=False)
    with pytest.raises(UsageError, match="before /apis/v1beta1"):
        submit(CHURN, host="http://h/pipeline/apis/v1beta1", upload_files=False)


def test_missing_token_is_401_naming_the_auth(kfp: KfpStandin) -> None:
    kfp.token = "s3cr3t-token-value"
    with pytest.raises(SubmitError) as info:
        go(kfp)
    assert "401" in one_line(info.value) and "no credentials" in str(info.value)
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(token="wrong-token-value"))
    assert "401" in str(info.value) and "a bearer token" in str(info.value)
    assert "wrong-token-value" not in str(info.value)


@pytest.mark.parametrize("operation", ["healthz", "upload", "create_experiment", "create_run"])
def test_forbidden_is_403_naming_the_auth(kfp: KfpStandin, operation: str) -> None:
    kfp.fail_next(operation, 403, "PermissionDenied: User 'x' is not authorized")
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(token="tok-abcdef-123456"))
    message = one_line(info.value)
    assert "403" in message and "a bearer token" in message and "not authorized" in message
    assert "tok-abcdef-123456" not in message


def test_name_conflict_that_cannot_be_resolved(kfp: KfpStandin) -> None:
    # The pipeline exists on the server but not visibly by name: the upload conflicts.
    kfp.fail_next("upload", 500, "Error creating pipeline: Already exist error: Failed to create a new "
                                 "pipeline. The name churn already exist. Please specify a new name.")
    with pytest.raises(SubmitError) as info:
        go(kfp)
    message = one_line(info.value)
    assert "pipeline name conflict" in message and "--pipeline-name" in message


def test_version_name_conflict_retries_with_a_suffix(kfp: KfpStandin) -> None:
    go(kfp)
    kfp.fail_next("upload_version", 500, "Error creating pipeline version: Already exist error: Failed to "
                                         "create a new pipeline version. The name x already exist.")
    result = go(kfp)
    assert result.version_name.endswith("-1")  # retried with a suffix instead of failing
    assert len(kfp.calls("upload_version")) == 2


def test_server_validation_error_shows_the_server_message(kfp: KfpStandin) -> None:
    kfp.fail_next("create_run", 400, "Failed to verify parameters.: Invalid input error: Unrecognized "
                                     "input parameter: EPOCHS")
    with pytest.raises(SubmitError) as info:
        go(kfp, params={"EPOCHS": "1"})
    message = one_line(info.value)
    assert "starting the run" in message and "Unrecognized input parameter: EPOCHS" in message


def test_too_many_parameter_bytes_shows_the_server_message(kfp: KfpStandin) -> None:
    kfp.fail_next("upload", 500, "Error creating pipeline: Failed to get parameters from the workflow: "
                                 "Invalid input error: The input parameter length exceed maximum size of 10000.")
    with pytest.raises(SubmitError, match="exceed maximum size of 10000"):
        go(kfp)


def test_run_not_found_404_is_not_called_a_wrong_path(kfp: KfpStandin) -> None:
    kfp.fail_next("get_run", 404, "ResourceNotFoundError: Run x not found.")
    with pytest.raises(SubmittedRunError) as info:
        go(kfp, wait=True)
    assert "Run x not found" in one_line(info.value) and "usually /pipeline" not in str(info.value)
    [run_id] = kfp.runs
    assert info.value.run_id == run_id and run_id in info.value.run_url and info.value.status is None


def test_server_error_has_no_kfp_traceback(kfp: KfpStandin) -> None:
    kfp.fail_next("list_experiments", 500, "Internal error: database is locked")
    with pytest.raises(SubmitError) as info:
        go(kfp)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "database is locked" in one_line(info.value)


# ---- auth ----------------------------------------------------------------------------------
def test_bearer_token_reaches_every_request(kfp: KfpStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    kfp.token = "tok-from-env-0123456789"
    monkeypatch.setenv("T3QKFP_KFP_TOKEN", "tok-from-env-0123456789")
    go(kfp)
    assert kfp.requests and all(r.headers.get("authorization") == "Bearer tok-from-env-0123456789"
                                for r in kfp.requests)


def test_session_cookie_reaches_every_request(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": "pw"}
    session = kfp.new_session()
    go(kfp, auth=KfpAuth(cookie=session))
    assert kfp.requests and all(f"authservice_session={session}" in r.headers.get("cookie", "")
                                for r in kfp.requests)


def test_no_cookie_on_a_dex_cluster_says_login(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": "pw"}
    with pytest.raises(SubmitError) as info:
        go(kfp)
    message = one_line(info.value)
    assert "login page" in message and "--cookie" in message and "--username" in message


def test_dex_login(kfp: KfpStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    kfp.dex_users = {"user@example.com": "correct horse battery"}
    monkeypatch.setenv("T3QKFP_KFP_USERNAME", "user@example.com")
    monkeypatch.setenv("T3QKFP_KFP_PASSWORD", "correct horse battery")
    result = go(kfp)
    assert result.run_id in kfp.runs
    posted = [r for r in kfp.requests if r.method == "POST" and r.path == "/dex/auth/local"]
    assert len(posted) == 1
    api = [r for r in kfp.requests if r.operation]
    assert api and all("authservice_session=" in r.headers.get("cookie", "") for r in api)


def test_dex_wrong_password(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": "right"}
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(username="user@example.com", password="wrong-password-xyz"))
    message = one_line(info.value)
    assert "Dex login as 'user@example.com' failed" in message and "wrong-password-xyz" not in message


def test_dex_login_without_dex(kfp: KfpStandin) -> None:
    with pytest.raises(SubmitError, match="did not lead to a Dex login page"):
        go(kfp, auth=KfpAuth(username="u", password="p"))


def test_auth_checks() -> None:
    with pytest.raises(UsageError, match="not token and cookie"):
        KfpAuth(token="a", cookie="b").check()
    with pytest.raises(UsageError, match="password is missing"):
        KfpAuth(username="u").check()
    auth = KfpAuth(token="tok-secret", cookie=None)
    assert "tok-secret" not in repr(auth)
    assert "p4ss" not in repr(KfpAuth(username="u", password="p4ss"))
    env = {"T3QKFP_KFP_COOKIE": "abc"}
    resolved = KfpAuth.resolve(env=env)
    assert resolved.kind == "cookie" and resolved.cookie_header() == "authservice_session=abc"
    assert "T3QKFP_KFP_COOKIE" in resolved.describe()
    assert KfpAuth.resolve(token="x", env=env).kind == "token"  # arguments win over env
    mixed = KfpAuth.resolve(username="u", env={"T3QKFP_KFP_PASSWORD": "pw", "T3QKFP_KFP_COOKIE": "c"})
    assert (mixed.kind, mixed.password, mixed.cookie) == ("dex", "pw", None)


# ---- a session that stops working partway; empty or foreign answers -------------------------
# (operation whose call the session ends before, submit() keywords, the action named in the error)
PARTWAY = [
    ("list_pipelines", {}, "looking up the pipeline"),
    ("upload", {}, "uploading the pipeline"),
    ("list_experiments", {}, "getting or creating the experiment"),
    ("create_experiment", {}, "getting or creating the experiment"),
    ("create_run", {}, "starting the run"),
    ("get_run", {"wait": True}, "following the run"),
    ("create_job", {"schedule": "@daily"}, "creating the recurring run"),
]


@pytest.mark.parametrize("operation, kwargs, action", PARTWAY)
def test_session_that_expires_partway_is_one_clear_line(kfp: KfpStandin, operation: str,
                                                        kwargs: dict[str, object], action: str) -> None:
    kfp.dex_users = {"user@example.com": "pw"}
    session = kfp.new_session()
    kfp.end_sessions_before(operation)
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(cookie=session), **kwargs)
    message = one_line(info.value)
    assert message.startswith(f"{action}: not authenticated (the KFP API at {kfp.url} redirected to "
                              "its login page, HTTP 302) with an authservice_session cookie")
    assert "session may have expired" in message and session not in message
    assert [r.status for r in kfp.calls(operation)][-1] == 302  # the session really ended there
    # The redirect is not followed: nothing (no run body, no cookie) goes to the login page.
    assert not [r for r in kfp.requests if r.path.startswith("/dex")]


def test_session_that_expires_while_following_keeps_the_run(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": "pw"}
    kfp.polls_until_done = 3
    kfp.end_sessions_before("get_run")
    with pytest.raises(SubmittedRunError) as info:
        go(kfp, auth=KfpAuth(cookie=kfp.new_session()), wait=True)
    [run_id] = kfp.runs
    assert info.value.run_id == run_id and info.value.run_url.endswith(f"/#/runs/details/{run_id}")
    assert "following the run: not authenticated" in str(info.value)
    assert f"goes on on the server: {info.value.run_url}" in str(info.value)


def test_dex_login_that_expires_partway(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": "pw-SECRET-31"}
    kfp.end_sessions_before("create_run")
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(username="user@example.com", password="pw-SECRET-31"))
    message = one_line(info.value)
    assert message.startswith("starting the run: not authenticated")
    assert "a Dex login as 'user@example.com'" in message and "SECRET" not in message
    assert [r.status for r in kfp.calls("upload")] == [200]  # it did work until then


def test_token_that_stops_working_partway_is_401(kfp: KfpStandin) -> None:
    kfp.token = "tok-one"
    kfp.fail_next("create_run", 401, "Jwt is expired")
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(token="tok-one"))
    message = one_line(info.value)
    assert message.startswith("starting the run:") and "401" in message and "a bearer token" in message


@pytest.mark.parametrize("operation, kwargs, what", [
    ("upload", {}, "the new pipeline's id"),
    ("create_experiment", {}, "the experiment's id"),
    ("create_run", {}, "the run's id"),
    ("get_run", {"wait": True}, "the run "),
    ("create_job", {"schedule": "@daily"}, "the recurring run's id"),
])
def test_empty_answer_is_one_clear_line(kfp: KfpStandin, operation: str, kwargs: dict[str, object],
                                        what: str) -> None:
    """A 200 with `{}` (a proxy, a broken server): kfp_server_api makes an all-None object of it."""
    kfp.answer_next(operation, {})
    with pytest.raises(SubmitError) as info:
        go(kfp, **kwargs)
    message = one_line(info.value)
    assert f"answered without {what}" in message and "with no credentials" in message
    assert "AttributeError" not in message


def test_empty_answer_to_a_new_version(kfp: KfpStandin) -> None:
    go(kfp)
    kfp.answer_next("upload_version", {})
    with pytest.raises(SubmitError, match="uploading a new version of the pipeline: .* answered without "
                                          "the new version's id"):
        go(kfp)


@pytest.mark.parametrize("operation", ["list_pipelines", "create_run", "get_run"])
def test_html_page_with_200_is_one_clear_line(kfp: KfpStandin, operation: str) -> None:
    """A login page served with HTTP 200 (no redirect) where KFP answers JSON."""
    kfp.answer_next(operation, "<!DOCTYPE html><html><body><form>Log in</form></body></html>")
    with pytest.raises(SubmitError) as info:
        go(kfp, wait=True)
    message = one_line(info.value)
    assert "answered with an HTML page, not KFP's JSON (HTTP 200): a login page?" in message
    assert "with no credentials" in message


def test_redirect_elsewhere_partway_names_the_address(kfp: KfpStandin) -> None:
    kfp.answer_next("create_run", "", status=307, content_type="text/plain",
                    headers={"Location": "https://kfp.example.com/pipeline/apis/v1beta1/runs"})
    with pytest.raises(SubmitError) as info:
        go(kfp)
    message = one_line(info.value)
    assert message.startswith(f"starting the run: the KFP API at {kfp.url} redirected to "
                              "'https://kfp.example.com/pipeline/apis/v1beta1/runs' (HTTP 307)")
    assert message.endswith("give 'https://kfp.example.com/pipeline' as --host")


# ---- multi-user ----------------------------------------------------------------------------
def test_multi_user_needs_a_namespace(kfp: KfpStandin) -> None:
    kfp.multi_user = True
    with pytest.raises(UsageError, match="multi-user: pass --namespace"):
        go(kfp)
    assert not kfp.calls("upload")


def test_multi_user_namespace(kfp: KfpStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    kfp.multi_user = True
    kfp.namespaces = {"alice"}
    result = go(kfp, namespace="alice")
    experiment = kfp.experiments[result.experiment_id]
    assert experiment["resource_references"] == [{"key": {"type": "NAMESPACE", "id": "alice"},
                                                  "relationship": "OWNER"}]
    listing = kfp.calls("list_experiments")[0]
    assert listing.query["resource_reference_key.id"] == ["alice"]
    monkeypatch.setenv("T3QKFP_KFP_NAMESPACE", "bob")
    with pytest.raises(SubmitError) as info:
        go(kfp)
    assert "403" in one_line(info.value) and "namespace" in str(info.value)


def test_single_user_refuses_a_namespace(kfp: KfpStandin) -> None:
    with pytest.raises(UsageError, match="single-user: leave out --namespace"):
        go(kfp, namespace="alice")


# ---- node files ----------------------------------------------------------------------------
def test_node_files_are_uploaded_before_the_pipeline(kfp: KfpStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    with s3_server(auth=False) as s3:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.credentials.secret_key)
        lines: list[str] = []
        result = submit(CHURN, host=kfp.url, storage=s3.config(), on_status=lines.append)
        compiled = compile_pipeline(CHURN, storage=s3.config())
        assert s3.keys("t3qkfp-test/") == compiled.object_keys()
        assert any("uploaded: s3://" in line for line in lines)
        assert not any(line.startswith("t3qkfp:") for line in lines)  # the CLI adds its one prefix
        workflow = yaml.safe_load(kfp.version_yaml(result.version_id))
        assert sorted({o.key for o in expected_objects(workflow)}) == compiled.object_keys()


def test_storage_failure_stops_before_the_pipeline_upload(kfp: KfpStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    config = t3qkfp.StorageConfig(endpoint=closed_port_endpoint(), bucket="mlpipeline")
    with pytest.raises(StorageError):
        submit(CHURN, host=kfp.url, storage=config)
    assert not kfp.calls("upload") and not kfp.calls("upload_version")


def test_result_is_frozen(kfp: KfpStandin) -> None:
    result = go(kfp)
    with pytest.raises(AttributeError):
        result.run_id = "x"  # type: ignore[misc]
    assert json.dumps(result.lines())


def test_the_python_api_reports_progress_without_any_logging_setup(kfp: KfpStandin, monkeypatch, capsys) -> None:
    """A notebook user who configured nothing sees submit(wait=True) follow the run on stderr."""
    import logging

    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a fresh kernel
    kfp.polls_until_done = 2
    go(kfp, wait=True)
    err = capsys.readouterr().err.splitlines()
    # "t3qkfp: ..." from t3qkfp's fallback handler; or "INFO:t3qkfp:..." once kfp's own
    # logging.info() calls made Python set up a root handler (logging.basicConfig's format)
    assert any(line.endswith("t3qkfp: node 'load-data': Running (0 s)")
               or line.endswith("t3qkfp:node 'load-data': Running (0 s)") for line in err), err
    assert any("t3qkfp" in line and "run " in line and ": Succeeded" in line for line in err), err
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.NullHandler()])  # an app's own logging
    go(kfp, wait=True)
    assert capsys.readouterr().err == ""
