"""t3qkfp: Elyra pipelines → Kubeflow Pipelines 1.2 workflows whose node parameters are run parameters.

The public surface is small and every stage can be called alone:
    load(pipeline_json)      -> Pipeline        (read + validate)
    plan(pipeline)           -> ParameterPlan   (which run parameters, who uses them)
    compile(pipeline_json)   -> dict            (the Argo Workflow; writes .yaml/.zip/.tar.gz if asked)
kfp is imported only when a function needs it, so `import t3qkfp` and `t3qkfp --help` stay fast.
"""
from __future__ import annotations

from typing import Any

from .errors import (GraphvizUnavailable, InternalError, Location, PipelineError, Problem, RunError,
                     StorageError, SubmitError, SubmittedRunError, T3qkfpError, UsageError)

__version__ = "0.1.0"

from . import logs as _logs  # noqa: E402

_logs.install()  # progress and notes reach a notebook user who configured no logging

_LAZY = {
    "load": ("t3qkfp.elyra_reader", "load"),
    "plan": ("t3qkfp.params", "plan"),
    "compile": ("t3qkfp.compiler", "compile"),
    "compile_pipeline": ("t3qkfp.compiler", "compile_pipeline"),
    "Compiled": ("t3qkfp.compiler", "Compiled"),
    "ParameterPlan": ("t3qkfp.params", "ParameterPlan"),
    "StorageConfig": ("t3qkfp.storage_settings", "StorageConfig"),
    "upload": ("t3qkfp.archive_upload", "upload"),
    "run_local": ("t3qkfp.local", "run_local"),
    "run_workflow": ("t3qkfp.local_exec", "run_workflow"),
    "submit": ("t3qkfp.kfp_submit", "submit"),
    "sweep": ("t3qkfp.sweeps", "sweep"),
    "sweep_local": ("t3qkfp.sweeps", "sweep_local"),
    "SweepResult": ("t3qkfp.sweep_result", "SweepResult"),
    "katib_experiment": ("t3qkfp.katib", "katib_experiment"),
    "view": ("t3qkfp.compiler", "view"),
    "picture": ("t3qkfp.compiler", "picture"),
    "KfpAuth": ("t3qkfp.kfp_auth", "KfpAuth"),
    "SubmitResult": ("t3qkfp.kfp_submit", "SubmitResult"),
}

__all__ = ["GraphvizUnavailable", "InternalError", "Location", "PipelineError", "Problem", "RunError", "StorageError",
           "SubmitError", "SubmittedRunError", "T3qkfpError", "UsageError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Load the heavy parts (kfp, minio) on first use."""
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 't3qkfp' has no attribute {name!r}")
