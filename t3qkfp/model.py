"""The source pipeline as t3qkfp sees it, whatever Elyra version wrote it.

Owns: frozen dataclasses for pipelines, nodes, env settings, resources and Elyra pipeline
parameters. Must not: do I/O, import kfp, or know Elyra's field names (elyra_reader does).
Tuples everywhere, so a model compares with == and can be hashed in tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class NodeKind(str, Enum):
    """What a generic Elyra node executes; the value is Elyra's `op`."""

    NOTEBOOK = "execute-notebook-node"
    PYTHON = "execute-python-node"
    R = "execute-r-node"

    @property
    def short(self) -> str:
        """The name the node runtime uses for this kind."""
        return {"execute-notebook-node": "notebook", "execute-python-node": "python",
                "execute-r-node": "r"}[self.value]


class ParamType(str, Enum):
    """Run-parameter types as KFP 1.2 names them in the pipeline_spec annotation."""

    STRING = "String"
    INTEGER = "Integer"
    FLOAT = "Float"
    BOOL = "Bool"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvSetting:
    """One environment variable of a node, with its value exactly as written in the file.

    `from_defaults` is True when it came from the pipeline's `pipeline_defaults` rather than
    the node itself; the parameter table shows it.
    """

    name: str
    value: str
    from_defaults: bool = False
    field: str = "env_vars"


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretEnv:
    """An env var filled from a Kubernetes secret (Elyra's `kubernetes_secrets`); never a parameter."""

    name: str
    secret: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume:
    """A persistent volume claim mounted into the node's container (Elyra's `mounted_volumes`)."""

    path: str
    pvc: str
    sub_path: str = ""
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Toleration:
    """A Kubernetes toleration of the node's pod (Elyra's `kubernetes_tolerations`)."""

    key: str
    operator: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Kubernetes:
    """Static pod settings of a node: never run parameters, passed to the pod as written."""

    volumes: tuple[Volume, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    pod_annotations: tuple[tuple[str, str], ...] = ()
    pod_labels: tuple[tuple[str, str], ...] = ()
    shared_memory_gb: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """Elyra's resource fields: cpu and memory (GB) are requests, gpu a limit, as Elyra does it."""

    cpu: float | None = None
    gpu: int | None = None
    memory: float | None = None
    cpu_limit: float | None = None
    memory_limit: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One generic Elyra node (notebook, Python or R script)."""

    id: str
    label: str
    kind: NodeKind
    filename: str
    runtime_image: str
    env: tuple[EnvSetting, ...] = ()
    secrets: tuple[SecretEnv, ...] = ()
    pipeline_parameters: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    include_subdirectories: bool = False
    outputs: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    parents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ElyraParameter:
    """A pipeline parameter declared in Elyra (3.14+), with its effective default as a string."""

    name: str
    type: ParamType
    default: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pipeline:
    """A whole Elyra pipeline: the nodes in file order and the declared pipeline parameters.

    `source` names the file for messages ('<string>' for JSON text); `base_dir` is the folder
    node files are relative to (the .pipeline file's folder); `root_dir` is the workspace root
    (Elyra's Jupyter root_dir) that node files and dependencies must stay inside, so a file
    dragged in from a sibling folder (`../scripts/setup.py`) is found; None means `base_dir`.
    """

    source: str
    base_dir: Path
    name: str
    description: str
    format_version: int
    nodes: tuple[Node, ...]
    parameters: tuple[ElyraParameter, ...] = ()
    refused_node_ids: tuple[str, ...] = ()  # nodes the reader refused (links to them are not dangling)
    root_dir: Path | None = None

    @property
    def root(self) -> Path:
        """The workspace root node files must stay inside (the pipeline folder unless set)."""
        return self.root_dir if self.root_dir is not None else self.base_dir

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError if absent: callers pass validated ids)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    # Display only: display.py draws the table and the DAG; nothing is imported until asked.
    def _repr_html_(self) -> str:
        """Jupyter shows the run-parameter table and the DAG picture."""
        from .display import pipeline_repr_html
        return pipeline_repr_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython (terminal and text/plain) shows the table and the DAG as text."""
        from .display import pipeline_repr_text
        printer.text(pipeline_repr_text(self))

    def __str__(self) -> str:
        """print(pipeline): the table and the DAG as text; repr() stays the dataclass one for debugging."""
        from .display import pipeline_repr_text
        return pipeline_repr_text(self)
