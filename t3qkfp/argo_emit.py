"""kfp dsl pipeline → Argo Workflow dict (KFP 1.2's own compiler) → packages of its YAML text.

Owns: the one place that calls KFP 1.2's compiler (its private `_create_workflow`, which
returns the dict without writing or re-dumping it), the deterministic header, the
workflow-level spec.podSpecPatch that carries the node loader once (kfp 1.2's DSL cannot set
it), the final invariant check and the .yaml/.zip/.tar.gz package formats (the YAML text: go_yaml).
Must not: edit the workflow's structure or YAML text after KFP's compiler built it beyond those two.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

from . import quiet
from .errors import InternalError, UsageError
from .invariants import workflow_problems
from .params import ParameterPlan
from .runtime.command import pod_spec_patch

COMPILATION_TIME = "pipelines.kubeflow.org/pipeline_compilation_time"
# kfp 1.2 keeps the pipeline being built in a class attribute (dsl.Pipeline._default_pipeline)
# and warnings filters are process-wide: two compiles at once (Jupyter's thread pool serving
# Elyra's Run and Export) would mix their ops. One compile at a time, under quiet.LOCK.
PACKAGE_SUFFIXES = (".yaml", ".yml", ".zip", ".tar.gz", ".tgz")


def to_workflow(pipeline_func: Callable[[], None], params_list: list[Any], *, name: str,
                description: str, plan: ParameterPlan, links: set[tuple[str, str]],
                deterministic: bool) -> dict[str, Any]:
    """Run KFP 1.2's compiler and check the result against our invariants.

    `deterministic` drops the compilation-time annotation, the only part of KFP's output that
    changes from run to run (research/kfp-1.2.md §1.8), so the same input gives the same bytes.
    """
    with quiet.silenced():  # kfp_build.build imported kfp already; this only finds its compiler
        from kfp.compiler import Compiler

    # kfp 1.2's compiler trips its own (Pending)DeprecationWarnings on ContainerOp proxies
    # and FutureWarnings about components; none of them is about the user's pipeline.
    with quiet.silenced():
        workflow = Compiler()._create_workflow(pipeline_func, pipeline_name=name,
                                               pipeline_description=description or None,
                                               params_list=params_list)
    if deterministic:
        workflow["metadata"]["annotations"].pop(COMPILATION_TIME, None)
    add_loader(workflow)
    problems = workflow_problems(workflow, plan, links)
    if problems:
        raise InternalError("the compiled workflow breaks t3qkfp's own rules (a bug in t3qkfp, "
                            "please report it):\n" + "\n".join(problems))
    return workflow


def add_loader(workflow: dict[str, Any]) -> None:
    """The node loader once per workflow, as spec.podSpecPatch: Argo patches every pod's main
    container with it (the templates carry a placeholder that fails loudly where no patch is
    applied)."""
    workflow["spec"]["podSpecPatch"] = pod_spec_patch()


def write_package(yaml_text: str, path: str | os.PathLike[str]) -> Path:
    """Write the YAML as KFP does for the suffix: plain .yaml/.yml, or pipeline.yaml in .zip/.tar.gz.

    Atomic: the file is written beside the target and renamed, so a failure leaves whatever
    was there before intact. Archives carry fixed timestamps, so they are reproducible too.
    """
    target = Path(path)
    name = target.name.lower()
    if not name.endswith(PACKAGE_SUFFIXES):
        raise UsageError(f"{target}: output must end with one of {', '.join(PACKAGE_SUFFIXES)}")
    data = yaml_text.encode("utf-8")
    if name.endswith((".yaml", ".yml")):
        payload = data
    elif name.endswith(".zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo("pipeline.yaml", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
        payload = buffer.getvalue()
    else:
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo("pipeline.yaml")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        payload = buffer.getvalue()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write there: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            os.fchmod(out.fileno(), _mode_for(target))
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"{target}: cannot write there: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def workflow_size(workflow: dict[str, Any]) -> int:
    """Bytes of the workflow as the KFP API server hands it to Kubernetes (compact JSON), which
    is what etcd's request limit (1.5 MiB by default) applies to."""
    return len(json.dumps(workflow, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _mode_for(target: Path) -> int:
    """The mode a plain open(target, "w") would leave: an existing file's own, else 0666 less the umask.

    mkstemp makes its file 0600 whatever the umask, which kept a compiled workflow from the
    group that shares a project folder.
    """
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask; from /proc on Linux, since setting it to read it races other threads."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
