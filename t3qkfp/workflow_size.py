"""How big the compiled workflow is where it has to fit: the Kubernetes API server's etcd request.

Owns: the size limits (a warning above 1 MiB, an error above etcd's default 1.5 MiB request
limit unless the user says their cluster allows more), the measure of a compiled workflow as the
KFP API server sends it (compact JSON) with its biggest contributors, and a kfp-free estimate
from the plan for `params` and `validate`.
Must not: import kfp (validate and params stay fast).

Why here and not in the KFP stand-in: a workflow above the limit compiles and uploads fine and
only fails when a run is created, far from the cause; compile is where it can be named.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from . import nodespec
from .errors import Location, PipelineError, Problem
from .kfp_build import topological_positions  # plain Python: kfp_build imports kfp only when building
from .model import Node, Pipeline
from .node_files import archive_file
from .params import ParameterPlan
from .runtime.command import placeholder_command, pod_spec_patch

WARN_BYTES = 1 << 20          # 1 MiB: still fits, but not much more will
MAX_BYTES = 3 << 19           # 1.5 MiB: etcd's default --max-request-bytes (1,572,864)
logger = logging.getLogger("t3qkfp")


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeReport:
    """Total bytes and the biggest parts (name, bytes), largest first."""

    total: int
    biggest: tuple[tuple[str, int], ...]

    def text(self) -> str:
        """'1.2 MiB (limit 1.5 MiB)' style summary for tables and messages."""
        return f"{_human(self.total)} of the {_human(MAX_BYTES)} a Kubernetes cluster accepts by default"


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _human(size: int) -> str:
    return f"{size / (1 << 20):.2f} MiB" if size >= 1 << 20 else f"{size / 1024:.1f} KiB"


def measure(workflow: dict[str, Any]) -> SizeReport:
    """The workflow's size as compact JSON, with each template and spec.arguments as parts."""
    spec = workflow["spec"]
    templates = spec["templates"]
    parts = [(f"template {t['name']!r}", _json_size(t)) for t in templates]
    # The total without serializing the templates twice: the rest of the workflow with an empty
    # template list ("[]"), plus each template and the commas between them.
    total = (_json_size({**workflow, "spec": {**spec, "templates": []}}) + sum(size for _, size in parts)
             + max(len(templates) - 1, 0))
    parts.append(("spec.arguments (run parameters)", _json_size(spec.get("arguments", {}))))
    annotations = workflow["metadata"].get("annotations", {})
    parts.append(("pipeline_spec annotation", _json_size(annotations)))
    parts.sort(key=lambda p: -p[1])
    return SizeReport(total=total, biggest=tuple(parts[:5]))


def check(report: SizeReport, source: str, *, allow_large: bool) -> None:
    """Warn above 1 MiB; above 1.5 MiB a PipelineError naming the size and biggest parts."""
    if report.total <= min(WARN_BYTES, MAX_BYTES):
        return
    parts = ", ".join(f"{name} {_human(size)}" for name, size in report.biggest)
    if report.total > MAX_BYTES and not allow_large:
        raise PipelineError([Problem(
            location=Location(file=source, field="workflow size"),
            message=f"the compiled workflow takes {_human(report.total)}, more than the "
                    f"{_human(MAX_BYTES)} Kubernetes stores by default (etcd's request limit), so "
                    f"KFP could not start a run of it; biggest parts: {parts}",
            hint="split the pipeline, or pass --allow-large (allow_large=True) if your cluster's "
                 "etcd accepts larger requests")])
    logger.warning("%s: the compiled workflow takes %s (a Kubernetes cluster accepts %s by default); "
                   "biggest parts: %s", source, _human(report.total), _human(MAX_BYTES), parts)


