"""The facade: Elyra JSON → validated model → parameter plan → kfp dsl → Argo workflow.

Owns: `compile()` (what notebooks and the CLI call), the `Compiled` result that keeps every
stage's output for display and submission, and `view()`/`picture()`, which load and plan a
source for display.py (which itself only draws what it is given). Compiling is pure: it reads
the node files to know their archive checksums, and never uploads.
"""
from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from . import argo_emit, display, elyra_reader, go_yaml, kfp_build, node_files, nodespec, params, workflow_size
from .dag_picture import drawn_svg
from .display import DagPicture, PipelineView
from .model import Node, Pipeline
from .params import ParameterPlan
from .node_files import Archive
from .runtime.command import runtime_helper
from .storage_settings import StorageConfig


@dataclass(frozen=True, kw_only=True)
class Compiled:
    """Everything one compilation produced: the model, the plan, archives and the workflow."""

    pipeline: Pipeline
    plan: ParameterPlan
    storage: StorageConfig
    archives: dict[str, Archive]
    workflow: dict[str, Any]
    size: workflow_size.SizeReport  # the workflow as Kubernetes stores it (compact JSON)

    @cached_property
    def yaml(self) -> str:
        """The workflow as Go-safe YAML text, exactly what write() puts in a .yaml file."""
        return go_yaml.dump(self.workflow)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write .yaml/.yml, or pipeline.yaml inside .zip/.tar.gz/.tgz, as KFP does."""
        return argo_emit.write_package(self.yaml, path)

    def node_archives(self) -> list[tuple[Node, Archive]]:
        """Each node with its archive, in the pipeline's node order: what object_storage.put_archives takes."""
        return [(node, self.archives[node.id]) for node in self.pipeline.nodes]

    def object_keys(self) -> list[str]:
        """The object keys the workflow expects in the bucket (for copying files by other means):
        every node archive and the node runtime helper."""
        runtime = nodespec.runtime_key(self.storage.prefix, runtime_helper()[1])
        return sorted({a.key(self.storage) for a in self.archives.values()} | {runtime})

    def _repr_html_(self) -> str:
        return display.compiled_html(self.pipeline, self.plan, self.workflow)

    def __repr__(self) -> str:
        return display.pipeline_text(self.pipeline, self.plan)


def compile_pipeline(pipeline_json: Any, *, base_dir: str | os.PathLike[str] | None = None,
                     root_dir: str | os.PathLike[str] | None = None,
                     scope: str = "auto", storage: StorageConfig | None = None,
                     deterministic: bool = True, allow_large: bool = False) -> Compiled:
    """Compile and keep every stage's result; raises PipelineError on invalid input.

    A workflow above the 1.5 MiB Kubernetes stores by default is a PipelineError naming its
    biggest parts unless `allow_large` (a cluster with a larger etcd limit); above 1 MiB a warning.
    """
    with _cyclic_gc_paused():
        return _compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, scope=scope,
                                 storage=storage, deterministic=deterministic, allow_large=allow_large)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while compiling, as it was before afterwards.

    A compile allocates hundreds of thousands of containers that all stay alive until it ends
    (kfp's ops, the workflow), so every full collection on the way walks a growing heap for
    nothing: a third of KFP's compiler time at 2,000 nodes (2.2 -> 1.4 s CPU). kfp's ops hold
    reference cycles; the collector frees them at its next run, and peak memory stays within
    a few MB. Left off if someone else turned it off; threads that compile at once leave it on
    only after the first one that turned it off is done, which is harmless.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile_pipeline(pipeline_json: Any, *, base_dir: str | os.PathLike[str] | None,
                      root_dir: str | os.PathLike[str] | None, scope: str, storage: StorageConfig | None,
                      deterministic: bool, allow_large: bool) -> Compiled:
    loaded = elyra_reader.load_checked(pipeline_json, base_dir=base_dir, root_dir=root_dir)
    pipeline = loaded.pipeline
    plan = params.plan(pipeline, scope=scope)
    params.warn_trimmed_defaults(plan, pipeline.source)
    params.warn_kubelet_mangled(plan, pipeline.source)
    config = storage or StorageConfig.resolve()
    archives = node_files.node_archives(pipeline, loaded.members)  # the files validation collected
    runtime_sha256 = runtime_helper()[1]
    builds = {node_id: kfp_build.NodeBuild(archive_sha256=a.sha256, runtime_sha256=runtime_sha256)
              for node_id, a in archives.items()}
    func, params_list = kfp_build.build(pipeline, plan, config, builds)
    links = {(plan.task(parent), plan.task(node.id)) for node in pipeline.nodes for parent in node.parents}
    workflow = argo_emit.to_workflow(func, params_list, name=plan.pipeline_name,
                                     description=pipeline.description, plan=plan, links=links,
                                     deterministic=deterministic)
    size = workflow_size.measure(workflow)
    workflow_size.check(size, pipeline.source, allow_large=allow_large)
    return Compiled(pipeline=pipeline, plan=plan, storage=config, archives=archives, workflow=workflow,
                    size=size)


def compile(pipeline_json: Any, package_path: str | os.PathLike[str] | None = None, *,
            base_dir: str | os.PathLike[str] | None = None,
            root_dir: str | os.PathLike[str] | None = None, scope: str = "auto",
            storage: StorageConfig | None = None, deterministic: bool = True,
            allow_large: bool = False) -> dict[str, Any]:
    """Compile an Elyra pipeline (path, JSON text, bytes or dict) to an Argo Workflow dict.

    Every node env var and Elyra pipeline parameter becomes a KFP run parameter. With
    `package_path` ending in .yaml/.yml/.zip/.tar.gz/.tgz the workflow is also written there.
    `scope`: "auto" (shared where defaults agree), "node" (always per node) or "pipeline"
    (always shared). The output is byte-identical for the same input, as `t3qkfp compile`
    writes it; `deterministic=False` adds KFP's compilation-time annotation.
    `allow_large` lets a workflow above Kubernetes' default 1.5 MiB through (see compile_pipeline).
    """
    compiled = compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, scope=scope, storage=storage,
                                deterministic=deterministic, allow_large=allow_large)
    if package_path is not None:
        compiled.write(package_path)
    return compiled.workflow


def view(source: Any, plan: ParameterPlan | None = None, *, scope: str = "auto") -> PipelineView:
    """Table and picture of a Pipeline (plus its plan), a Compiled result, or a pipeline file/JSON.

    Use it for a plan you made yourself (`view(pipeline, t3qkfp.plan(pipeline, scope="node"))`).
    """
    if hasattr(source, "pipeline") and hasattr(source, "plan") and plan is None:
        return PipelineView(pipeline=source.pipeline, plan=source.plan)  # a Compiled result
    source = elyra_reader.load(source)  # a loaded model comes back as it is
    return PipelineView(pipeline=source, plan=plan if plan is not None else params.plan(source, scope=scope))


def picture(source: Any, plan: ParameterPlan | None = None, *, scope: str = "auto") -> DagPicture:
    """Only the DAG picture (of what `view` takes), as an object Jupyter shows as an image."""
    shown = view(source, plan, scope=scope)
    return DagPicture(*drawn_svg(shown.pipeline, shown.plan))
