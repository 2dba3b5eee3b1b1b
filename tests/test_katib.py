"""Katib Experiments: every generated one is valid against the schema derived from Katib 0.10.1's
v1beta1 Go types (tests/katib/experiment-v1beta1-v0.10.1.schema.json, see its $comment) and passes
the checks Katib's admission webhook makes on a trial template; the metrics filter finds the
metrics in a metrics file a real node wrote."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import t3qkfp
from t3qkfp.errors import UsageError
from t3qkfp.katib import METRICS_FORMAT, PRIMARY_LABEL, katib_experiment

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "katib" / "experiment-v1beta1-v0.10.1.schema.json").read_text())
SWEEP = ROOT / "tests" / "runtime_cases" / "sweep_metrics" / "sweep_metrics.pipeline"
THREE = ROOT / "tests" / "runtime_cases" / "three_nodes" / "three_nodes.pipeline"
CHURN = ROOT / "examples" / "churn" / "churn.pipeline"
# Katib 0.10.1 pkg/controller.v1beta1/consts/const.go TrialTemplateParamReplaceFormatRegex
TRIAL_PARAMETER = re.compile(r"\$\{trialParameters\..+?\}")


def check_like_katib(experiment: dict) -> None:
    """The schema, then what validator.go's validateTrialTemplate / validateMetricsCollector check."""
    jsonschema.validate(experiment, SCHEMA)
    spec = experiment["spec"]
    template = spec["trialTemplate"]
    text = json.dumps(template["trialSpec"])
    names = [p["name"] for p in template["trialParameters"]]
    references = [p["reference"] for p in template["trialParameters"]]
    assert len(set(names)) == len(names) and len(set(references)) == len(references)
    assert set(references) <= {p["name"] for p in spec["parameters"]}
    for name in names:
        assert "${trialParameters.%s}" % name in text
        text = text.replace("${trialParameters.%s}" % name, "test-value")
    assert TRIAL_PARAMETER.findall(text) == []
    trial = template["trialSpec"]
    assert "name" not in trial.get("metadata", {}) and "namespace" not in trial.get("metadata", {})
    assert trial["apiVersion"] == "argoproj.io/v1alpha1" and trial["kind"] == "Workflow"
    assert spec["parallelTrialCount"] <= spec["maxTrialCount"]
    for pattern in spec["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"]:
        assert re.compile(pattern).groups >= 2  # "two top subexpressions are required"


def test_experiment_is_valid_and_sets_only_the_searched_parameters() -> None:
    experiment = katib_experiment(SWEEP, objective="loss", goal="minimize",
                                  params=["LR=double:0.01:0.5", "OPTIMIZER=categorical:sgd,adam"],
                                  algorithm="bayesianoptimization", max_trials=8, parallel=2)
    check_like_katib(experiment)
    spec = experiment["spec"]
    assert spec["objective"] == {"type": "minimize", "objectiveMetricName": "loss"}
    assert spec["parameters"] == [
        {"name": "LR", "parameterType": "double", "feasibleSpace": {"min": "0.01", "max": "0.5"}},
        {"name": "OPTIMIZER", "parameterType": "categorical", "feasibleSpace": {"list": ["sgd", "adam"]}}]
    workflow = spec["trialTemplate"]["trialSpec"]
    arguments = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert arguments == {"EPOCHS": "1", "LR": "${trialParameters.LR}", "OPTIMIZER": "${trialParameters.OPTIMIZER}"}
    # the rest of the workflow is the compiled one
    [train] = [t for t in workflow["spec"]["templates"] if t["name"] == "train"]
    assert train["metadata"].pop("labels") == {PRIMARY_LABEL: "true"}
    compiled = t3qkfp.compile(SWEEP)
    assert workflow["spec"]["templates"] == compiled["spec"]["templates"]  # the rest is the compiled one
    assert "generateName" not in workflow["metadata"]
    assert spec["trialTemplate"]["primaryPodLabels"] == {PRIMARY_LABEL: "true"}
    assert spec["metricsCollectorSpec"]["source"]["fileSystemPath"] == {"path": "/tmp/mlpipeline-metrics.json",
                                                                        "kind": "File"}
    for template in workflow["spec"]["templates"]:  # credentials stay in the Kubernetes secret
        for env in template.get("container", {}).get("env", []):
            if env["name"].startswith("AWS_"):
                assert set(env) == {"name", "valueFrom"} and "secretKeyRef" in env["valueFrom"]


