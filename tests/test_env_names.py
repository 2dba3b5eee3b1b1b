"""Reserved run-parameter names and credential-looking env vars (issue 11 point 3).

Each name below would, as a run parameter, let whoever starts a run execute code or load config
in the node (the reserved ones), or show a secret to everyone (the credential ones). The
harmless names beside them must keep passing: a check that refuses MAX_TOKENS is as wrong as
one that lets DB_PASS through.
"""
from __future__ import annotations

import json

import pytest

import t3qkfp
from t3qkfp.checks import holds_password_url, looks_like_credential, reserved_env
from t3qkfp.errors import PipelineError
from t3qkfp.params import plan
from invalid_helpers import INVALID

RESERVED = ["GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_PARAMETERS",
            "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EXEC_PATH", "GIT_ASKPASS", "GIT_PROXY_COMMAND",
            "GIT_CONFIG_GLOBAL", "GIT_TEMPLATE_DIR", "SSH_ASKPASS", "OPENSSL_CONF", "OPENSSL_MODULES",
            "SSLKEYLOGFILE", "CURL_HOME", "NETRC", "PYTHONOPTIMIZE", "PYTHONPLATLIBDIR", "PYTHONSAFEPATH",
            "PYTHONNOUSERSITE", "PYTHONPYCACHEPREFIX", "PYTHONIOENCODING", "PYTHONEXECUTABLE",
            "PYTHON_GIL", "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_PATH",
            "JUPYTER_PLATFORM_DIRS", "R_ENVIRON", "R_ENVIRON_USER", "R_PROFILE_USER", "R_DEFAULT_PACKAGES",
            "R_TESTS", "R_HOME", "R_LIBS_SITE", "MPLBACKEND", "SHELLOPTS", "PS4", "HOSTALIASES",
            "RES_OPTIONS", "LOCPATH", "BOTO_CONFIG"]
NOT_RESERVED = ["PYTHONUNBUFFERED", "PYTHONHASHSEED", "GITHUB_REPO", "MY_GIT_BRANCH", "RANDOM_SEED",
                "OPENSSL", "JUPYTER", "RATE", "R", "REGION", "PATHS", "MY_PATH"]
CREDENTIALS = ["DB_PASS", "PGPASS", "PGPASSFILE", "MYSQL_PASS", "SSH_KEY", "SSH_PRIVATE_KEY", "sshKey",
               "GITHUB_PAT", "GH_PAT", "SENTRY_DSN", "DB_DSN", "SLACK_WEBHOOK_URL", "WEBHOOK",
               "AZURE_STORAGE_CONNECTION_STRING", "CONNECTIONSTRING", "DB_CONN_STR", "SESSION_COOKIE",
               "AUTH_JWT", "HF_TOKEN", "BASIC_AUTH", "dbPass", "SIGNING_KEY", "DEPLOY_KEY"]
HARMLESS = ["MAX_TOKENS", "MAX_TOKEN", "TOKENIZER", "PATTERN", "FILE_PATTERN", "COMPAT", "COMPAT_MODE",
            "PATH_PREFIX", "PASSES", "NUM_PASSES", "FIRST_PASS", "BYPASS", "COMPASS", "PASS_THROUGH",
            "PAT_ID", "PATIENT_ID", "PATCH_SIZE", "TIMEOUT", "COOKIE_NAME",
            "SORT_KEY", "PARTITION_KEY", "S3_KEY", "HOOK", "KEYWORDS", "CONNECTION_TIMEOUT", "PASSAGE_LEN",
            "TOKEN_COUNT", "EOS_TOKEN", "BATCH_SIZE", "SPATIAL", "PATH_TO_DATA"]


@pytest.mark.parametrize("name", RESERVED)
def test_code_or_config_switches_are_reserved(name):
    assert reserved_env(name)


@pytest.mark.parametrize("name", NOT_RESERVED)
def test_ordinary_names_are_not_reserved(name):
    assert not reserved_env(name)


@pytest.mark.parametrize("name", CREDENTIALS)
def test_credential_names_are_recognised(name):
    assert looks_like_credential(name)


@pytest.mark.parametrize("name", HARMLESS)
def test_harmless_names_are_not_credentials(name):
    assert not looks_like_credential(name)


@pytest.mark.parametrize("value", ["postgresql://app:s3cr3t@db:5432/x", "--url=redis://:pw@cache:6379/0",
                                   "amqp://guest:guest@rabbit//", "https://u:p%40ss@host/path"])
def test_urls_with_passwords_are_recognised(value):
    assert holds_password_url(value)


@pytest.mark.parametrize("value", ["postgresql://app@db:5432/x", "http://host:8080/a@b", "git@github.com:o/r.git",
                                   "user:pw", "mailto:me@example.com", "s3://bucket/key:v@1"])
def test_urls_without_passwords_pass(value):
    assert not holds_password_url(value)


def _document(env: list[dict]) -> dict:
    document = json.loads((INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8"))
    document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["env_vars"] = env
    return document


def _messages(document: dict) -> str:
    with pytest.raises(PipelineError) as caught:
        plan(t3qkfp.load(document, base_dir=INVALID))
    return str(caught.value)


def test_reserved_and_credential_env_vars_are_refused_through_the_api():
    text = _messages(_document([{"env_var": "GIT_SSH_COMMAND", "value": "sh -c id"},
                                {"env_var": "PYTHONOPTIMIZE", "value": "2"},
                                {"env_var": "DB_PASS", "value": "hunter2"}]))
    assert "'GIT_SSH_COMMAND' is reserved" in text and "'PYTHONOPTIMIZE' is reserved" in text
    assert "'DB_PASS' looks like a credential" in text and "kubernetes_secrets" in text
    assert "hunter2" not in text


def test_url_with_password_in_a_value_is_refused_without_quoting_it():
    text = _messages(_document([{"env_var": "DATABASE_URL", "value": "postgresql://app:hunter2@db/x"}]))
    assert "'DATABASE_URL' holds a URL with a password" in text and "kubernetes_secrets" in text
    assert "hunter2" not in text


def test_harmless_env_vars_still_compile():
    document = _document([{"env_var": name, "value": "1"} for name in HARMLESS + ["PYTHONUNBUFFERED"]]
                         + [{"env_var": "DATABASE_URL", "value": "postgresql://app@db/x"}])
    result = plan(t3qkfp.load(document, base_dir=INVALID))
    assert {p.env_name for p in result.parameters} >= set(HARMLESS)
