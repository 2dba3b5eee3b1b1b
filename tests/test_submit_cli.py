"""`t3qkfp submit` as a user runs it: real subprocesses against the KFP stand-in, exit codes,
stdout vs stderr, and credentials that never show up in any output."""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from t3qkfp.errors import SubmitError
from t3qkfp.kfp_auth import KfpAuth
from t3qkfp.kfp_submit import submit

from kfp_standin import KfpStandin

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn" / "churn.pipeline"
SECRETS = ("tok-SECRET-4f8a9c", "cookie-SECRET-77aa21", "pw-SECRET-0d3e5b")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("T3QKFP_KFP_")}
    env.update(extra)
    return env


def t3qkfp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with warnings as errors: kfp 1.2's warnings must be handled, not leak."""
    return subprocess.run([sys.executable, "-W", "error", "-m", "t3qkfp", *args], capture_output=True,
                          text=True, env=env or clean_env(), cwd=ROOT, timeout=120)


def test_submit_prints_run_id_and_url(kfp: KfpStandin) -> None:
    result = t3qkfp("submit", str(CHURN), "--host", kfp.url, "-p", "EPOCHS=3", "-p", "SEED=1",
                    "--experiment", "cli", "--no-upload")
    assert result.returncode == 0, result.stderr
    [run_id] = kfp.runs
    assert f"run id: {run_id}" in result.stdout
    assert f"run url: {kfp.url}/#/runs/details/{run_id}" in result.stdout
    assert "experiment: cli (" in result.stdout and "parameters: EPOCHS=3, SEED=1" in result.stdout
    assert "started" in result.stderr and "Warning" not in result.stderr
    [call] = kfp.calls("create_run")
    assert call.body["pipeline_spec"]["parameters"] == [{"name": "EPOCHS", "value": "3"},
                                                        {"name": "SEED", "value": "1"}]


def test_wait_success_and_failure_exit_codes(kfp: KfpStandin) -> None:
    args = ("submit", str(CHURN), "--host", kfp.url, "--wait", "--poll-interval", "0.05", "--no-upload")
    ok = t3qkfp(*args)
    assert ok.returncode == 0, ok.stderr
    assert "status: Succeeded" in ok.stdout and "Running" in ok.stderr
    kfp.run_outcome = "Failed"
    failed = t3qkfp(*args)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("run ")
    assert "ended Failed" in failed.stderr and "Traceback" not in failed.stderr


def stdout_fields(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


@pytest.mark.parametrize("outcome", ["Failed", "timeout"])
def test_wait_that_does_not_succeed_still_prints_the_run(kfp: KfpStandin, outcome: str) -> None:
    """The run id and URL are on stdout before --wait follows the run, however it ends."""
    args = ["submit", str(CHURN), "--host", kfp.url, "--wait", "--no-upload"]
    if outcome == "timeout":
        kfp.polls_until_done = 10_000
        args += ["--timeout", "0.5", "--poll-interval", "60"]
    else:
        kfp.run_outcome = "Failed"
        args += ["--poll-interval", "0.05"]
    start = time.monotonic()
    result = t3qkfp(*args)
    assert time.monotonic() - start < 30  # not a 60 s poll interval
    assert result.returncode == 1, result.stderr
    [run_id] = kfp.runs
    fields = stdout_fields(result.stdout)
    assert fields["run id"] == run_id and fields["run url"] == f"{kfp.url}/#/runs/details/{run_id}"
    assert "status" not in fields
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    if outcome == "timeout":
        match = re.search(r"still Running after ([0-9.]+) s \(timeout 0\.5 s\)", last)
        assert match, last
        assert 0.5 <= float(match.group(1)) < 5
    else:
        assert "ended Failed" in last


def test_timeout_without_wait_is_a_usage_error(kfp: KfpStandin) -> None:
    result = t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload", "--timeout", "60")
    assert result.returncode == 2
    assert "--timeout needs --wait" in result.stderr and "Traceback" not in result.stderr
    assert kfp.requests == [] and result.stdout == ""


def kfp_home(tmp_path: Path, namespace: str) -> dict[str, str]:
    """A HOME whose ~/.config/kfp/context.json holds a namespace, as kfp's set_user_namespace writes it."""
    context = tmp_path / ".config" / "kfp" / "context.json"
    context.parent.mkdir(parents=True)
    context.write_text(json.dumps({"namespace": namespace}), encoding="utf-8")
    return clean_env(HOME=str(tmp_path))


def test_saved_kfp_namespace_is_not_sent_to_a_single_user_server(kfp: KfpStandin, tmp_path: Path) -> None:
    env = kfp_home(tmp_path, "alice")
    context = tmp_path / ".config" / "kfp" / "context.json"
    for _ in range(2):  # a new experiment, then the existing one
        result = t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload", "--experiment", "e1",
                        env=env)
        assert result.returncode == 0, result.stderr
    assert len(kfp.runs) == 2 and len(kfp.experiments) == 1
    [created] = kfp.calls("create_experiment")
    assert not created.body.get("resource_references")
    for listing in kfp.calls("list_experiments"):
        assert listing.status == 200 and listing.query.get("resource_reference_key.id", [""]) == [""]
    assert json.loads(context.read_text(encoding="utf-8")) == {"namespace": "alice"}  # left alone


