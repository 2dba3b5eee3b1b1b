"""The rules every compiled workflow must satisfy, checked on the dict KFP's compiler returned.

Owns: one reusable checker for the structure run parameters must have in the Argo Workflow
(spec.arguments, the entrypoint DAG's inputs, each task's arguments, each container template's
inputs and env), the names Argo and Kubernetes accept, and Argo's reference rules. compile()
runs it as a final self-check (a failure is a t3qkfp bug: InternalError) and the tests run it on
every compiled test pipeline, so a wrong golden file cannot be blessed.
Must not: change the workflow.
"""
from __future__ import annotations

import json
import re
from typing import Any

from . import naming, nodespec
from .params import ParameterPlan
from .runtime.command import placeholder_command, pod_spec_patch

_TEMPLATE_REF = re.compile(r"\{\{([^{}]*)\}\}")
_INPUT_REF = re.compile(r"inputs\.parameters\.([-a-zA-Z0-9_]+)")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_ARGO_PARAM = re.compile(r"[-a-zA-Z0-9_]+")
_GENERATE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,55}[a-z0-9])?-")


def _param_ref(name: str) -> str:
    return "{{inputs.parameters.%s}}" % name


def workflow_problems(workflow: dict[str, Any], plan: ParameterPlan | None = None,
                      links: set[tuple[str, str]] | None = None) -> list[str]:
    """Every broken rule, as text; [] when the workflow is right.

    Without a plan only the internal consistency is checked; with one, the parameters, their
    defaults and which node gets which env var must match the plan exactly; with `links`
    ((parent task, child task) pairs from Elyra's links) the DAG's dependencies must equal them.
    """
    problems: list[str] = []
    try:
        _check(workflow, plan, problems)
        if links is not None and dependency_edges(workflow) != links:
            problems.append(f"task dependencies {sorted(dependency_edges(workflow))} differ from "
                            f"the pipeline's links {sorted(links)}")
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        problems.append(f"workflow is missing a required part: {exc!r}")
    return problems


def _check(workflow: dict[str, Any], plan: ParameterPlan | None, problems: list[str]) -> None:
    add = problems.append
    if workflow.get("apiVersion") != "argoproj.io/v1alpha1" or workflow.get("kind") != "Workflow":
        add("not an argoproj.io/v1alpha1 Workflow")
    generate_name = workflow["metadata"]["generateName"]
    if not _GENERATE_NAME.fullmatch(generate_name):
        add(f"generateName {generate_name!r} is not a lower-case DNS-1123 prefix of at most 57 characters")
    spec = workflow["spec"]
    arguments = spec.get("arguments", {}).get("parameters", [])
    arg_names = [a["name"] for a in arguments]
    arg_set = set(arg_names)
    for argument in arguments:
        if not isinstance(argument.get("value"), str):
            add(f"spec.arguments parameter {argument['name']!r} has no string value")
        if not naming.is_param_name(argument["name"]) or not _ARGO_PARAM.fullmatch(argument["name"]):
            add(f"run parameter name {argument['name']!r} would be changed by kfp or refused by Argo")
    if len(set(arg_names)) != len(arg_names):
        add(f"spec.arguments has duplicate names: {arg_names}")
    templates = {t["name"]: t for t in spec["templates"]}
    if len(templates) != len(spec["templates"]):
        add("template names are not unique")
    entry = templates.get(spec["entrypoint"])
    if entry is None or "dag" not in entry:
        add(f"entrypoint {spec['entrypoint']!r} is not a DAG template")
        return
    dag_inputs = sorted(p["name"] for p in entry.get("inputs", {}).get("parameters", []))
    if dag_inputs != sorted(arg_names):
        add(f"the entrypoint DAG's inputs {dag_inputs} differ from spec.arguments {sorted(arg_names)}")
    for name in templates:
        if not _DNS_LABEL.fullmatch(name):
            add(f"template name {name!r} is not a DNS-1123 label of at most 63 characters")
    commands = set()
    tasks = entry["dag"]["tasks"]
    task_names = [t["name"] for t in tasks]
    if len(set(task_names)) != len(task_names):
        add(f"task names are not unique: {task_names}")
    for task in tasks:
        template = templates.get(task["template"])
        if template is None or "container" not in template:
            add(f"task {task['name']!r} has no container template")
            continue
        passed = {a["name"]: a.get("value") for a in task.get("arguments", {}).get("parameters", [])}
        for name, value in passed.items():
            if value != _param_ref(name):
                add(f"task {task['name']!r} passes {name!r} as {value!r}, not {_param_ref(name)!r}")
            if name not in arg_set:
                add(f"task {task['name']!r} passes {name!r}, which is not a run parameter")
        declared = sorted(p["name"] for p in template.get("inputs", {}).get("parameters", []))
        if declared != sorted(passed):
            add(f"template {template['name']!r} declares inputs {declared} but its task passes {sorted(passed)}")
        if not declared and "inputs" in template:
            add(f"template {template['name']!r} has no parameters but an 'inputs' section")
        container = template["container"]
        commands.add(json.dumps([container.get("command"), container.get("args")]))
        env = container.get("env", [])
        env_names = [e["name"] for e in env]
        if len(set(env_names)) != len(env_names):
            add(f"template {template['name']!r} sets an env var twice: {env_names}")
        used = set()
        seen_secret = False
        for item in env:
            value = item.get("value")
            if "valueFrom" in item:
                seen_secret = True
                continue
            refs = _TEMPLATE_REF.findall(value or "")
            for ref in refs:
                match = _INPUT_REF.fullmatch(ref)
                if match:
                    used.add(match.group(1))
                    if value != _param_ref(match.group(1)):
                        add(f"env {item['name']!r} of {template['name']!r} mixes a parameter with text")
                    if seen_secret:
                        add(f"env {item['name']!r} of {template['name']!r} comes after a secret env var")
                elif ref != "workflow.uid":
                    add(f"env {item['name']!r} of {template['name']!r} refers to {{{{{ref}}}}}")
        if used != set(declared):
            add(f"template {template['name']!r} declares {declared} but its env uses {sorted(used)}")
        for ref in _TEMPLATE_REF.findall(json.dumps({k: v for k, v in template.items() if k != "inputs"})):
            match = _INPUT_REF.fullmatch(ref)
            if match and match.group(1) not in declared:
                add(f"template {template['name']!r} refers to undeclared {ref!r}")
            elif not match and ref != "workflow.uid":
                add(f"template {template['name']!r} contains the expression {{{{{ref}}}}}")
        credentials = [e for e in env if e["name"] in (nodespec.ACCESS_KEY_ENV, nodespec.SECRET_KEY_ENV,
                                                         nodespec.USER_ACCESS_KEY_ENV, nodespec.USER_SECRET_KEY_ENV)]
        if any("valueFrom" not in e for e in credentials):
            add(f"template {template['name']!r} carries object storage credentials as literal values")
    if len(commands) > 1:
        add("the container command differs between nodes")
    if commands - {json.dumps([placeholder_command(), None])}:
        add("a container command is not the placeholder spec.podSpecPatch replaces")
    if spec.get("podSpecPatch") != pod_spec_patch():
        add("spec.podSpecPatch is not the one that runs the node loader")
    annotation = json.loads(workflow["metadata"]["annotations"]["pipelines.kubeflow.org/pipeline_spec"])
    spec_inputs = {i["name"]: i for i in annotation.get("inputs", [])}
    if sorted(spec_inputs) != sorted(arg_names):
        add(f"the pipeline_spec annotation lists {sorted(spec_inputs)}, not {sorted(arg_names)}")
    if plan is not None:
        _check_plan(workflow, plan, tasks, templates, arguments, spec_inputs, add)


