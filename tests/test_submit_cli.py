"""`t3qkfp submit` as a user runs it: real subprocesses against the KFP stand-in, exit codes,
stdout vs stderr, and credentials that never show up in any output."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from t3qkfp.errors import SubmitError
from t3qkfp.submit import KfpAuth, submit

from kfp_standin import KfpStandin

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn" / "churn.pipeline"
SECRETS = ("tok-SECRET-4f8a9c", "cookie-SECRET-77aa21", "pw-SECRET-0d3e5b")


@pytest.fixture
def kfp() -> Iterator[KfpStandin]:
    with KfpStandin() as server:
        yield server
        assert server.violations == []


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
