"""Reading stage: a parsed Elyra document → the model Pipeline of its primary pipeline.

Owns: which entry of `pipelines` is read (`primary_pipeline`), its format version
(`pipelines[primary].app_data.version`) and the versions t3qkfp reads:
  v3 (Elyra 1.2–2.x)   node properties directly in `node.app_data`, label in `app_data.ui_data`,
                       env vars as "NAME=value" strings;
  v4–v7 (Elyra 3.0–3.11) properties in `app_data.component_parameters`, label in `app_data.label`;
                       `pipeline_defaults` from 3.8 (v7);
  v8 (Elyra 3.12–4.x)  env vars as {"env_var", "value"} dicts; `pipeline_parameters` from 3.14.
(elyra-ai/elyra: pipeline-editor migrateV4..V8, elyra/pipeline/pipeline_definition.py.)
It also owns the pipeline's name, description and defaults, and Elyra's port rules: supernodes
flattened into their inner nodes, links through supernode ports. Why separate: this is the
document's structure; one node's properties are elyra_node's, declared parameters
elyra_parameters'. Must not: guess or drop input silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .elyra_document import Findings
from .elyra_node import label_of, read_node
from .elyra_parameters import read_parameters
from .errors import shown
from .model import Node, Pipeline

OLDEST_VERSION = 3   # Elyra 1.2–2.x; older files predate Elyra 2 and use other field names
NEWEST_VERSION = 8   # Elyra 3.12 through 4.1
_SUPER_OUT = "_outPort"  # a supernode's output port: "<inner node id>_outPort"


def read_pipeline(found: Findings, doc: Any, *, base_dir: Path) -> Pipeline | None:
    """The primary pipeline with every node read, or None when the document has no usable one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("pipelines"), list):
        found.problem("not an Elyra pipeline document: no 'pipelines' list at the top level",
                      hint="open the file in Elyra's pipeline editor and save it")
        return None
    if doc.get("doc_type", "pipeline") != "pipeline":
        found.problem(f"not an Elyra pipeline document: doc_type is {shown(doc.get('doc_type'))}",
                      field_="doc_type")
        return None
    primary = _primary(found, doc)
    if primary is None:
        return None
    app = primary.get("app_data")
    if not isinstance(app, dict):
        found.problem("the primary pipeline has no 'app_data' object", field_="pipelines[].app_data")
        return None
    version = _version(found, app)
    if version is None:
        return None
    props = app.get("properties", {})
    if not isinstance(props, dict):
        found.problem("'properties' must be an object", field_="app_data.properties")
        props = {}
    defaults = props.get("pipeline_defaults", {}) or {}
    if not isinstance(defaults, dict):
        found.problem("'pipeline_defaults' must be an object", field_="app_data.properties.pipeline_defaults")
        defaults = {}
    parameters = read_parameters(found, props.get("pipeline_parameters"))
    raw_nodes = primary.get("nodes")
    if not isinstance(raw_nodes, list):
        found.problem("the primary pipeline has no 'nodes' list", field_="pipelines[].nodes")
        raw_nodes = []
    pipelines = {p["id"]: p for p in doc["pipelines"] if isinstance(p, dict) and isinstance(p.get("id"), str)}
    flattening = _Flattening(
        found=found, version=version, defaults=defaults, pipelines=pipelines,
        bindings=frozenset(n["id"] for p in pipelines.values() if isinstance(p.get("nodes"), list)
                           for n in p["nodes"] if isinstance(n, dict) and n.get("type") == "binding"
                           and isinstance(n.get("id"), str)))
    nodes: list[Node] = []
    flattening.walk(raw_nodes, "nodes", nodes, enclosing=None, inside=(str(primary.get("id")),))
    name = props.get("name") or app.get("name") or _stem(found.source)
    if not isinstance(name, str):
        found.problem("pipeline name must be a string", field_="app_data.properties.name")
        name = _stem(found.source)
    description = props.get("description", "") or ""
    if not isinstance(description, str):
        found.problem("description must be a string", field_="app_data.properties.description")
        description = ""
    return Pipeline(source=found.source, base_dir=base_dir, name=name,
                    description=description, format_version=version, nodes=tuple(nodes),
                    parameters=parameters, refused_node_ids=tuple(found.refused))