def test_every_kind_of_space_and_the_churn_example_validate() -> None:
    check_like_katib(katib_experiment(SWEEP, objective="accuracy", params={"EPOCHS": "int:1:10:1",
                                      "LR": "double:0.001:0.1:0.001"}, algorithm="grid", max_trials=3, parallel=3,
                                      objective_goal=0.99, additional_metrics=["loss"], namespace="alice"))
    churn = t3qkfp.plan(t3qkfp.load(CHURN))
    name = next(p.name for p in churn.parameters if p.type.value == "Integer")
    check_like_katib(katib_experiment(CHURN, objective="auc", params=[f"{name}=int:1:5"],
                                      metrics_node=churn.tasks[-1][1]))


def test_metrics_filter_reads_the_file_a_real_node_wrote(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w") as log:
        run = t3qkfp.run_local(SWEEP, params={"LR": 0.2, "EPOCHS": 4}, workdir=tmp_path / "w", out=log)
    lines = (run.workdir / "nodes" / "train" / "metadata" / "mlpipeline-metrics.json").read_text().splitlines()
    found = {}
    for line in lines:  # Katib's file collector: line by line, group 1 the name, group 2 the value
        for match in re.finditer(METRICS_FORMAT, line):
            found[match.group(1)] = float(match.group(2))
    assert found == {"loss": pytest.approx((0.2 - 0.1) ** 2 + 0.25 + 0.05), "accuracy": pytest.approx(1 - 0.31 / 2)}


@pytest.mark.parametrize("params, kwargs, message", [
    (["LR=int:1:5"], {}, "'LR' is Float; int needs an Integer parameter"),
    (["EPOCHS=double:0.1:1"], {}, "'EPOCHS' is Integer; double needs a Float parameter"),
    (["EPOCHS=int:1:x"], {}, "'EPOCHS' is Integer: 'x' does not fit"),
    (["LR=double:0.5:0.1"], {}, "MIN must be below MAX"),
    (["LRX=double:0.1:0.5"], {}, "LRX"),
    (["LR=uniform:0.1:0.5"], {}, "double, int or categorical"),
    (["LR=double:0.1:0.5"], {"parallel": 5, "max_trials": 2}, "cannot exceed max trials"),
    (["LR=double:0.1:0.5"], {"algorithm": "evolution"}, "not one of Katib 0.10's"),
    ([], {}, "at least one --param"),
])
def test_bad_search_spaces_are_refused(params, kwargs, message) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        katib_experiment(SWEEP, objective="loss", params=params, **kwargs)


def test_several_last_nodes_need_a_metrics_node() -> None:
    data = json.loads(SWEEP.read_text())
    twin = json.loads(json.dumps(data["pipelines"][0]["nodes"][0]))
    twin["id"] = "train-twin"
    twin["app_data"]["label"] = twin["app_data"]["ui_data"]["label"] = "Train twin"
    data["pipelines"][0]["nodes"].append(twin)
    with pytest.raises(UsageError, match=r"ends in 2 nodes \(train, train-twin\).*--metrics-node"):
        katib_experiment(data, base_dir=SWEEP.parent, objective="loss", params=["LR=double:0.1:0.5"])
    experiment = katib_experiment(data, base_dir=SWEEP.parent, objective="loss", params=["LR=double:0.1:0.5"],
                                  metrics_node="train-twin")
    check_like_katib(experiment)
    labelled = [t["name"] for t in experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["templates"]
                if PRIMARY_LABEL in t.get("metadata", {}).get("labels", {})]
    assert labelled == ["train-twin"]
    with pytest.raises(UsageError, match="no such node"):
        katib_experiment(data, base_dir=SWEEP.parent, objective="loss", params=["LR=double:0.1:0.5"],
                         metrics_node="nope")


def test_cli_writes_a_valid_experiment(tmp_path: Path) -> None:
    out = tmp_path / "experiment.yaml"
    done = subprocess.run([sys.executable, "-m", "t3qkfp", "katib", str(SWEEP), "--objective", "loss", "--goal",
                           "minimize", "--param", "LR=double:0.001:0.1", "--param", "EPOCHS=int:1:10",
                           "--param", "OPTIMIZER=categorical:sgd,adam", "--algorithm", "random",
                           "--max-trials", "6", "--parallel", "2", "-o", str(out)],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    experiment = yaml.safe_load(out.read_text())
    check_like_katib(experiment)
    assert experiment["spec"]["maxTrialCount"] == 6 and "wrote" in done.stdout
