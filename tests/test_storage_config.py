"""Where node archives go: flags > T3QKFP_S3_* env vars > the config file > Kubeflow's defaults,
and settings no pod or S3 client could use are refused before anything is compiled."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from t3qkfp.errors import UsageError
from t3qkfp.storage_settings import StorageConfig

EXAMPLE = ROOT / "examples" / "churn" / "churn.pipeline"


def test_defaults_are_a_stock_kubeflow_minio(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no t3qkfp.toml here
    config = StorageConfig.resolve(env={})
    assert (config.endpoint, config.bucket, config.secret) == (
        "http://minio-service.kubeflow:9000", "mlpipeline", "mlpipeline-minio-artifact")


def test_flags_beat_env_which_beats_the_file_which_beats_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t3qkfp.toml").write_text('[storage]\nendpoint = "http://file:9000"\nbucket = "file-bucket"\n'
                                          'prefix = "from-file"\nregion = "eu-west-1"\n')
    env = {"T3QKFP_S3_BUCKET": "env-bucket", "T3QKFP_S3_PREFIX": "from-env"}
    config = StorageConfig.resolve(prefix="from-flag", env=env)
    assert (config.endpoint, config.bucket, config.prefix, config.region) == (
        "http://file:9000", "env-bucket", "from-flag", "eu-west-1")
    other = tmp_path / "other.toml"
    other.write_text('[storage]\nendpoint = "http://other:9000"\n')
    assert StorageConfig.resolve(env={"T3QKFP_CONFIG": str(other)}).endpoint == "http://other:9000"
    assert StorageConfig.resolve(config_file=other, env={"T3QKFP_CONFIG": "missing.toml"}).endpoint == "http://other:9000"


@pytest.mark.parametrize(("settings", "message"), [
    ({"endpoint": "minio:9000"}, "must start with http:// or https://"),
    ({"endpoint": "https://gateway.example.com/minio/"}, "cannot upload to an endpoint with a path"),
    ({"endpoint": "http://minio:9000?x=1"}, "scheme://host[:port] only"),
    ({"bucket": "b"}, "not a valid bucket name"),
    ({"bucket": "My_Bucket"}, "not a valid bucket name"),
    ({"prefix": "../up"}, "must be relative and without '..'"),
    ({"secret": "{{workflow.name}}"}, "contains '{{' or '}}'"),
    ({"endpoint": "http://[::1"}, "is not a valid URL"),
    ({"endpoint": "http://minio:port"}, "is not a valid URL"),
    ({"bucket": 123}, "bucket must be text, not int"),
])
def test_unusable_settings_are_refused_however_they_are_given(settings, message):
    with pytest.raises(UsageError, match=message.replace("?", r"\?").replace("[", r"\[").replace("{", r"\{")):
        StorageConfig(**settings)
    if all(isinstance(v, str) for v in settings.values()):  # flags and env vars are always text
        with pytest.raises(UsageError):
            StorageConfig.resolve(env={}, **settings)


@pytest.mark.parametrize(("content", "message"), [
    ("[storage\n", "cannot read config file"),
    ('[storage]\nendpont = "http://x:9000"\n', "unknown [storage] keys ['endpont']"),
    ("[storage]\nbucket = 3\n", "values must be strings"),
    ('storage = "x"\n', "[storage] must be a table"),
])
def test_a_broken_config_file_is_named_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "t3qkfp.toml"
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        StorageConfig.resolve(config_file=path, env={})
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_the_cli_refuses_an_endpoint_with_a_path_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "t3qkfp", "compile", str(EXAMPLE), "-o", str(tmp_path / "x.yaml"),
                             "--endpoint", "https://gateway.example.com/minio/"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "cannot upload to an endpoint with a path" in result.stderr
    assert not (tmp_path / "x.yaml").exists()