def _stem(source: str) -> str:
    """The pipeline's name when the document gives none: its file's name without `.pipeline`."""
    if source.startswith("<"):
        return "pipeline"
    stem = Path(source).name
    return stem[:-len(".pipeline")] if stem.endswith(".pipeline") else Path(stem).stem


def _primary(found: Findings, doc: dict[str, Any]) -> dict[str, Any] | None:
    pipelines = doc["pipelines"]
    if not pipelines:
        found.problem("the 'pipelines' list is empty", field_="pipelines")
        return None
    primary_id = doc.get("primary_pipeline")
    if primary_id is None and len(pipelines) == 1:
        chosen = pipelines[0]
    else:
        chosen = next((p for p in pipelines if isinstance(p, dict) and p.get("id") == primary_id), None)
        if chosen is None:
            found.problem(f"the primary pipeline {shown(primary_id)} is not in 'pipelines'",
                          field_="primary_pipeline")
            return None
    if not isinstance(chosen, dict):
        found.problem("the primary pipeline must be an object", field_="pipelines[]")
        return None
    return chosen


def _version(found: Findings, app: dict[str, Any]) -> int | None:
    raw = app.get("version")
    version: int | None = None
    if isinstance(raw, bool) or raw is None:
        version = None
    elif isinstance(raw, int):
        version = raw
    elif isinstance(raw, float) and raw.is_integer():
        version = int(raw)
    elif isinstance(raw, str) and re.fullmatch(r"[0-9]{1,6}", raw.strip()):
        version = int(raw.strip())
    if raw is None:
        found.problem("the file has no format version (app_data.version): it predates Elyra 2",
                      hint="open and save it in Elyra 2.x or newer to migrate it",
                      field_="app_data.version")
        return None
    if version is None:
        found.problem(f"format version {shown(raw)} is not a whole number", field_="app_data.version")
        return None
    if version > NEWEST_VERSION:
        found.problem(f"format version {version} is newer than t3qkfp knows (newest: {NEWEST_VERSION})",
                      hint="upgrade t3qkfp, or save the pipeline with an older Elyra",
                      field_="app_data.version")
        return None
    if version < OLDEST_VERSION:
        found.problem(f"format version {version} was written by Elyra 1.x (t3qkfp reads {OLDEST_VERSION} to {NEWEST_VERSION})",
                      hint="open and save it in Elyra 2.x or newer to migrate it",
                      field_="app_data.version")
        return None
    return version


