"""The t3qkfp command as a user runs it: real subprocesses, exit codes, stdout vs stderr."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from t3qkfp.runtime.command import runtime_helper

EXAMPLE = ROOT / "examples" / "churn" / "churn.pipeline"


def t3qkfp(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "t3qkfp", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("command", [[], ["compile"], ["params"], ["validate"]])
def test_help(command):
    result = t3qkfp(*command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_compile_writes_the_yaml_and_prints_the_table(tmp_path):
    result = t3qkfp("compile", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "churn.yaml").is_file()
    assert "train_LOG_LEVEL" in result.stdout and "wrote churn.yaml" in result.stdout
    workflow = yaml.safe_load((tmp_path / "churn.yaml").read_text())
    names = [p["name"] for p in workflow["spec"]["arguments"]["parameters"]]
    assert names == ["DATA_SIZE", "EPOCHS", "LEARNING_RATE", "SEED", "THRESHOLD", "evaluate_LOG_LEVEL", "train_LOG_LEVEL"]


def test_compile_to_stdout_and_list_objects(tmp_path):
    to_stdout = t3qkfp("compile", str(EXAMPLE), "-o", "-")
    assert to_stdout.returncode == 0
    assert yaml.safe_load(to_stdout.stdout)["kind"] == "Workflow"
    listed = t3qkfp("compile", str(EXAMPLE), "-o", str(tmp_path / "x.zip"), "--list-objects", "--quiet",
                    "--bucket", "my-bucket", "--prefix", "team/a")
    assert listed.returncode == 0, listed.stderr
    keys = [line.strip() for line in listed.stdout.splitlines() if line.startswith("  ")]
    archives = [k for k in keys if k.startswith("team/a/archives/") and k.endswith(".tar.gz")]
    # three node archives and the node runtime helper every node's loader fetches first
    assert len(archives) == 3 and [k for k in keys if k not in archives] == [f"team/a/runtime/{runtime_helper()[1]}.py"]
    assert "my-bucket" in listed.stdout


def test_compile_cli_output_is_deterministic(tmp_path):
    t3qkfp("compile", str(EXAMPLE), "-o", str(tmp_path / "a.yaml"))
    t3qkfp("compile", str(EXAMPLE), "-o", str(tmp_path / "b.yaml"))
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()


def test_params_table_and_json():
    table = t3qkfp("params", str(EXAMPLE))
    assert table.returncode == 0
    header = table.stdout.splitlines()[1].split()
    assert header == ["NAME", "TYPE", "DEFAULT", "ENV", "VAR", "NODES", "NOTE"]
    assert any(line.startswith("SEED") and "Load data, Train" in line and "shared" in line
               for line in table.stdout.splitlines())
    plan = json.loads(t3qkfp("params", str(EXAMPLE), "--json").stdout)
    by_name = {p["name"]: p for p in plan["parameters"]}
    assert by_name["LEARNING_RATE"]["type"] == "Float"
    assert by_name["evaluate_LOG_LEVEL"]["note"] == "defaults differ between 2 nodes"
    per_node = json.loads(t3qkfp("params", str(EXAMPLE), "--json", "--scope", "node").stdout)
    assert {p["name"] for p in per_node["parameters"]} >= {"load_data_SEED", "train_SEED"}


def test_scope_pipeline_conflict_exits_1_with_the_reason():
    result = t3qkfp("params", str(EXAMPLE), "--scope", "pipeline")
    assert result.returncode == 1
    assert "LOG_LEVEL" in result.stderr and "defaults differ" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_ok_invalid_and_usage_errors(tmp_path):
    ok = t3qkfp("validate", str(EXAMPLE))
    assert ok.returncode == 0 and "valid (3 nodes, 7 run parameters)" in ok.stdout
    bad = tmp_path / "bad.pipeline"
    bad.write_text("{not json")
    invalid = t3qkfp("validate", str(bad))
    assert invalid.returncode == 1 and "not JSON" in invalid.stderr and invalid.stdout == ""
    usage = t3qkfp("compile", str(EXAMPLE), "--scope", "everything")
    assert usage.returncode == 2
    missing_arg = t3qkfp("params")
    assert missing_arg.returncode == 2