def _check_plan(workflow: dict[str, Any], plan: ParameterPlan, tasks: list[dict[str, Any]],
                templates: dict[str, Any], arguments: list[dict[str, Any]],
                spec_inputs: dict[str, Any], add: Any) -> None:
    expected = {p.name: p.default for p in plan.parameters}
    actual = {a["name"]: a.get("value") for a in arguments}
    if expected != actual:
        add(f"spec.arguments {actual} differ from the plan {expected}")
    for parameter in plan.parameters:
        declared = spec_inputs.get(parameter.name, {})
        if declared.get("type") != parameter.type.value:
            add(f"pipeline_spec type of {parameter.name!r} is {declared.get('type')!r}, not {parameter.type.value!r}")
        if declared.get("default", "") != parameter.default and parameter.default != "":
            add(f"pipeline_spec default of {parameter.name!r} is {declared.get('default')!r}")
    by_task = {t["name"]: t for t in tasks}
    for node_id, task_name in plan.tasks:
        task = by_task.get(task_name)
        if task is None:
            add(f"node {node_id!r} has no task {task_name!r}")
            continue
        template = templates[task["template"]]
        env = {e["name"]: e.get("value") for e in template["container"].get("env", []) if "value" in e}
        for binding in plan.bindings_of(node_id):
            if env.get(binding.env_name) != _param_ref(binding.param):
                add(f"task {task_name!r}: env {binding.env_name!r} is {env.get(binding.env_name)!r}, "
                    f"not {_param_ref(binding.param)!r}")
        passed = sorted(a["name"] for a in task.get("arguments", {}).get("parameters", []))
        wanted = sorted({b.param for b in plan.bindings_of(node_id)})
        if passed != wanted:
            add(f"task {task_name!r} passes {passed}, the plan says {wanted}")


def dependency_edges(workflow: dict[str, Any]) -> set[tuple[str, str]]:
    """(parent task, child task) pairs of the entrypoint DAG, for comparing with Elyra's links."""
    spec = workflow["spec"]
    entry = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])
    return {(parent, task["name"]) for task in entry["dag"]["tasks"]
            for parent in task.get("dependencies", [])}
