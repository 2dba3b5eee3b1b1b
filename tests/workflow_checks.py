"""One reusable checker for compiled workflows, used on every compiled test pipeline.

It combines: t3qkfp's own invariants (the run-parameter structure of issue 2 item 5); a real
third-party model of Argo workflows (hera's pydantic `Workflow`, round-tripped so unknown or
misspelt fields show up); Argo's v2.12.0 JSON schema when ../shared/specs is present; a model of
go-yaml v2's plain-scalar rules (the KFP API server's YAML reader); and an emulation of Argo's
parameter substitution, independent of t3qkfp's local runner, that checks each container gets
exactly its own values.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from t3qkfp.invariants import workflow_problems
from t3qkfp.params import ParameterPlan

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"
ARGO_SCHEMA = SPECS / "argo-workflows-v2.12.0-schema.json"
_REF = re.compile(r"\{\{([^{}]*)\}\}")

# go-yaml v2 resolve.go: plain scalars it reads as something other than a string.
_GO_NON_STR = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
               "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
               "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
               "-.inf", "-.Inf", "-.INF", "<<"}


def go_plain_is_string(text: str) -> bool:
    """Conservative model: True only if go-yaml v2 certainly reads this plain scalar as a string."""
    if text in _GO_NON_STR:
        return False
    first = text[:1]
    if first == ".":
        return re.fullmatch(r"\.[0-9_]*([eE][-+]?[0-9_]*)?", text) is None
    return not (first and (first in "+-" or first.isdigit()))


def go_unsafe_scalars(yaml_text: str) -> list[str]:
    """Plain scalars PyYAML reads as strings but Go's YAML 1.1 reader would not (real bools pass)."""
    unsafe: list[str] = []

    def walk(node: yaml.Node, is_key: bool = False) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(key, True)
                walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        elif (isinstance(node, yaml.ScalarNode) and node.style is None and not is_key
              and node.tag == "tag:yaml.org,2002:str"):  # a string for PyYAML: must be one for Go too
            if not go_plain_is_string(node.value):
                unsafe.append(node.value)

    walk(yaml.compose(yaml_text))
    return unsafe


def hera_problems(workflow: dict[str, Any]) -> list[str]:
    """Validate with hera's Argo models and report fields the model does not know (round trip)."""
    from hera.workflows.models import Workflow

    model = Workflow.model_validate(workflow)
    dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if dumped == workflow:
        return []
    return [f"hera's Argo model reads the workflow differently: {_first_difference(workflow, dumped)}"]


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r} != {b!r}"


def schema_problems(workflow: dict[str, Any]) -> list[str] | None:
    """Argo v2.12.0's JSON schema in strict mode (no unknown fields); None when the spec is absent."""
    if not ARGO_SCHEMA.is_file():
        return None
    import jsonschema

    schema = json.loads(ARGO_SCHEMA.read_text())
    for definition in schema["definitions"].values():
        if "properties" in definition:
            definition.setdefault("additionalProperties", False)
    validator = jsonschema.Draft7Validator(
        {"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow", "definitions": schema["definitions"]})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(workflow)]


def argo_env(workflow: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Each task's literal container env after Argo 2.7's substitution, given run-parameter values.

    Argo marshals the template to JSON, replaces each {{inputs.parameters.X}} with the value
    escaped as by Go's strconv.Quote (without quotes) and unmarshals it (workflow/common/util.go).
    """
    spec = workflow["spec"]
    values = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    values.update(overrides or {})
    templates = {t["name"]: t for t in spec["templates"]}
    entry = templates[spec["entrypoint"]]
    result = {}
    for task in entry["dag"]["tasks"]:
        task_args = {}
        for argument in task.get("arguments", {}).get("parameters", []):
            task_args[argument["name"]] = _substitute_text(argument["value"], values)
        template = {k: v for k, v in templates[task["template"]].items() if k != "inputs"}
        text = _REF.sub(lambda m: _quote(task_args[m.group(1)[len("inputs.parameters."):]])
                        if m.group(1).startswith("inputs.parameters.") else m.group(0), json.dumps(template))
        resolved = json.loads(text)
        result[task["name"]] = {e["name"]: e["value"] for e in resolved["container"].get("env", []) if "value" in e}
    return result


def _substitute_text(text: str, values: dict[str, str]) -> str:
    return _REF.sub(lambda m: values[m.group(1)[len("inputs.parameters."):]], text)


def _quote(value: str) -> str:
    return json.dumps(value)[1:-1]


def all_problems(workflow: dict[str, Any], yaml_text: str, plan: ParameterPlan | None = None,
                 links: set[tuple[str, str]] | None = None) -> list[str]:
    """Everything wrong with a compiled workflow and its YAML text."""
    problems = list(workflow_problems(workflow, plan, links))
    if yaml.safe_load(yaml_text) != workflow:
        problems.append("the YAML text does not read back as the workflow")
    problems += [f"go-yaml would not read {s!r} as a string" for s in go_unsafe_scalars(yaml_text)]
    problems += hera_problems(workflow)
    problems += schema_problems(workflow) or []
    if plan is not None:
        expected = {task: {b.env_name: plan.parameter(b.param).default for b in plan.bindings_of(node_id)}
                    for node_id, task in plan.tasks}
        actual = {task: {k: v for k, v in env.items() if not k.startswith("T3QKFP_")}
                  for task, env in argo_env(workflow).items()}
        if actual != expected:
            problems.append(f"Argo would give the containers {actual}, the plan says {expected}")
    return problems
