"""Katib v1beta1 Experiments (Katib 0.10, as Kubeflow 1.2 ships it) whose trials are the compiled workflow.

Owns: the search space (`NAME=double:MIN:MAX`, `int:MIN:MAX`, `categorical:a,b`, optionally
`:STEP` for double/int), checked against the plan's types; the Experiment: objective,
algorithm, counts, the trial template (the compiled Argo Workflow, unchanged but for the
chosen run parameters, whose values become `${trialParameters.NAME}`), and the metrics
collector that reads the metrics node's KFP metrics file.
Field names follow kubeflow/katib v0.10.1 pkg/apis/controller/experiments/v1beta1/
experiment_types.go and common/v1beta1/common_types.go (the CRD of that version has no schema);
the Argo success/failure conditions and the primary-pod label follow Katib's Argo example
(examples/v1beta1/argo, added after 0.10: on Kubeflow 1.2 the Katib controller must be allowed
to manage argoproj.io workflows via --trial-resources, see README).
Must not: import kfp; put a credential into the Experiment (the workflow only names secrets).
"""
from __future__ import annotations

import copy
import decimal
import os
import re
from typing import Any, Iterable, Mapping

from .errors import UsageError
from .model import ParamType
from .params import ParameterPlan, check_names, check_overrides

API_VERSION = "kubeflow.org/v1beta1"
ALGORITHMS = ("random", "grid", "bayesianoptimization", "tpe", "hyperband", "cmaes")
GOALS = ("maximize", "minimize")
PRIMARY_LABEL = "katib.kubeflow.org/model-training"
METRICS_PATH = "/tmp/mlpipeline-metrics.json"  # nodespec.METRICS_PATH, where every node writes it
# node_runtime writes one metric per line as {"name": "...", "numberValue": N, ...}; Katib's
# file collector matches each line with these (group 1 the name, group 2 the value).
METRICS_FORMAT = r'"name":\s*"([\w|-]+)",\s*"numberValue":\s*(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)'
# Kubernetes object names: DNS-1123 subdomain; Katib trial names add a suffix, keep it short.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def parse_search_space(plan: ParameterPlan, pairs: Iterable[str] | Mapping[str, str]) -> list[dict[str, Any]]:
    """Katib ParameterSpecs for `NAME=double:MIN:MAX[:STEP]`, `NAME=int:MIN:MAX[:STEP]`, `NAME=categorical:a,b`."""
    raw: dict[str, str] = {}
    items = pairs.items() if isinstance(pairs, Mapping) else (p.partition("=")[::2] for p in pairs)
    for name, text in items:
        if not name or not text:
            raise UsageError(f"--param {name}={text}: expected NAME=double:MIN:MAX, NAME=int:MIN:MAX "
                             "or NAME=categorical:a,b")
        if name in raw:
            raise UsageError(f"--param {name}: given twice")
        raw[name] = text
    if not raw:
        raise UsageError("a Katib experiment needs at least one --param NAME=double:MIN:MAX (or int:/categorical:)")
    check_names({p.name for p in plan.parameters}, raw)
    specs = []
    for name, text in raw.items():
        param = plan.parameter(name)
        kind, _, rest = text.partition(":")
        kind = kind.strip().lower()
        where = f"--param {name}={text}"
        if kind == "categorical":
            values = rest.split(",") if rest else []
            if not values or any(v == "" for v in values):
                raise UsageError(f"{where}: give the values after categorical:, separated by commas")
            checked = [check_overrides(plan, {name: v})[name] for v in values]
            specs.append({"name": name, "parameterType": "categorical", "feasibleSpace": {"list": checked}})
            continue
        if kind not in ("double", "int"):
            raise UsageError(f"{where}: the kind is double, int or categorical, not {kind!r}")
        want = ParamType.FLOAT if kind == "double" else ParamType.INTEGER
        if ParamType(param.type) is not want:
            raise UsageError(f"{where}: run parameter {name!r} is {ParamType(param.type).value}; "
                             f"{kind} needs a{'n Integer' if kind == 'int' else ' Float'} parameter "
                             "(categorical:a,b lists values of any type)")
        parts = rest.split(":")
        if len(parts) not in (2, 3):
            raise UsageError(f"{where}: expected {kind}:MIN:MAX or {kind}:MIN:MAX:STEP")
        bounds = [check_overrides(plan, {name: p.strip()})[name] for p in parts]
        low, high = decimal.Decimal(bounds[0]), decimal.Decimal(bounds[1])
        if low >= high:
            raise UsageError(f"{where}: MIN must be below MAX")
        space: dict[str, Any] = {"min": bounds[0], "max": bounds[1]}
        if len(bounds) == 3:
            if decimal.Decimal(bounds[2]) <= 0:
                raise UsageError(f"{where}: STEP must be above 0")
            space["step"] = bounds[2]
        specs.append({"name": name, "parameterType": kind, "feasibleSpace": space})
    return specs


