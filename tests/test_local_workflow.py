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

from t3qkfp.errors import RunError, UsageError
from t3qkfp.local_exec import run_workflow
from t3qkfp.object_storage import Credentials

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
    assert env["cwd"] == str(tmp_path / "work" / "nodes" / "d" / "work")
    assert env["T3QKFP_METADATA_DIR"] == str(tmp_path / "work" / "nodes" / "d" / "metadata")
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
    extra = [{"name": "T3QKFP_S3_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "accesskey"}}},
             {"name": "T3QKFP_S3_SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "secretkey"}}},
             {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s", "key": "accesskey"}}},
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


def test_same_workdir_twice_is_refused_before_anything_starts(tmp_path: Path) -> None:
    run_workflow(workflow(tmp_path, DIAMOND), credentials=CREDS, workdir=tmp_path / "w", out=io.StringIO())
    before = {p: p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()}
    started = (tmp_path / "events.log").read_text()
    with pytest.raises(UsageError, match=r"already holds a run .*; choose another workdir or remove it"):
        run_workflow(workflow(tmp_path, DIAMOND), credentials=CREDS, workdir=tmp_path / "w", out=io.StringIO())
    assert (tmp_path / "events.log").read_text() == started  # no node started
    assert {p: p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(("tasks", "cycle"), [
    ({"a": ["b"], "b": ["a"]}, r"(a -> b -> a|b -> a -> b)"),
    ({"a": ["a"]}, r"a -> a"),
    # a cycle behind independent tasks: nothing runs, not even `free`
    ({"free": [], "a": ["free", "c"], "b": ["a"], "c": ["b"], "after": ["c"]},
     r"(a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)"),
])
def test_cycle_is_refused_naming_it(tmp_path: Path, tasks: dict[str, list[str]], cycle: str) -> None:
    log = io.StringIO()
    with pytest.raises(UsageError, match=rf"the DAG's tasks form a cycle, so none of them can start: {cycle} "
                                         r"\(each task depends on the next\)"):
        run_workflow(workflow(tmp_path, tasks), credentials=CREDS, workdir=tmp_path / "w", out=log)
    assert not (tmp_path / "events.log").exists() and not (tmp_path / "w").exists()
    assert "nodes done" not in log.getvalue()


def test_unknown_dependency_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"task 'b' depends on unknown task\(s\) \['nope'\]"):
        run_workflow(workflow(tmp_path, {"a": [], "b": ["nope"]}), credentials=CREDS, workdir=tmp_path / "w",
                     out=io.StringIO())
    assert not (tmp_path / "w").exists()


def _task(wf: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in wf["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == name)


def _template(wf: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in wf["spec"]["templates"] if t["name"] == name)


def _unknown_template(wf: dict[str, Any]) -> Any:
    _task(wf, "b")["template"] = "bb"
    return wf


def _no_template(wf: dict[str, Any]) -> Any:
    del _task(wf, "b")["template"]
    return wf


def _args_without_command(wf: dict[str, Any]) -> Any:
    del _template(wf, "b")["container"]["command"]
    return wf


def _no_command_no_args(wf: dict[str, Any]) -> Any:
    container = _template(wf, "b")["container"]
    del container["command"], container["args"]
    return wf


def _string_dependencies(wf: dict[str, Any]) -> Any:
    _task(wf, "b")["dependencies"] = "a"
    return wf


def _twice(wf: dict[str, Any]) -> Any:
    tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
    tasks.append(dict(tasks[0]))
    return wf


def _string_command(wf: dict[str, Any]) -> Any:
    _template(wf, "b")["container"]["command"] = "python3 -c pass"
    return wf


def _no_spec(wf: dict[str, Any]) -> Any:
    del wf["spec"]
    return wf


@pytest.mark.parametrize(("change", "message"), [
    (lambda wf: [wf], r"^the workflow is a list, not an Argo Workflow mapping"),
    (lambda wf: "apiVersion: argoproj.io/v1alpha1", r"^the workflow is a string, not an Argo Workflow mapping"),
    (lambda wf: None, r"^the workflow is empty, not an Argo Workflow mapping"),
    (_no_spec, r"^the workflow has no spec"),
    (_unknown_template, r"^task 'b' uses template 'bb', which the workflow does not define\. "
                        r"Did you mean 'b'\? Templates: a, b, main$"),
    (_no_template, r"^task 'b' names no template$"),
    (_args_without_command, r"^task 'b' \(template 'b'\) has no command \(only args\); the local runner "
                            r"cannot use image entrypoints$"),
    (_no_command_no_args, r"^task 'b' \(template 'b'\) has no command; the local runner cannot use image "
                          r"entrypoints$"),
    (_string_command, r"^task 'b' \(template 'b'\): container.command is a string, not a list$"),
    (_string_dependencies, r"^task 'b': dependencies is a string, not a list$"),
    (_twice, r"^task name 'a' appears twice in the DAG$"),
])
def test_malformed_workflow_is_a_clear_usage_error(tmp_path: Path, change: Any, message: str) -> None:
    wf = change(workflow(tmp_path, {"a": [], "b": ["a"]}))
    with pytest.raises(UsageError, match=message):
        run_workflow(wf, credentials=CREDS, workdir=tmp_path / "w", out=io.StringIO())
    assert not (tmp_path / "events.log").exists() and not (tmp_path / "w").exists()


def test_the_workflow_s_pod_spec_patch_gives_every_node_its_command(tmp_path: Path) -> None:
    """As Argo does: spec.podSpecPatch's main-container command replaces each template's."""
    wf = workflow(tmp_path, {"a": [], "b": ["a"]})
    for template in wf["spec"]["templates"][1:]:
        template["container"]["command"] = ["python3", "-c", "raise SystemExit('the patch was not applied')"]
    wf["spec"]["podSpecPatch"] = json.dumps({"containers": [{"name": "main", "command": ["python3", "-c", PROGRAM]}]})
    run = run_workflow(wf, params={"MSG": "m"}, credentials=CREDS, workdir=tmp_path / "w", out=io.StringIO())
    assert run.succeeded and (tmp_path / "a.json").is_file() and (tmp_path / "b.json").is_file()


@pytest.mark.parametrize("patch", ["containers:\n- name: main\n  command: [python3]",
                                   '{"containers": [{"name": "wait", "command": ["x"]}]}',
                                   '{"containers": [{"name": "main", "env": []}]}',
                                   '{"volumes": []}', "[1]"])
def test_a_pod_spec_patch_the_local_runner_cannot_follow_is_refused(tmp_path: Path, patch: str) -> None:
    wf = workflow(tmp_path, {"a": []})
    wf["spec"]["podSpecPatch"] = patch
    with pytest.raises(UsageError, match="spec.podSpecPatch: the local runner understands only"):
        run_workflow(wf, params={"MSG": "m"}, credentials=CREDS, workdir=tmp_path / "w", out=io.StringIO())
    assert not (tmp_path / "a.json").exists()