@dataclass(frozen=True, slots=True, kw_only=True)
class _Flattening:
    """Elyra's port rules over one document: supernodes replaced by their inner nodes, and each
    node's links followed through the ports (what Elyra's parser does before it runs anything).

    Why a class: every pipeline of the document (by id) and every port node's id are needed by
    each node's links, and a supernode's pipeline may sit anywhere in `pipelines`.
    """

    found: Findings
    version: int
    defaults: dict[str, Any]
    pipelines: dict[str, Any]  # every entry of 'pipelines' by id
    bindings: frozenset[str]  # ids of supernode port (binding) nodes

    def walk(self, raw_nodes: list[Any], at: str, nodes: list[Node], *, enclosing: dict[str, Any] | None,
             inside: tuple[str, ...]) -> None:
        """The nodes of one pipeline, a supernode's inner nodes in its place (Elyra flattens them).

        Elyra's parser recurses into the pipeline a super_node's `subflow_ref.pipeline_id_ref`
        names and skips `binding` nodes (elyra v2.2.4 elyra/pipeline/parser.py:95-131; v3.15.0
        the same file, _nodes_to_operations and _super_node_to_operations); every pipeline's
        nodes take the pipeline defaults (v3.15.0 pipeline_definition.py:630 pipeline_nodes).
        """
        for index, raw in enumerate(raw_nodes):
            if isinstance(raw, dict) and raw.get("type") == "super_node":
                self._super_node(raw, f"{at}[{index}]", nodes, inside)
                continue
            node = read_node(self.found, raw, at=f"{at}[{index}]", version=self.version, defaults=self.defaults)
            if node is not None:
                nodes.append(replace(node, parents=self._links(
                    raw, {"node_id": node.id, "label": node.label}, enclosing)))

    def _super_node(self, raw: dict[str, Any], at: str, nodes: list[Node], inside: tuple[str, ...]) -> None:
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id:
            self.found.problem("node has no id", field_=f"{at}.id")
            return
        app = raw.get("app_data") if isinstance(raw.get("app_data"), dict) else {}
        where = {"node_id": node_id, "label": label_of(app) or node_id}
        ref = raw.get("subflow_ref", {}).get("pipeline_id_ref") if isinstance(raw.get("subflow_ref"), dict) else None
        sub = self.pipelines.get(ref) if isinstance(ref, str) else None
        problem = ""
        if not isinstance(ref, str) or not ref:
            problem = "the supernode names no pipeline"
        elif sub is None:
            problem = f"the supernode's pipeline {shown(ref)} is not in 'pipelines'"
        elif ref in inside:
            problem = f"the supernode's pipeline {shown(ref)} contains itself"
        elif not isinstance(sub.get("nodes"), list):
            problem = f"the supernode's pipeline {shown(ref)} has no 'nodes' list"
        if problem:
            self.found.problem(problem, hint="open the file in Elyra's pipeline editor, expand the supernode and save",
                               field_="subflow_ref.pipeline_id_ref", **where)
            self.found.refused.append(node_id)
            # Links to its ports name its inner nodes; they already have this problem.
            for port in raw.get("outputs") or [] if isinstance(raw.get("outputs"), list) else []:
                if isinstance(port, dict) and isinstance(port.get("id"), str) and port["id"].endswith(_SUPER_OUT):
                    self.found.refused.append(port["id"][:-len(_SUPER_OUT)])
            return
        self.walk(sub["nodes"], f"pipelines[{ref}].nodes", nodes, enclosing=raw, inside=(*inside, ref))

    def _links(self, raw: dict[str, Any], where: dict[str, Any],
               enclosing: dict[str, Any] | None = None) -> tuple[str, ...]:
        """The ids of the nodes this node runs after, as Elyra's parser links them.

        A link on port "outPort" names its node; a link on "<inner id>_outPort" leaves a
        supernode and names the inner node; links from a supernode's binding nodes carry
        nothing; a node inside a supernode also runs after what links into the supernode's
        "<its id>_inPort" (elyra v2.2.4 elyra/pipeline/parser.py:174-224 _get_port_node_id and
        _get_parent_operation_links; v3.15.0 the same file and functions). Elyra cuts the
        port at the first '_'; t3qkfp cuts the suffix, the same for Elyra's uuid ids. A link
        without port_id_ref keeps its node_id_ref, as t3qkfp always read it.
        """
        parents: list[str] = []
        inputs = raw.get("inputs") or []
        if not isinstance(inputs, list):
            self.found.problem("'inputs' must be a list", field_="inputs", **where)
            return ()
        ports = [(f"inputs[{i}]", port) for i, port in enumerate(inputs)]
        if enclosing is not None and isinstance(enclosing.get("inputs"), list):
            port_id = f"{raw.get('id')}_inPort"
            ports += [(f"supernode {enclosing.get('id')} inputs[{i}]", port)
                      for i, port in enumerate(enclosing["inputs"])
                      if isinstance(port, dict) and port.get("id") == port_id]
        for at, port in ports:
            links = port.get("links", []) if isinstance(port, dict) else None
            if not isinstance(links, list):
                self.found.problem("'links' must be a list", field_=f"{at}.links", **where)
                continue
            for j, link in enumerate(links):
                ref = link.get("node_id_ref") if isinstance(link, dict) else None
                if not isinstance(ref, str) or not ref:
                    self.found.problem("link has no node_id_ref", field_=f"{at}.links[{j}]", **where)
                    continue
                port_ref = link.get("port_id_ref")
                if ref in self.bindings:
                    continue  # a supernode's port inside its pipeline; the supernode links it
                if isinstance(port_ref, str) and port_ref.endswith(_SUPER_OUT):
                    ref = port_ref[:-len(_SUPER_OUT)]
                if ref not in parents:
                    parents.append(ref)
        return tuple(parents)
