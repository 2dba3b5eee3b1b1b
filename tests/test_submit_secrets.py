"""No credential in any message, no userinfo in any URL, one override check, bounded server text.

The real kfp.Client 1.2.0 and requests talk to the KFP stand-in (tests/kfp_standin.py); the CLI
runs as a subprocess. Every test also checks that the credentials it used appear nowhere in
what the user sees: the exception, stdout, stderr and the log.
"""
from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from t3qkfp import run_local
from t3qkfp.elyra_objects import runtime_options
from t3qkfp.errors import SubmitError, SubmittedRunError, UsageError
from t3qkfp.kfp_auth import KfpAuth
from t3qkfp.kfp_submit import SubmitResult, submit
from t3qkfp.secrecy import scrub
from t3qkfp.storage_settings import StorageConfig

from kfp_standin import KfpStandin

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "examples" / "churn" / "churn.pipeline"
THREE = ROOT / "tests" / "runtime_cases" / "three_nodes" / "three_nodes.pipeline"
TYPED = ROOT / "tests" / "cases" / "v3_kv_env" / "input.pipeline"  # Integer, Float, Bool, String

TOKEN = "tok-secret-4f1c9a7e2b55"
PASSWORD = "pw-secret-8d2e61"
# Pieces a leak would show even when a message is cut or escaped.
TOKEN_PIECES = (TOKEN[:8], TOKEN[-8:])


pytestmark = pytest.mark.usefixtures("no_user_credentials")


@pytest.fixture(autouse=True)
def nothing_secret_is_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert_no_secret(caplog.text)


def assert_no_secret(text: str, *secrets: str) -> None:
    for piece in (*TOKEN_PIECES, PASSWORD, *secrets):
        assert piece not in text, f"{piece!r} leaked into {text[:500]!r}"


def go(server: KfpStandin, path: Path = CHURN, **kwargs: object) -> SubmitResult:
    kwargs.setdefault("upload_files", False)
    kwargs.setdefault("poll_interval", 0.01)
    return submit(path, host=kwargs.pop("host", server.url), **kwargs)  # type: ignore[arg-type]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("T3QKFP_KFP_", "T3QKFP_S3_"))}
    environ.update(env)
    return subprocess.run([sys.executable, "-W", "error", "-m", "t3qkfp", *args], capture_output=True,
                          text=True, env=environ, cwd=ROOT, timeout=120)


# ---- 1: tokens and cookies as read from secret files -----------------------------------------
@pytest.mark.parametrize("ending", ["\n", "\r\n", " \n", "\t", "\n\n"])
def test_token_read_from_a_secret_file_works(kfp: KfpStandin, monkeypatch: pytest.MonkeyPatch,
                                             ending: str) -> None:
    """`export T3QKFP_KFP_TOKEN=$(cat token)` keeps no newline, `< token` or Python reads do."""
    kfp.token = TOKEN
    monkeypatch.setenv("T3QKFP_KFP_TOKEN", TOKEN + ending)
    result = go(kfp)
    assert result.run_id in kfp.runs
    assert kfp.requests and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in kfp.requests)


