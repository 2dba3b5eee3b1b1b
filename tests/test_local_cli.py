"""`t3qkfp upload` and `t3qkfp run --local` from the command line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from t3qkfp.cli_runtime import parse_params, run, upload
from t3qkfp.errors import UsageError

from s3server import s3_server

CASES = Path(__file__).parent / "runtime_cases"
THREE = str(CASES / "three_nodes" / "three_nodes.pipeline")


def test_upload_command_uses_env_credentials() -> None:
    with s3_server(auth=True) as s3:
        env = {"AWS_ACCESS_KEY_ID": s3.credentials.access_key,
               "AWS_SECRET_ACCESS_KEY": s3.credentials.secret_key}
        args = [THREE, "--endpoint", s3.endpoint, "--bucket", s3.bucket, "--prefix", "cli"]
        first = CliRunner().invoke(upload, args, env=env)
        second = CliRunner().invoke(upload, args, env=env)
        keys = s3.keys("cli/archives/")
    assert first.exit_code == 0, first.output
    assert "3 uploaded, 0 already there" in first.stdout
    assert "0 uploaded, 3 already there" in second.stdout
    assert first.stderr.count("uploaded: s3://") == 3
    assert len(keys) == 3


def test_upload_command_missing_bucket_exit_code() -> None:
    with s3_server(auth=True) as s3:
        env = {"AWS_ACCESS_KEY_ID": s3.credentials.access_key,
               "AWS_SECRET_ACCESS_KEY": s3.credentials.secret_key}
        result = CliRunner().invoke(upload, [THREE, "--endpoint", s3.endpoint, "--bucket", "nope-bucket"], env=env)
    assert result.exit_code == 1
    assert "bucket 'nope-bucket' does not exist" in result.stderr


def test_run_local_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(run, [THREE, "--local", "-p", "COUNT=2", "-p", "TITLE=a=b c",
                                      "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "succeeded (3 nodes)" in result.stdout
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["prepare-numbers", "double-them", "report"]
    [run_folder] = tmp_path.iterdir()  # WORKDIR/<run id>
    assert run_folder.name == lines[0].split()[1]
    summary = json.loads((run_folder / "results" / "report" / "outputs" / "report" / "summary.json").read_text())
    assert summary["title"] == "a=b c" and summary["numbers"] == [2, 4]
    assert f"results: {run_folder / 'results'}" in result.stdout
    assert f"node folders: {run_folder / 'nodes'}" in result.stdout


def test_run_command_errors() -> None:
    unknown = CliRunner().invoke(run, [THREE, "--local", "-p", "COUNTS=1"])
    assert unknown.exit_code == 2
    assert "Did you mean 'COUNT'?" in unknown.stderr and "Valid run parameters:" in unknown.stderr
    not_local = CliRunner().invoke(run, [THREE])
    assert not_local.exit_code == 2 and "t3qkfp submit" in not_local.stderr


def test_parse_params() -> None:
    assert parse_params(("A=1", "B=x=y", "C=")) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        parse_params(("A",))
    with pytest.raises(UsageError, match="given twice"):
        parse_params(("A=1", "A=2"))


def test_run_refuses_a_value_that_does_not_fit_a_typed_parameter_before_starting() -> None:
    """As `submit` does: the same check, so a green local run means the same overrides work on KFP."""
    result = CliRunner().invoke(run, [THREE, "--local", "-p", "COUNT=a\nb"])
    assert result.exit_code == 2
    assert "run parameter 'COUNT' is Integer: 'a\\nb' does not fit" in result.stderr
    assert "storage" not in result.stderr.lower()  # refused before any server was started