def katib_experiment(pipeline_json: Any, *, objective: str, goal: str = "maximize",
                     params: Iterable[str] | Mapping[str, str], algorithm: str = "random",
                     max_trials: int = 12, parallel: int = 3, max_failed: int | None = None,
                     objective_goal: float | None = None, additional_metrics: Iterable[str] = (),
                     name: str | None = None, namespace: str | None = None, metrics_node: str | None = None,
                     storage: Any = None, base_dir: str | os.PathLike[str] | None = None,
                     root_dir: str | os.PathLike[str] | None = None,
                     scope: str = "auto") -> dict[str, Any]:
    """The Katib v1beta1 Experiment (a dict to dump as YAML) searching the given run parameters.

    Parameters not searched keep their defaults. The metrics come from `metrics_node`'s KFP
    metrics file (default: the pipeline's only node without downstream nodes): its pod gets the
    primary-pod label Katib injects the file metrics collector into.
    """
    from .compiler import compile_pipeline

    if goal not in GOALS:
        raise UsageError(f"goal is maximize or minimize, not {goal!r}")
    if algorithm not in ALGORITHMS:
        raise UsageError(f"algorithm {algorithm!r} is not one of Katib 0.10's: {', '.join(ALGORITHMS)}")
    for label, value, least in (("max trials", max_trials, 1), ("parallel", parallel, 1),
                                ("max failed", max_failed, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise UsageError(f"{label} must be a whole number, {least} or more, not {value!r}")
    if parallel > max_trials:
        raise UsageError(f"parallel ({parallel}) cannot exceed max trials ({max_trials})")
    if not objective or not isinstance(objective, str):
        raise UsageError("--objective names the metric to optimize (a name in the node's metrics file)")
    compiled = compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, storage=storage, scope=scope, deterministic=True)
    plan = compiled.plan
    specs = parse_search_space(plan, params)
    experiment_name = name or compiled.pipeline.name.lower().replace("_", "-").replace(" ", "-")
    if not _NAME.fullmatch(experiment_name) or len(experiment_name) > 40:
        raise UsageError(f"experiment name {experiment_name!r} must be lower-case letters, digits and '-' "
                         "(at most 40 characters: Katib adds a suffix per trial); choose one with --name")

    workflow = copy.deepcopy(compiled.workflow)
    metadata = workflow.setdefault("metadata", {})
    metadata.pop("generateName", None)  # Katib names each trial's workflow itself
    metadata.pop("name", None)
    searched = {s["name"] for s in specs}
    for parameter in workflow["spec"].get("arguments", {}).get("parameters", []):
        if parameter["name"] in searched:
            parameter["value"] = "${trialParameters.%s}" % parameter["name"]
    task = _metrics_task(workflow, plan, metrics_node)
    for template in workflow["spec"]["templates"]:
        if template["name"] == task:
            template.setdefault("metadata", {}).setdefault("labels", {})[PRIMARY_LABEL] = "true"

    objective_spec: dict[str, Any] = {"type": goal, "objectiveMetricName": objective}
    if objective_goal is not None:
        objective_spec["goal"] = float(objective_goal)
    extra = [m for m in additional_metrics if m != objective]
    if extra:
        objective_spec["additionalMetricNames"] = extra
    spec: dict[str, Any] = {
        "objective": objective_spec,
        "algorithm": {"algorithmName": algorithm},
        "parallelTrialCount": parallel,
        "maxTrialCount": max_trials,
        "maxFailedTrialCount": max_failed if max_failed is not None else max_trials,
        "parameters": specs,
        "metricsCollectorSpec": {
            "collector": {"kind": "File"},
            "source": {"fileSystemPath": {"path": METRICS_PATH, "kind": "File"},
                       "filter": {"metricsFormat": [METRICS_FORMAT]}},
        },
        "trialTemplate": {
            "primaryPodLabels": {PRIMARY_LABEL: "true"},
            "primaryContainerName": "main",
            "successCondition": 'status.[@this].#(phase=="Succeeded")#',
            "failureCondition": 'status.[@this].#(phase=="Failed")#',
            "trialParameters": [{"name": s["name"], "reference": s["name"],
                                 "description": f"run parameter {s['name']} ({plan.parameter(s['name']).type.value})"}
                                for s in specs],
            "trialSpec": workflow,
        },
    }
    meta: dict[str, Any] = {"name": experiment_name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": API_VERSION, "kind": "Experiment", "metadata": meta, "spec": spec}


def _metrics_task(workflow: Mapping[str, Any], plan: ParameterPlan, wanted: str | None) -> str:
    """The task whose metrics Katib reads: the one asked for (task, node id or label), else the only leaf."""
    tasks = dict(plan.tasks)
    entry = next(t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"])
    dag = entry.get("dag", {}).get("tasks", [])
    names = [t["name"] for t in dag]
    if wanted is not None:
        for node_id, task in tasks.items():
            if wanted in (task, node_id):
                return task
        raise UsageError(f"--metrics-node {wanted!r}: no such node; nodes (task names): {', '.join(names)}")
    upstream = {d for t in dag for d in t.get("dependencies", [])}
    leaves = [n for n in names if n not in upstream]
    if len(leaves) != 1:
        raise UsageError(f"the pipeline ends in {len(leaves)} nodes ({', '.join(leaves)}); choose the one "
                         "whose metrics Katib reads with --metrics-node TASK")
    return leaves[0]