def estimate(pipeline: Pipeline, plan: ParameterPlan) -> SizeReport:
    """The workflow's size predicted from the plan without kfp (for params and validate).

    Builds the parts that grow with the pipeline the way kfp_build and KFP's compiler lay them
    out (each node's template and DAG task, the run parameters in three places) and adds KFP's
    fixed parts; tests hold it within a few percent of the measured size.
    """
    command = placeholder_command()
    tasks = dict(plan.tasks)
    position = topological_positions(pipeline, tasks)
    parts: list[tuple[str, int]] = []
    # apiVersion, kind, metadata, entrypoint, serviceAccountName, the DAG template; the loader once
    total = 600 + _json_size(pod_spec_patch())
    for node in pipeline.nodes:
        task = tasks[node.id]
        bindings = plan.bindings_of(node.id)
        names = sorted({b.param for b in bindings})
        spec = nodespec.NodeSpec(
            task=task, label=node.label, kind=node.kind.short, file=archive_file(node),
            archive_sha256="0" * 64, runtime_sha256="0" * 64,
            outputs=node.outputs, parents=tuple(tasks[p] for p in node.parents), position=position[node.id],
            endpoint="http://minio-service.kubeflow:9000",
            bucket="mlpipeline", prefix="t3qkfp", region="us-east-1")
        env = [{"name": b.env_name, "value": "{{inputs.parameters.%s}}" % b.param} for b in bindings]
        env.append({"name": nodespec.NODE_ENV, "value": spec.encode()})
        secret = {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {
            "key": "secretkey", "name": "mlpipeline-minio-artifact"}}}
        env.append({"name": nodespec.RUN_ID_ENV, "value": nodespec.RUN_ID_VALUE})
        storage_entries = nodespec.storage_secret_env({s.name for s in node.secrets})
        env.extend([secret] * (len(node.secrets) + len(storage_entries)))
        template: dict[str, Any] = {
            "name": task, "container": {"command": command, "env": env, "image": node.runtime_image},
            "outputs": {"artifacts": [{"name": "mlpipeline-ui-metadata", "path": nodespec.UI_METADATA_PATH},
                                      {"name": "mlpipeline-metrics", "path": nodespec.METRICS_PATH}]},
            **_pod_settings(node)}
        dag_task: dict[str, Any] = {"name": task, "template": task}
        # kfp leaves out what would be empty: a node without parents or run parameters
        dependencies = [tasks[p] for p in node.parents if p in tasks]
        if dependencies:
            dag_task["dependencies"] = dependencies
        if names:
            template["inputs"] = {"parameters": [{"name": n} for n in names]}
            dag_task["arguments"] = {"parameters": [{"name": n, "value": "{{inputs.parameters.%s}}" % n}
                                                    for n in names]}
        size = _json_size(template) + _json_size(dag_task)
        parts.append((f"template {task!r}", size))
        total += size
    arguments = _json_size([{"name": p.name, "value": p.default} for p in plan.parameters])
    total += arguments + _json_size([{"name": p.name} for p in plan.parameters])
    total += _json_size([{"name": p.name, "type": p.type.value, "default": p.default} for p in plan.parameters])
    parts.append(("spec.arguments (run parameters)", arguments))
    parts.sort(key=lambda p: -p[1])
    return SizeReport(total=total, biggest=tuple(parts[:5]))


def _pod_settings(node: Node) -> dict[str, Any]:
    """Volumes, tolerations, pod labels/annotations and resources as kfp_build lays them out
    (roughly: the same keys and values, without kfp's exact quantity strings)."""
    settings, parts = node.kubernetes, {}
    volumes = [{"name": f"volume-{i}", "persistentVolumeClaim": {"claimName": v.pvc, "readOnly": True}}
               for i, v in enumerate(settings.volumes)]
    mounts = [{"mountPath": v.path, "name": f"volume-{i}", "readOnly": True, "subPath": v.sub_path}
              for i, v in enumerate(settings.volumes)]
    if settings.shared_memory_gb is not None:
        volumes.append({"emptyDir": {"medium": "Memory", "sizeLimit": "1G"}, "name": "shared-memory"})
        mounts.append({"mountPath": "/dev/shm", "name": "shared-memory"})
    if volumes:
        parts["volumes"], parts["volumeMounts"] = volumes, mounts
    if settings.tolerations:
        parts["tolerations"] = [{"effect": t.effect, "key": t.key, "operator": t.operator, "value": t.value}
                                for t in settings.tolerations]
    metadata: dict[str, Any] = {"annotations": {**dict(settings.pod_annotations),
                                                "pipelines.kubeflow.org/task_display_name": node.label}}
    if settings.pod_labels:
        metadata["labels"] = dict(settings.pod_labels)
    parts["metadata"] = metadata
    r = node.resources
    requests = {k: "1" for k, v in (("cpu", r.cpu), ("memory", r.memory)) if v is not None}
    limits = {k: "1" for k, v in (("cpu", r.cpu_limit), ("memory", r.memory_limit), ("nvidia.com/gpu", r.gpu))
              if v is not None}
    if requests or limits:
        parts["resources"] = {k: v for k, v in (("limits", limits), ("requests", requests)) if v}
    return parts