def test_cookie_read_from_a_secret_file_works(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": PASSWORD}
    session = kfp.new_session()
    result = go(kfp, auth=KfpAuth(cookie=f"authservice_session={session}\r\n"))
    assert result.run_id in kfp.runs
    assert all(r.headers.get("cookie") == f"authservice_session={session}" for r in kfp.requests)


def test_a_whitespace_only_token_is_no_token() -> None:
    assert KfpAuth(token=" \n").kind == "none" and KfpAuth(token=f" {TOKEN}\n").token == TOKEN


@pytest.mark.parametrize("bad", [
    TOKEN[:10] + "\n" + TOKEN[10:],   # two lines pasted
    TOKEN[:10] + "\r" + TOKEN[10:],
    TOKEN[:10] + " " + TOKEN[10:],    # a space inside a bearer token
    TOKEN + "\x00",
    TOKEN + "\u20ac",                 # not latin-1: http.client raised UnicodeEncodeError
    "\u201c" + TOKEN + "\u201d",      # typographic quotes from a chat or a document
    TOKEN + "\u00e4",                 # latin-1 but not ASCII
], ids=["newline", "cr", "space", "nul", "euro", "quotes", "latin-1"])  # ids: no credential in any output
def test_token_a_header_cannot_carry_is_a_usage_error_that_does_not_show_it(kfp: KfpStandin, bad: str) -> None:
    kfp.token = TOKEN
    with pytest.raises(UsageError) as info:
        go(kfp, auth=KfpAuth(token=bad))
    message = str(info.value)
    assert "bearer token" in message and "HTTP header cannot carry" in message
    assert_no_secret(message)
    assert kfp.requests == []  # refused before anything was sent


@pytest.mark.parametrize("bad", ["authservice_session=abc\ndef0123", "abc\u2013def0123", "abc\x7fdef0123"])
def test_cookie_a_header_cannot_carry_is_a_usage_error(kfp: KfpStandin, bad: str) -> None:
    with pytest.raises(UsageError, match="cookie has a") as info:
        go(kfp, auth=KfpAuth(cookie=bad))
    assert "def0123" not in str(info.value) and kfp.requests == []


def test_cookie_with_several_pairs_passes_the_check() -> None:
    KfpAuth(cookie="authservice_session=abcd; other=1").check()


def test_cli_token_with_an_inner_newline_shows_no_part_of_it(kfp: KfpStandin) -> None:
    kfp.token = TOKEN
    result = cli("submit", str(CHURN), "--host", kfp.url, "--no-upload",
                 T3QKFP_KFP_TOKEN=TOKEN[:10] + "\n" + TOKEN[10:] + "\n")
    assert result.returncode == 2, result.stderr
    assert "from env T3QKFP_KFP_TOKEN" in result.stderr and "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr)


@pytest.mark.parametrize("kind", ["text/plain", "kfp-json"])
@pytest.mark.parametrize("offset", [0, 280, 290])
def test_server_text_quoting_the_token_is_scrubbed_even_where_it_is_cut(kfp: KfpStandin, offset: int,
                                                                        kind: str) -> None:
    """A plain-text body was cut at 300 characters before scrubbing: a token across the cut leaked."""
    kfp.token = TOKEN
    text = "x" * offset + f"token {TOKEN} is not allowed to run"
    if kind == "kfp-json":
        kfp.fail_next("create_run", 500, text)
    else:
        kfp.answer_next("create_run", text, status=500, content_type="text/plain")
    with pytest.raises(SubmitError) as info:
        go(kfp, auth=KfpAuth(token=TOKEN))
    assert "HTTP 500" in str(info.value)
    assert_no_secret(str(info.value))


def test_run_error_quoting_the_password_is_scrubbed(kfp: KfpStandin) -> None:
    kfp.dex_users = {"user@example.com": PASSWORD}
    kfp.run_outcome, kfp.run_error = "Failed", f"login with {PASSWORD!r} failed"
    with pytest.raises(SubmittedRunError) as info:
        go(kfp, auth=KfpAuth(username="user@example.com", password=PASSWORD), wait=True)
    assert "ended Failed: login with '***' failed" in str(info.value)


def test_scrub_finds_escaped_and_encoded_spellings() -> None:
    secret = 'a"b\\c d/é'
    for spelling in (secret, repr(secret)[1:-1], "a%22b%5Cc%20d%2F%C3%A9", secret.encode("unicode_escape").decode()):
        assert scrub(f"<{spelling}>", [secret]) == "<***>"
    assert scrub("a p in a message", ["p"]) == "a p in a message"  # too short to tell from text


# ---- 2: userinfo in URLs ---------------------------------------------------------------------
@pytest.mark.parametrize("userinfo", [f"admin:{PASSWORD}@", "admin@", f":{PASSWORD}@"],
                         ids=["user-password", "user", "password"])
def test_kfp_host_with_userinfo_is_refused(kfp: KfpStandin, userinfo: str) -> None:
    host = kfp.url.replace("http://", f"http://{userinfo}")
    with pytest.raises(UsageError) as info:
        go(kfp, host=host)
    message = str(info.value)
    assert "user:password@" in message and "--token" in message and "--username" in message
    assert f"'http://***@127.0.0.1:{kfp.port}/pipeline'" in message and "admin" not in message
    assert_no_secret(message)
    assert kfp.requests == []


def test_cli_host_with_userinfo_is_a_usage_error(kfp: KfpStandin) -> None:
    result = cli("submit", str(CHURN), "--no-upload", "--host", kfp.url.replace("//", f"//admin:{PASSWORD}@"))
    assert result.returncode == 2 and "user:password@" in result.stderr
    assert_no_secret(result.stdout + result.stderr)
    assert kfp.requests == []


@pytest.mark.parametrize("endpoint", [f"http://minio:{PASSWORD}@minio-service:9000", "http://minio@minio:9000",
                                      f"https://AKIA:{PASSWORD}@s3.amazonaws.com"], ids=["minio", "user", "aws"])
def test_storage_endpoint_with_userinfo_is_refused(endpoint: str) -> None:
    with pytest.raises(UsageError) as info:
        StorageConfig(endpoint=endpoint)
    message = str(info.value)
    assert "object storage endpoint 'http" in message and "***@" in message
    assert "AWS_ACCESS_KEY_ID" in message and "--secret" in message
    assert_no_secret(message, "minio@", "AKIA")


@pytest.mark.parametrize("command", ["compile", "upload"])
def test_cli_endpoint_with_userinfo_writes_nothing(tmp_path: Path, command: str) -> None:
    """Before: compile wrote the credentials base64'd into every node spec; upload crashed in minio."""
    out = tmp_path / "churn.yaml"
    args = [command, str(CHURN), "--endpoint", f"http://minio:{PASSWORD}@127.0.0.1:9"]
    result = cli(*args, *(["-o", str(out)] if command == "compile" else []))
    assert result.returncode == 2 and "user:password@" in result.stderr and "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr)
    assert not out.exists()


def test_storage_endpoint_with_userinfo_from_the_environment(tmp_path: Path) -> None:
    result = cli("compile", str(CHURN), "-o", str(tmp_path / "x.yaml"),
                 T3QKFP_S3_ENDPOINT=f"http://minio:{PASSWORD}@127.0.0.1:9")
    assert result.returncode == 2 and "user:password@" in result.stderr
    assert_no_secret(result.stdout + result.stderr)


@pytest.mark.parametrize(("field", "value", "instead"), [
    ("api_endpoint", f"https://alice:{PASSWORD}@kf.example/pipeline", "api_username / api_password"),
    ("cos_endpoint", f"https://ak:{PASSWORD}@s3.example", "cos_username / cos_password"),
], ids=["api_endpoint", "cos_endpoint"])
def test_elyra_runtime_configuration_urls_with_userinfo(field: str, value: str, instead: str) -> None:
    metadata = {"api_endpoint": "https://kf.example/pipeline", "cos_endpoint": "https://s3.example",
                "cos_bucket": "bkt", "cos_secret": "cos-keys", "engine": "Argo", field: value}
    with pytest.raises(UsageError) as info:
        runtime_options("rt", metadata, env={})
    message = str(info.value)
    assert f"Elyra runtime configuration 'rt': {field}" in message and instead in message
    assert_no_secret(message, "alice")


# ---- 6: one override check for submit and run --local ------------------------------------------
@pytest.mark.parametrize("value", ["{{workflow.name}}", "a}}b", "x{{y", "bell\x07", "nul\x00",
                                   "esc\x1b[31m", "del\x7f"])
def test_submit_refuses_what_run_local_refuses(kfp: KfpStandin, tmp_path: Path, value: str) -> None:
    with pytest.raises(UsageError) as submitted:
        go(kfp, path=THREE, params={"MESSAGE": value})
    assert kfp.requests == []  # nothing was sent
    with pytest.raises(UsageError) as local:
        run_local(THREE, params={"MESSAGE": value}, workdir=tmp_path / "w", out=io.StringIO())
    assert not (tmp_path / "w").exists() or not list((tmp_path / "w").iterdir())
    assert str(submitted.value) == str(local.value)
    assert str(submitted.value).startswith("value of run parameter 'MESSAGE' contains")


def test_values_argo_carries_still_go(kfp: KfpStandin) -> None:
    result = go(kfp, path=THREE, params={"MESSAGE": "tab\there\nnew line {single} $(HOME) } {"})
    assert result.parameters == (("MESSAGE", "tab\there\nnew line {single} $(HOME) } {"),)


# ---- 13 and every message: bounded ------------------------------------------------------------
BIG = 2_000_000


@pytest.mark.parametrize("operation", ["create_run", "upload", "create_experiment", "healthz"])
def test_a_two_megabyte_error_body_is_bounded(kfp: KfpStandin, operation: str) -> None:
    kfp.fail_next(operation, 500, "database exploded: " + "x" * BIG)
    with pytest.raises(SubmitError) as info:
        go(kfp)
    message = str(info.value)
    assert "database exploded: xxx" in message and "characters left out)" in message
    assert len(message) < 1000


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_a_two_megabyte_foreign_body_is_bounded(kfp: KfpStandin, content_type: str) -> None:
    body = ('{"error": "' + "y" * BIG + '"}') if content_type == "application/json" else "z" * BIG
    kfp.answer_next("create_run", body, status=502, content_type=content_type)
    with pytest.raises(SubmitError) as info:
        go(kfp)
    assert "HTTP 502" in str(info.value) and len(str(info.value)) < 1000


def test_a_two_megabyte_run_error_is_bounded(kfp: KfpStandin) -> None:
    kfp.run_outcome, kfp.run_error = "Failed", "boom " * (BIG // 5)
    with pytest.raises(SubmittedRunError) as info:
        go(kfp, wait=True)
    message = str(info.value)
    assert "ended Failed: boom boom" in message and len(message) < 1000
    assert info.value.run_url in message  # the link survives the clipping


def test_a_huge_override_value_is_named_not_echoed(kfp: KfpStandin) -> None:
    with pytest.raises(UsageError) as info:
        go(kfp, path=TYPED, params={"INT": "9" * BIG})
    assert "is Integer" in str(info.value) and len(str(info.value)) < 500
