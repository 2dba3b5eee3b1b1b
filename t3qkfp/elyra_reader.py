"""Reading an Elyra pipeline: the public entry (`load`, `read`) and the composition of its stages.

Owns: the order of reading and what `load()` promises (`load_checked` also hands on the node
files the checks collected). A pipeline is read in stages, each its own module, data one way:
  elyra_document    path, JSON text, bytes or dict → parsed document (file problems, strict JSON)
  elyra_pipelines   document → primary pipeline, format version, supernodes flattened, links
  elyra_node        one node's properties per format version → model Node
  elyra_parameters  Elyra's pipeline parameters (3.14+) → ElyraParameter
then `checks` validates the whole model. Other modules read pipelines only through this one.
Must not: guess or drop input silently. Every malformed entry becomes a Problem naming the file,
node and field; `load()` raises them together with the checks' problems.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from .checks import check
from .elyra_document import document
from .elyra_pipelines import read_pipeline
from .errors import PipelineError, Problem, UsageError
from .model import Pipeline

logger = logging.getLogger("t3qkfp")


def load(pipeline_json: Any, *, base_dir: str | os.PathLike[str] | None = None,
         source: str | None = None, root_dir: str | os.PathLike[str] | None = None) -> Pipeline:
    """Read and validate a pipeline: a path, JSON text, bytes or an already-parsed dict.

    A Pipeline model is checked again (it may have been changed in Python) and returned as it
    is, so callers can load once and hand the model on; it already knows its folder and name.
    `source` names a pipeline given as text, bytes or a dict in every problem (Elyra hands over
    a dict but the user knows the .pipeline file); a path names itself. `root_dir` is the
    workspace root node files may come from (see default_root).
    Raises PipelineError listing every problem found (reading and checks together).
    """
    return load_checked(pipeline_json, base_dir=base_dir, source=source, root_dir=root_dir).pipeline


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    """A validated pipeline and, per node id, the files its archive holds.

    The files are the ones validation collected (checks.Checked.members); the compiler packs
    them instead of walking the node folders a second time.
    """

    pipeline: Pipeline
    members: Mapping[str, tuple[str, ...]]


def load_checked(pipeline_json: Any, *, base_dir: str | os.PathLike[str] | None = None,
                 source: str | None = None, root_dir: str | os.PathLike[str] | None = None) -> Loaded:
    """`load`, keeping the node files the checks collected (for building the archives).

    A Loaded given back is returned as it is: a caller that loaded once (to check overrides
    against the plan, or to name problems after Elyra's saved file) hands it to compile or
    upload, and the node folders are walked once in all.
    """
    if isinstance(pipeline_json, Loaded):
        if base_dir is not None or source is not None or root_dir is not None:
            raise UsageError("base_dir, root_dir and source apply to pipeline files and JSON, not to a loaded "
                             "pipeline (it keeps its own folder and name)")
        return pipeline_json
    if isinstance(pipeline_json, Pipeline):
        if base_dir is not None or source is not None or root_dir is not None:
            raise UsageError("base_dir, root_dir and source apply to pipeline files and JSON, not to a loaded "
                             "Pipeline (it keeps its own folder and name)")
        checked = check(pipeline_json)
        if checked.problems:
            raise PipelineError(in_file_order(checked.problems, pipeline_json))
        return Loaded(pipeline=pipeline_json, members=checked.members)
    pipeline, problems = read(pipeline_json, base_dir=base_dir, source=source, root_dir=root_dir)
    members: Mapping[str, tuple[str, ...]] = {}
    if pipeline is not None:
        checked = check(pipeline)
        problems, members = [*problems, *checked.problems], checked.members
    if problems:
        raise PipelineError(in_file_order(problems, pipeline))
    assert pipeline is not None
    return Loaded(pipeline=pipeline, members=members)


def default_root(base_dir: str | os.PathLike[str]) -> Path:
    """The workspace root when none is given: the working folder when it holds the pipeline's
    folder (as Jupyter's root holds every notebook Elyra opens), else the pipeline's folder.

    Why not always the pipeline folder: Elyra's editor writes `../scripts/setup.py` for a file
    dragged in from a sibling folder, and Elyra runs it; run from the project folder, t3qkfp
    must too. Why not always the working folder: run from elsewhere, nothing above the
    pipeline's folder is the user's project.
    """
    base, cwd = Path(base_dir).absolute(), Path.cwd()
    try:
        base.resolve().relative_to(cwd.resolve())
    except (ValueError, OSError, RuntimeError):
        return base
    return cwd


def in_file_order(problems: list[Problem], pipeline: Pipeline | None) -> list[Problem]:
    """Pipeline-level problems first, then each node's problems together, nodes in file order."""
    order = {node.id: i for i, node in enumerate(pipeline.nodes)} if pipeline else {}
    return sorted(problems, key=lambda p: -1 if p.location.node_id is None
                  else order.get(p.location.node_id, len(order)))


def read(pipeline_json: Any, *, base_dir: str | os.PathLike[str] | None = None,
         source: str | None = None, root_dir: str | os.PathLike[str] | None = None,
         ) -> tuple[Pipeline | None, list[Problem]]:
    """The model and the problems met while reading; the model is None when the file is unusable."""
    parsed, found, default_base = document(pipeline_json, source)
    if parsed is None and found.problems:   # JSON `null` itself is read on, and refused as no pipeline
        return None, found.problems
    base = Path(base_dir) if base_dir is not None else default_base
    if root_dir is not None:
        root = Path(root_dir)
    else:  # a file's own folder may sit below the working folder; text and dicts have no file
        root = default_root(base) if base_dir is None and isinstance(pipeline_json, (str, os.PathLike)) \
            and base != Path.cwd() else base
    pipeline = read_pipeline(found, parsed, base_dir=base)
    if pipeline is not None:
        pipeline = replace(pipeline, root_dir=root)
    for note in found.notes:
        logger.warning("warning: %s", note)
    return pipeline, found.problems
