"""Model + parameter plan → a kfp 1.2 `dsl` pipeline function and its run parameters.

Owns: the only use of `kfp.dsl`: one ContainerOp per node, every run parameter a
`dsl.PipelineParam` with type and default, wired into exactly the nodes that use it through
`kubernetes.client.V1EnvVar(name=ENV, value=param)` added to the op's container (the mission's
mechanism: KFP's compiler finds, declares and substitutes every PipelineParam it meets there;
plain dicts of the same JSON would save KFP ~0.6 s of attribute walks at 2,000 nodes, but leave
the way KFP's DSL documents env vars), `.after()` from the links, resources, the placeholder container command (argo_emit adds the loader once, as
spec.podSpecPatch), the node spec env var and credentials from a Kubernetes secret (after the
user env vars: the kubelet expands `$(VAR)` in env values only from earlier entries): as AWS_*
for the user's code and the loader, or under private names for the loader where the user's own
secrets set AWS_*.
Must not: read Elyra JSON or write YAML.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Callable

from . import nodespec, quiet
from .model import Node, Pipeline
from .params import ParameterPlan
from .runtime.command import placeholder_command
from .node_files import archive_file
from .storage_settings import StorageConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeBuild:
    """What kfp_build needs per node besides the model: the checksums of its archive and of the
    runtime helper (the keys follow from them and the storage prefix, nodespec.archive_key)."""

    archive_sha256: str
    runtime_sha256: str


def kfp_modules() -> tuple[Any, Any, Any]:
    """Import kfp 1.2 (slow: ~0.4 s) only when compiling, with its import-time warnings silenced.

    kfp 1.2 and its kubernetes 11 client emit DeprecationWarnings on Python 3.11 at import;
    they are kfp's business, not the user's.
    """
    with quiet.silenced():
        import kfp
        from kfp import dsl
        from kubernetes.client import models as k8s
    return kfp, dsl, k8s


def build(pipeline: Pipeline, plan: ParameterPlan, storage: StorageConfig,
          archives: dict[str, NodeBuild]) -> tuple[Callable[[], None], list[Any]]:
    """A zero-argument pipeline function and the PipelineParams it uses (KFP's `params_list`).

    KFP's compiler calls the function inside its own `dsl.Pipeline` context; the parameters are
    given as `params_list` rather than a Python signature because env names need not be Python
    identifiers (`class`, `if`) and signatures would be sanitized again.
    """
    _, dsl, k8s = kfp_modules()
    params: dict[str, Any] = {}
    for parameter in plan.parameters:
        param = dsl.PipelineParam(name=parameter.name, param_type=parameter.type.value)
        # PipelineParam.__init__ turns a falsy value ('' , '0' stays) into None, which would drop an
        # empty default from spec.arguments; the attribute keeps the exact string.
        param.value = parameter.default
        params[parameter.name] = param
    position = topological_positions(pipeline, {n.id: plan.task(n.id) for n in pipeline.nodes})
    command = placeholder_command()  # the loader itself is spec.podSpecPatch (argo_emit)

    def pipeline_func() -> None:
        ops: dict[str, Any] = {}
        # kfp 1.2 warns on every ContainerOp that reusable components are preferred, and its
        # ContainerOp proxies raise PendingDeprecationWarnings: kfp's business, not the user's.
        # One silenced block for all ops (entering one costs ~0.1 ms: the filters are rebuilt).
        with quiet.silenced():
            for node in pipeline.nodes:
                task = plan.task(node.id)
                parents = tuple(plan.task(p) for p in node.parents)
                ops[node.id] = _container_op(dsl, k8s, node, task, plan, params, storage,
                                             archives[node.id], parents, position[node.id], command)
        for node in pipeline.nodes:
            for parent in node.parents:
                ops[node.id].after(ops[parent])

    return pipeline_func, list(params.values())


def _container_op(dsl: Any, k8s: Any, node: Node, task: str, plan: ParameterPlan,
                  params: dict[str, Any], storage: StorageConfig, archive: NodeBuild,
                  parents: tuple[str, ...], position: int, command: list[str]) -> Any:
    op = dsl.ContainerOp(
        name=task, image=node.runtime_image, command=list(command),
        file_outputs={"mlpipeline-ui-metadata": nodespec.UI_METADATA_PATH,
                      "mlpipeline-metrics": nodespec.METRICS_PATH})
    op.set_display_name(node.label)
    container = op.container
    env: list[Any] = [k8s.V1EnvVar(name=b.env_name, value=params[b.param]) for b in plan.bindings_of(node.id)]
    spec = nodespec.NodeSpec(
        task=task, label=node.label, kind=node.kind.short, file=archive_file(node),
        archive_sha256=archive.archive_sha256, runtime_sha256=archive.runtime_sha256,
        outputs=node.outputs, parents=parents, position=position, endpoint=storage.endpoint,
        bucket=storage.bucket, prefix=storage.prefix, region=storage.region)
    env.append(k8s.V1EnvVar(name=nodespec.NODE_ENV, value=spec.encode()))
    env.append(k8s.V1EnvVar(name=nodespec.RUN_ID_ENV, value=nodespec.RUN_ID_VALUE))
    for secret in node.secrets:
        env.append(_secret_env(k8s, secret.name, secret.secret, secret.key))
    keys = {"access": storage.access_key_key, "secret": storage.secret_key_key}
    for name, key in nodespec.storage_secret_env({secret.name for secret in node.secrets}):
        env.append(_secret_env(k8s, name, storage.secret, keys[key]))
    for entry in env:
        container.add_env_variable(entry)
    _kubernetes(k8s, op, node)
    resources = node.resources
    if resources.cpu is not None:
        container.set_cpu_request(cpu_quantity(resources.cpu))
    if resources.memory is not None:
        container.set_memory_request(memory_quantity(resources.memory))
    if resources.cpu_limit is not None:
        container.set_cpu_limit(cpu_quantity(resources.cpu_limit))
    if resources.memory_limit is not None:
        container.set_memory_limit(memory_quantity(resources.memory_limit))
    if resources.gpu is not None:
        container.set_gpu_limit(str(resources.gpu))  # a string: an int quantity fails Argo's schema
    return op


def _kubernetes(k8s: Any, op: Any, node: Node) -> None:
    """Volumes, /dev/shm, tolerations, pod labels and annotations, as written in Elyra."""
    settings = node.kubernetes
    for index, volume in enumerate(settings.volumes):
        name = f"volume-{index}"
        op.add_volume(k8s.V1Volume(name=name, persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=volume.pvc, read_only=volume.read_only or None)))
        op.container.add_volume_mount(k8s.V1VolumeMount(name=name, mount_path=volume.path,
                                                        sub_path=volume.sub_path or None,
                                                        read_only=volume.read_only or None))
    if settings.shared_memory_gb is not None:
        op.add_volume(k8s.V1Volume(name="shared-memory", empty_dir=k8s.V1EmptyDirVolumeSource(
            medium="Memory", size_limit=memory_quantity(settings.shared_memory_gb))))
        op.container.add_volume_mount(k8s.V1VolumeMount(name="shared-memory", mount_path="/dev/shm"))
    for toleration in settings.tolerations:
        op.add_toleration(k8s.V1Toleration(key=toleration.key or None, operator=toleration.operator,
                                           value=toleration.value or None, effect=toleration.effect or None))
    for key, value in settings.pod_annotations:
        op.add_pod_annotation(key, value)
    for key, value in settings.pod_labels:
        op.add_pod_label(key, value)


def _secret_env(k8s: Any, name: str, secret: str, key: str) -> Any:
    """An env var read from a Kubernetes secret: the value never enters the workflow."""
    return k8s.V1EnvVar(name=name, value_from=k8s.V1EnvVarSource(
        secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=key)))


def cpu_quantity(cores: float) -> str:
    """A cpu quantity: '2' rather than '2.0', '0.5' as written, and millicores (rounded up)
    where a decimal would need an exponent — kfp accepts '1e-05', Kubernetes reads it otherwise."""
    cores = float(cores)  # a model built in Python may hold an int (int.is_integer is 3.12+)
    if cores.is_integer():
        return str(int(cores))
    text = repr(cores)
    return text if "e" not in text else f"{max(1, math.ceil(cores * 1000))}m"


def memory_quantity(gigabytes: float) -> str:
    """Elyra's memory sizes are in G (10^9 bytes); kfp 1.2 accepts only a whole number before
    the unit, so 1.5 becomes '1500M': the largest unit that keeps it whole, else bytes rounded up."""
    amount = Decimal(repr(float(gigabytes)))
    for unit in ("G", "M", "K"):
        if amount == amount.to_integral_value():
            return f"{int(amount)}{unit}"
        amount *= 1000
    return str(int(amount.to_integral_value(rounding=ROUND_CEILING)))


def topological_positions(pipeline: Pipeline, tasks: dict[str, str]) -> dict[str, int]:
    """Every node's place in a topological order, ties broken by task name (one pass, linear).

    The runtime downloads ancestors' outputs in this order, each ancestor after its own
    ancestors, so where two write the same file the nearer one's copy stays, as in Elyra, where a
    later node's upload replaces the object an earlier one wrote.
    """
    parents = {n.id: [p for p in n.parents if p in tasks] for n in pipeline.nodes}
    children: dict[str, list[str]] = {n.id: [] for n in pipeline.nodes}
    for node_id, ids in parents.items():
        for parent in ids:
            children[parent].append(node_id)
    waiting = {node_id: len(ids) for node_id, ids in parents.items()}
    ready = [(tasks[i], i) for i, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    position: dict[str, int] = {}
    while ready:
        _, node_id = heapq.heappop(ready)
        position[node_id] = len(position)
        for child in children[node_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (tasks[child], child))
    return position