def test_saved_kfp_namespace_still_serves_a_multi_user_server(kfp: KfpStandin, tmp_path: Path) -> None:
    kfp.multi_user = True
    kfp.namespaces = {"alice"}
    result = t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload", env=kfp_home(tmp_path, "alice"))
    assert result.returncode == 0, result.stderr
    [created] = kfp.calls("create_experiment")
    assert created.body["resource_references"][0]["key"] == {"type": "NAMESPACE", "id": "alice"}


def test_cron_creates_a_recurring_run(kfp: KfpStandin) -> None:
    result = t3qkfp("submit", str(CHURN), "--host", kfp.url, "--cron", "30 2 * * *", "--no-upload")
    assert result.returncode == 0, result.stderr
    [job_id] = kfp.jobs
    assert f"recurring run id: {job_id}" in result.stdout and "schedule: 0 30 2 * * *" in result.stdout


@pytest.mark.parametrize("args, expected", [
    (["-p", "EPOCH=3"], "Did you mean 'EPOCHS'?"),
    (["-p", "EPOCHS=three"], "run parameter 'EPOCHS' is Integer"),
    (["-p", "EPOCHS"], "expected NAME=VALUE"),
    (["--cron", "every day"], "cron expression"),
])
def test_usage_errors_exit_2_before_sending(kfp: KfpStandin, args: list[str], expected: str) -> None:
    result = t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload", *args)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert kfp.requests == []


def test_wrong_path_exits_1_with_one_line(kfp: KfpStandin) -> None:
    start = time.monotonic()
    result = t3qkfp("submit", str(CHURN), "--host", kfp.root_url, "--no-upload")
    assert time.monotonic() - start < 15
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "usually /pipeline" in result.stderr


def test_credentials_never_printed(kfp: KfpStandin) -> None:
    token, cookie, password = SECRETS
    kfp.token = token
    outputs = []
    # Success with the token from an option, and from the env.
    outputs.append(t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload", "--token", token))
    outputs.append(t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload",
                          env=clean_env(T3QKFP_KFP_TOKEN=token)))
    assert [o.returncode for o in outputs] == [0, 0], outputs[0].stderr
    # Failures with each kind of credential.
    kfp.token = None
    kfp.dex_users = {"user@example.com": "other"}
    outputs.append(t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload",
                          env=clean_env(T3QKFP_KFP_COOKIE=cookie)))
    outputs.append(t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload",
                          "--username", "user@example.com", env=clean_env(T3QKFP_KFP_PASSWORD=password)))
    outputs.append(t3qkfp("submit", str(CHURN), "--host", kfp.url, "--no-upload", "--token", token,
                          "--cookie", cookie))
    assert [o.returncode for o in outputs[2:]] == [1, 1, 2]
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output.stdout and secret not in output.stderr


def test_credentials_never_logged_or_in_exceptions(kfp: KfpStandin, caplog: pytest.LogCaptureFixture,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: t3qkfp, kfp, kfp_server_api, urllib3
    token, cookie, password = SECRETS
    kfp.token = token
    submit(CHURN, host=kfp.url, upload_files=False, auth=KfpAuth(token=token), wait=True,
           poll_interval=0.01)
    texts = []
    kfp.token = None
    kfp.dex_users = {"user@example.com": "x"}
    for auth in (KfpAuth(token=token), KfpAuth(cookie=cookie),
                 KfpAuth(username="user@example.com", password=password)):
        kfp.fail_next("*", 403, "denied")
        with pytest.raises(SubmitError) as info:
            submit(CHURN, host=kfp.url, upload_files=False, auth=auth)
        texts += [str(info.value), repr(info.value), repr(auth)]
    captured = capsys.readouterr()
    everything = "\n".join([caplog.text, captured.out, captured.err, *texts])
    for secret in SECRETS:
        assert secret not in everything


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readme_flow_with_the_standin_started_by_hand() -> None:
    """README: `python -m tests.kfp_standin --port N`, then `t3qkfp submit ... --wait`."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.kfp_standin", "--port", str(port),
                               "--polls-until-done", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/pipeline" in banner
        result = t3qkfp("submit", "examples/churn/churn.pipeline", "--host",
                        f"http://127.0.0.1:{port}/pipeline", "-p", "EPOCHS=3", "--wait",
                        "--poll-interval", "0.1", "--no-upload")
        assert result.returncode == 0, result.stderr
        assert "status: Succeeded" in result.stdout
    finally:
        server.terminate()
        server.communicate(timeout=10)  # also closes the pipes
