"""run_workflow on hand-built Argo workflows: DAG order, parallelism, failure, env sources.

These need no S3: the containers are small `python3 -c` programs, so the scheduler and the
Argo/kubelet resolution are tested on their own, fast.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from t3qkfp.errors import RunError
from t3qkfp.local import run_workflow
from t3qkfp.storage import Credentials

CREDS = Credentials(access_key="AKIALOCAL", secret_key="local-secret")

# Each node appends "<task> start/end <time>" to a shared file, sleeps, and dumps its env.
PROGRAM = r"""
import json, os, sys, time
log = os.environ["LOG"]
with open(log, "a") as f: f.write(f"{os.environ['TASK']} start {time.monotonic()}\n")
time.sleep(float(os.environ.get("SLEEP", "0")))
with open(os.path.join(os.environ["T3QKFP_METADATA_DIR"], "mlpipeline-ui-metadata.json"), "w") as f: f.write("{}")
with open(os.environ["OUT"] + "/" + os.environ["TASK"] + ".json", "w") as f:
    json.dump({**{k: v for k, v in os.environ.items()}, "cwd": os.getcwd(), "argv": sys.argv}, f)
with open(log, "a") as f: f.write(f"{os.environ['TASK']} end {time.monotonic()}\n")
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def workflow(tmp: Path, tasks: dict[str, list[str]], *, params: dict[str, str] | None = None,
             extra_env: list[dict[str, Any]] | None = None, fail: str | None = None) -> dict[str, Any]:
    params = params or {"MSG": "default"}
    templates = []
    for name in tasks:
        env = [{"name": "MSG", "value": "{{inputs.parameters.MSG}}"},
               {"name": "TASK", "value": name},
               {"name": "LOG", "value": str(tmp / "events.log")},
               {"name": "OUT", "value": str(tmp)},
               {"name": "SLEEP", "value": "0.6" if name in ("b", "c") else "0"},
               {"name": "EXIT", "value": "3" if name == fail else "0"},
               *(extra_env or [])]
        templates.append({"name": name, "inputs": {"parameters": [{"name": "MSG"}]},
                          "metadata": {"annotations": {"example/a": "annotation of {{inputs.parameters.MSG}}"}},
                          "outputs": {"artifacts": [{"name": "mlpipeline-ui-metadata",
                                                     "path": "/tmp/mlpipeline-ui-metadata.json"}]},
                          "container": {"image": "python:3.11", "command": ["python3", "-c", PROGRAM],
                                        "args": ["$(TASK)", "{{workflow.uid}}", "$$x"], "env": env}})
    dag = {"name": "main", "inputs": {"parameters": [{"name": k} for k in params]},
           "dag": {"tasks": [{"name": n, "template": n, "dependencies": deps,
                              "arguments": {"parameters": [{"name": "MSG", "value": "{{inputs.parameters.MSG}}"}]}}
                             for n, deps in tasks.items()]}}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "demo-"},
            "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": k, "value": v} for k, v in params.items()]},
                     "templates": [dag, *templates]}}


def events(tmp: Path) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for line in (tmp / "events.log").read_text().splitlines():
        task, kind, when = line.split()
        found.setdefault(task, {})[kind] = float(when)
    return found


DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def test_diamond_order_parallelism_and_resolution(tmp_path: Path) -> None:
    log = io.StringIO()
    run = run_workflow(workflow(tmp_path, DIAMOND), params={"MSG": "over $(TASK) `x`"}, credentials=CREDS,
                       workdir=tmp_path / "work", max_parallel=2, out=log, run_id="rid-123")
    seen = events(tmp_path)
    assert seen["a"]["end"] <= min(seen["b"]["start"], seen["c"]["start"])
    assert max(seen["b"]["end"], seen["c"]["end"]) <= seen["d"]["start"]
    assert seen["b"]["start"] < seen["c"]["end"] and seen["c"]["start"] < seen["b"]["end"]  # overlapped
    env = json.loads((tmp_path / "d.json").read_text())
    assert env["MSG"] == "over $(TASK) `x`"  # MSG comes before TASK: the kubelet leaves it alone
    assert env["argv"][1:] == ["d", "rid-123", "$x"]  # command/args: $(VAR) and $$ as the kubelet does
    assert env["cwd"] == str(tmp_path / "work" / "d" / "work")
    assert env["T3QKFP_METADATA_DIR"] == str(tmp_path / "work" / "d" / "metadata")
    assert "AWS_SECRET_ACCESS_KEY" not in env  # host credentials never leak in
    assert [n.task for n in run.nodes][0] == "a" and [n.task for n in run.nodes][-1] == "d"
    text = log.getvalue()
    assert "4/4 nodes done" in text and "[b] starting" in text


def test_failure_stops_new_nodes_and_names_the_node(tmp_path: Path) -> None:
    log = io.StringIO()
    with pytest.raises(RunError, match=r"node 'b' \(b\) failed with exit code 3"):
        run_workflow(workflow(tmp_path, DIAMOND, fail="b"), credentials=CREDS, workdir=tmp_path / "w",
                     max_parallel=2, out=log)
    seen = events(tmp_path)
    assert "d" not in seen  # never started
    assert "end" in seen["c"]  # the running sibling finished, as Argo lets it


def test_missing_artifact_fails_like_argo(tmp_path: Path) -> None:
    wf = workflow(tmp_path, {"a": []})
    wf["spec"]["templates"][1]["outputs"]["artifacts"].append({"name": "mlpipeline-metrics",
                                                               "path": "/tmp/mlpipeline-metrics.json"})
    with pytest.raises(RunError, match="did not write /tmp/mlpipeline-metrics.json"):
        run_workflow(wf, credentials=CREDS, workdir=tmp_path / "w", out=io.StringIO())


def test_env_from_secrets_and_annotations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "token-from-this-shell")
    extra = [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s", "key": "accesskey"}}},
             {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "secretkey"}}},
             {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
             {"name": "DB_PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pass"}}},
             {"name": "FROM_ANNOTATION", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['example/a']"}}}]
    log = io.StringIO()
    run_workflow(workflow(tmp_path, {"a": []}, extra_env=extra), params={"MSG": "m"}, credentials=CREDS,
                 workdir=tmp_path / "w", secret_values={("db", "pass"): "given"}, out=log)
    env = json.loads((tmp_path / "a.json").read_text())
    assert env["AWS_ACCESS_KEY_ID"] == "AKIALOCAL" and env["AWS_SECRET_ACCESS_KEY"] == "local-secret"
    assert env["HF_TOKEN"] == "token-from-this-shell" and env["DB_PASS"] == "given"
    assert env["FROM_ANNOTATION"] == "annotation of m"
