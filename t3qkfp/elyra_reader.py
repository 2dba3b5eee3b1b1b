"""Every Elyra format version of a generic pipeline → t3qkfp's model.

Owns: the only knowledge of Elyra's field names and of how they changed between format versions
(`pipelines[primary].app_data.version`):
  v3 (Elyra 1.2–2.x)   node properties directly in `node.app_data`, label in `app_data.ui_data`,
                       env vars as "NAME=value" strings;
  v4–v7 (Elyra 3.0–3.11) properties in `app_data.component_parameters`, label in `app_data.label`;
                       `pipeline_defaults` from 3.8 (v7);
  v8 (Elyra 3.12–4.x)  env vars as {"env_var", "value"} dicts; `pipeline_parameters` from 3.14.
(elyra-ai/elyra: pipeline-editor migrateV4..V8, elyra/pipeline/pipeline_definition.py.)
Must not: guess or drop input silently. Every malformed entry becomes a Problem naming the file,
node and field; `load()` raises them together with the checks' problems.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .checks import check
from .errors import Location, PipelineError, Problem, UsageError, shown
from .user_files import NotRegularFile, TooLarge, read_regular
from .model import (ElyraParameter, EnvSetting, Kubernetes, Node, NodeKind, ParamType, Pipeline,
                    Resources, SecretEnv, Toleration, Volume)

OLDEST_VERSION = 3   # Elyra 1.2–2.x; older files predate Elyra 2 and use other field names
NEWEST_VERSION = 8   # Elyra 3.12 through 4.1
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_RESOURCE = 1e6  # no node asks for a million CPUs or GB; larger values are typos
_FITS = {ParamType.INTEGER: re.compile(r"-?[0-9]+"),
         ParamType.FLOAT: re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"),
         ParamType.BOOL: re.compile(r"True|False|true|false")}
_DECIMAL = re.compile(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")

_GENERIC_OPS = {kind.value: kind for kind in NodeKind}
# How Elyra's bootstrapper runs a node: by its file's extension, not by the node's op
# (kfp-notebook v0.23.0 etc/docker-scripts/bootstrapper.py:55-64 FileOpBase.get_instance;
# elyra v3.15.0 elyra/kfp/bootstrapper.py:61-71, v4.1.1 elyra/kfp/bootstrapper.py:70-80).
# Elyra tests '.ipynb', '.py', '.r' in that order; t3qkfp reads the suffix and keeps '.R'.
_KIND_OF_SUFFIX = {".ipynb": NodeKind.NOTEBOOK, ".py": NodeKind.PYTHON, ".r": NodeKind.R, ".R": NodeKind.R}
# Format-3 "NAME=value" env text: Elyra 2.2.4 strips spaces and both quote kinds from name and
# value (elyra v2.2.4 elyra/pipeline/processor_kfp.py:402). Later formats strip whitespace only
# (v3.11.0 elyra/pipeline/pipeline.py:514-520 KeyValueList.to_dict for v4-v7 strings;
# v3.15.0 elyra/pipeline/properties.py:210 and 333-335 strip_if_string for v8 objects).
_ELYRA2_STRIP = " '\""
_KIND_WORDS = {NodeKind.NOTEBOOK: "a notebook", NodeKind.PYTHON: "a Python script", NodeKind.R: "an R script"}
_SUPER_OUT = "_outPort"  # a supernode's output port: "<inner node id>_outPort"
logger = logging.getLogger("t3qkfp")


class _JsonProblem(ValueError):
    """Raised inside the strict JSON hooks; turned into a Problem by _parse_json."""


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
    """`load`, keeping the node files the checks collected (for building the archives)."""
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
    named, document, problems, default_base = _document(pipeline_json, source)
    if document is None:
        return None, problems
    base = Path(base_dir) if base_dir is not None else default_base
    if root_dir is not None:
        root = Path(root_dir)
    else:  # a file's own folder may sit below the working folder; text and dicts have no file
        root = default_root(base) if base_dir is None and isinstance(pipeline_json, (str, os.PathLike)) \
            and base != Path.cwd() else base
    reader = _Reader(source=named, base_dir=base)
    pipeline = reader.pipeline(document)
    if pipeline is not None:
        pipeline = replace(pipeline, root_dir=root)
    for note in reader.notes:
        logger.warning("warning: %s", note)
    return pipeline, problems + reader.problems


def _document(pipeline_json: Any, name: str | None = None) -> tuple[str, Any, list[Problem], Path]:
    """Turn the accepted input forms into (source name, parsed JSON, problems, default base dir)."""
    cwd = Path.cwd()
    if isinstance(pipeline_json, Mapping):
        return name or "<dict>", dict(pipeline_json), [], cwd
    if isinstance(pipeline_json, (bytes, bytearray)):
        name = name or "<bytes>"
        try:
            text = bytes(pipeline_json).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return name, None, [_file_problem(name, f"not UTF-8 text: {exc}")], cwd
        return (name, *_parse_json(name, text), cwd)
    if isinstance(pipeline_json, str) and pipeline_json.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        name = name or "<string>"
        # a BOM (JSON text read with encoding="utf-8") is not part of the document, as for bytes
        text = pipeline_json.lstrip(" \t\r\n")
        return (name, *_parse_json(name, text[1:] if text.startswith("\ufeff") else text), cwd)
    if isinstance(pipeline_json, str) and ("\n" in pipeline_json or len(pipeline_json) > 4096):
        # no file name holds a newline or is that long: text that is not JSON, not a path
        return "<string>", None, [_file_problem(
            "<string>", f"neither JSON text nor a file path: text of {len(pipeline_json)} characters "
                        f"starting {shown(pipeline_json[:40])}",
            "pass the pipeline's path, or its JSON text starting with '{'")], cwd
    if isinstance(pipeline_json, (str, os.PathLike)):
        path = Path(pipeline_json)
        source = str(path)
        try:
            raw = read_regular(path, MAX_FILE_BYTES)
        except TooLarge:
            return source, None, [_file_problem(source, f"file is larger than {MAX_FILE_BYTES} bytes")], cwd
        except NotRegularFile as exc:
            return source, None, [_file_problem(source, f"cannot read file: it is {exc}")], cwd
        except FileNotFoundError:
            return source, None, [_file_problem(source, "file not found")], cwd
        except OSError as exc:
            return source, None, [_file_problem(source, f"cannot read file: {exc.strerror or exc}")], cwd
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return source, None, [_file_problem(source, f"not UTF-8 text: {exc}")], cwd
        return (source, *_parse_json(source, text), path.parent)
    kind = type(pipeline_json).__name__
    return "<input>", None, [_file_problem(
        "<input>", f"cannot read a pipeline from a {kind}",
        "pass a path, JSON text, bytes or a dict")], cwd


def _file_problem(source: str, message: str, hint: str = "") -> Problem:
    return Problem(location=Location(file=source), message=message, hint=hint)


def _parse_json(source: str, text: str) -> tuple[Any, list[Problem]]:
    """Strict JSON: NaN/Infinity and duplicate keys are errors, not silently accepted as Python does."""
    def reject_constant(name: str) -> Any:
        raise _JsonProblem(f"{name} is not valid JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise _JsonProblem(f"duplicate key {key!r} in one object")
            result[key] = value
        return result

    try:
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=no_duplicates), []
    except json.JSONDecodeError as exc:
        return None, [_file_problem(source, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                    "a .pipeline file is the JSON Elyra's pipeline editor saves")]
    except _JsonProblem as exc:
        return None, [_file_problem(source, f"invalid JSON: {exc}")]
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        return None, [_file_problem(source, f"invalid JSON: {exc}")]
    except RecursionError:
        return None, [_file_problem(source, "invalid JSON: nested too deeply")]


@dataclass
class _Reader:
    """Reads one parsed document; collects problems instead of stopping at the first."""

    source: str
    base_dir: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # input read the way Elyra reads it, but changed
    skipped: list[str] = field(default_factory=list)
    _pipelines: dict[str, Any] = field(default_factory=dict)  # every entry of 'pipelines' by id
    _bindings: set[str] = field(default_factory=set)  # ids of supernode port (binding) nodes  # ids of nodes refused (their links are not dangling)

    def problem(self, message: str, *, hint: str = "", node_id: str | None = None,
                label: str | None = None, field_: str | None = None) -> None:
        self.problems.append(Problem(
            location=Location(file=self.source, node_id=node_id, node_label=label, field=field_),
            message=message, hint=hint))

    def note(self, message: str, *, node_id: str | None = None, label: str | None = None,
             field_: str | None = None) -> None:
        """A warning, not a problem: the text was read as Elyra reads it, which is not as written.

        Pipeline defaults are read once per node; their warning names no node and is kept once.
        """
        if field_ and field_.startswith("pipeline_defaults."):
            node_id = label = None
        note = Problem(location=Location(file=self.source, node_id=node_id, node_label=label, field=field_),
                       message=message)
        if note not in self.notes:
            self.notes.append(note)

    # -- document level -------------------------------------------------------------------
    def pipeline(self, doc: Any) -> Pipeline | None:
        if not isinstance(doc, dict) or not isinstance(doc.get("pipelines"), list):
            self.problem("not an Elyra pipeline document: no 'pipelines' list at the top level",
                         hint="open the file in Elyra's pipeline editor and save it")
            return None
        if doc.get("doc_type", "pipeline") != "pipeline":
            self.problem(f"not an Elyra pipeline document: doc_type is {shown(doc.get('doc_type'))}",
                         field_="doc_type")
            return None
        primary = self._primary(doc)
        if primary is None:
            return None
        app = primary.get("app_data")
        if not isinstance(app, dict):
            self.problem("the primary pipeline has no 'app_data' object", field_="pipelines[].app_data")
            return None
        version = self._version(app)
        if version is None:
            return None
        props = app.get("properties", {})
        if not isinstance(props, dict):
            self.problem("'properties' must be an object", field_="app_data.properties")
            props = {}
        defaults = props.get("pipeline_defaults", {}) or {}
        if not isinstance(defaults, dict):
            self.problem("'pipeline_defaults' must be an object", field_="app_data.properties.pipeline_defaults")
            defaults = {}
        parameters = self._parameters(props.get("pipeline_parameters"))
        raw_nodes = primary.get("nodes")
        if not isinstance(raw_nodes, list):
            self.problem("the primary pipeline has no 'nodes' list", field_="pipelines[].nodes")
            raw_nodes = []
        self._pipelines = {p["id"]: p for p in doc["pipelines"]
                           if isinstance(p, dict) and isinstance(p.get("id"), str)}
        self._bindings = {n["id"] for p in self._pipelines.values() if isinstance(p.get("nodes"), list)
                          for n in p["nodes"] if isinstance(n, dict) and n.get("type") == "binding"
                          and isinstance(n.get("id"), str)}
        nodes: list[Node] = []
        self._walk(raw_nodes, "nodes", version, defaults, nodes, enclosing=None,
                   inside=(str(primary.get("id")),))
        name = props.get("name") or app.get("name") or self._stem()
        if not isinstance(name, str):
            self.problem("pipeline name must be a string", field_="app_data.properties.name")
            name = self._stem()
        description = props.get("description", "") or ""
        if not isinstance(description, str):
            self.problem("description must be a string", field_="app_data.properties.description")
            description = ""
        return Pipeline(source=self.source, base_dir=self.base_dir, name=name,
                        description=description, format_version=version, nodes=tuple(nodes),
                        parameters=parameters, refused_node_ids=tuple(self.skipped))

    def _stem(self) -> str:
        if self.source.startswith("<"):
            return "pipeline"
        stem = Path(self.source).name
        return stem[:-len(".pipeline")] if stem.endswith(".pipeline") else Path(stem).stem

    def _primary(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        pipelines = doc["pipelines"]
        if not pipelines:
            self.problem("the 'pipelines' list is empty", field_="pipelines")
            return None
        primary_id = doc.get("primary_pipeline")
        if primary_id is None and len(pipelines) == 1:
            found = pipelines[0]
        else:
            found = next((p for p in pipelines if isinstance(p, dict) and p.get("id") == primary_id), None)
            if found is None:
                self.problem(f"the primary pipeline {shown(primary_id)} is not in 'pipelines'",
                             field_="primary_pipeline")
                return None
        if not isinstance(found, dict):
            self.problem("the primary pipeline must be an object", field_="pipelines[]")
            return None
        return found

    def _version(self, app: dict[str, Any]) -> int | None:
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
            self.problem("the file has no format version (app_data.version): it predates Elyra 2",
                         hint="open and save it in Elyra 2.x or newer to migrate it",
                         field_="app_data.version")
            return None
        if version is None:
            self.problem(f"format version {shown(raw)} is not a whole number", field_="app_data.version")
            return None
        if version > NEWEST_VERSION:
            self.problem(f"format version {version} is newer than t3qkfp knows (newest: {NEWEST_VERSION})",
                         hint="upgrade t3qkfp, or save the pipeline with an older Elyra",
                         field_="app_data.version")
            return None
        if version < OLDEST_VERSION:
            self.problem(f"format version {version} was written by Elyra 1.x (t3qkfp reads {OLDEST_VERSION} to {NEWEST_VERSION})",
                         hint="open and save it in Elyra 2.x or newer to migrate it",
                         field_="app_data.version")
            return None
        return version

    # -- pipeline parameters (Elyra 3.14+) ------------------------------------------------
    def _parameters(self, raw: Any) -> tuple[ElyraParameter, ...]:
        if raw in (None, []):
            return ()
        where = "app_data.properties.pipeline_parameters"
        if not isinstance(raw, list):
            self.problem("must be a list", field_=where)
            return ()
        result = []
        for index, entry in enumerate(raw):
            at = f"{where}[{index}]"
            if not isinstance(entry, dict):
                self.problem("must be an object with name and default_value", field_=at)
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                self.problem("pipeline parameter has no name", field_=f"{at}.name")
                continue
            default = entry.get("default_value") or {}
            if not isinstance(default, dict):
                self.problem("default_value must be an object with type and value", field_=f"{at}.default_value")
                continue
            type_name = default.get("type", "String")
            description = entry.get("description") or ""
            description = description if isinstance(description, str) else ""
            # A parameter refused below still enters the model (as a String), so the nodes that
            # use it are not also told that it is undefined; load() raises the problem anyway.
            refused = ElyraParameter(name=name, type=ParamType.STRING, default="", description=description)
            # only a string is looked up: Enum's own error would repr a nested value (RecursionError)
            ptype = next((t for t in ParamType if t.value == type_name), None) if isinstance(type_name, str) else None
            if ptype is None:
                self.problem(f"parameter {name!r} has unknown type {shown(type_name)}",
                             hint="use String, Integer, Float or Bool", field_=f"{at}.default_value.type")
                result.append(refused)
                continue
            value = entry.get("value")
            if value is None or value == "":
                value = default.get("value")
            if (value is None or value == "") and entry.get("required"):
                self.problem(f"parameter {name!r} is required but has no value",
                             hint="give it a default value in the pipeline properties",
                             field_=f"{at}.default_value.value")
                result.append(refused)
                continue
            text = self._typed_text(value, ptype, f"{at}.default_value.value")
            if text is None:
                result.append(refused)
                continue
            result.append(ElyraParameter(name=name, type=ptype, default=text, description=description))
        return tuple(result)

    def _typed_text(self, value: Any, ptype: ParamType, at: str) -> str | None:
        """The exact string a typed Elyra value becomes (KFP v1 renders bools as True/False)."""
        if value is None:
            return ""
        if isinstance(value, bool):
            if ptype in (ParamType.BOOL, ParamType.STRING):
                return "True" if value else "False"
        elif isinstance(value, int):
            if ptype in (ParamType.INTEGER, ParamType.FLOAT, ParamType.STRING):
                return str(value)
        elif isinstance(value, float):
            if math.isfinite(value) and ptype in (ParamType.FLOAT, ParamType.STRING):
                return repr(value)
        elif isinstance(value, str):
            if ptype is ParamType.STRING or _FITS[ptype].fullmatch(value):
                return value
        self.problem(f"value {shown(value)} does not fit type {ptype.value}", field_=at)
        return None

    # -- nodes ----------------------------------------------------------------------------
    def _walk(self, raw_nodes: list[Any], at: str, version: int, defaults: dict[str, Any],
              nodes: list[Node], *, enclosing: dict[str, Any] | None, inside: tuple[str, ...]) -> None:
        """The nodes of one pipeline, a supernode's inner nodes in its place (Elyra flattens them).

        Elyra's parser recurses into the pipeline a super_node's `subflow_ref.pipeline_id_ref`
        names and skips `binding` nodes (elyra v2.2.4 elyra/pipeline/parser.py:95-131; v3.15.0
        the same file, _nodes_to_operations and _super_node_to_operations); every pipeline's
        nodes take the pipeline defaults (v3.15.0 pipeline_definition.py:630 pipeline_nodes).
        """
        for index, raw in enumerate(raw_nodes):
            if isinstance(raw, dict) and raw.get("type") == "super_node":
                self._super_node(raw, f"{at}[{index}]", version, defaults, nodes, inside)
                continue
            node = self._node(raw, index, version, defaults, at=f"{at}[{index}]", enclosing=enclosing)
            if node is not None:
                nodes.append(node)

    def _super_node(self, raw: dict[str, Any], at: str, version: int, defaults: dict[str, Any],
                    nodes: list[Node], inside: tuple[str, ...]) -> None:
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id:
            self.problem("node has no id", field_=f"{at}.id")
            return
        app = raw.get("app_data") if isinstance(raw.get("app_data"), dict) else {}
        where = {"node_id": node_id, "label": self._label(app) or node_id}
        ref = raw.get("subflow_ref", {}).get("pipeline_id_ref") if isinstance(raw.get("subflow_ref"), dict) else None
        sub = self._pipelines.get(ref) if isinstance(ref, str) else None
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
            self.problem(problem, hint="open the file in Elyra's pipeline editor, expand the supernode and save",
                         field_="subflow_ref.pipeline_id_ref", **where)
            self.skipped.append(node_id)
            # Links to its ports name its inner nodes; they already have this problem.
            for port in raw.get("outputs") or [] if isinstance(raw.get("outputs"), list) else []:
                if isinstance(port, dict) and isinstance(port.get("id"), str) and port["id"].endswith(_SUPER_OUT):
                    self.skipped.append(port["id"][:-len(_SUPER_OUT)])
            return
        self._walk(sub["nodes"], f"pipelines[{ref}].nodes", version, defaults, nodes, enclosing=raw,
                   inside=(*inside, ref))

    def _node(self, raw: Any, index: int, version: int, defaults: dict[str, Any], *, at: str,
              enclosing: dict[str, Any] | None = None) -> Node | None:
        if not isinstance(raw, dict):
            self.problem("node must be an object", field_=at)
            return None
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id:
            self.problem("node has no id", field_=f"{at}.id")
            return None
        node_type = raw.get("type", "execution_node")
        app = raw.get("app_data") if isinstance(raw.get("app_data"), dict) else {}
        if node_type == "binding":
            return None  # pipeline-flow's port nodes of supernodes: they carry nothing to run
        prefix = "component_parameters." if version >= 4 else "app_data."
        props = app.get("component_parameters") if version >= 4 else app
        filename = props.get("filename") if isinstance(props, dict) else None
        label = self._label(app)
        if not label and isinstance(filename, str) and filename:
            label = Path(filename).name
            if version < 4:
                label = Path(filename).stem  # Elyra 2.x names such nodes after the file without extension
        where = {"node_id": node_id, "label": label}
        ui = app.get("ui_data") if isinstance(app.get("ui_data"), dict) else {}
        for at_label, value in (("app_data.ui_data.label", ui.get("label")), ("app_data.label", app.get("label"))):
            if value is not None and not isinstance(value, str):
                self.problem(f"label must be text, got {type(value).__name__} {shown(value)}",
                             hint="rename the node in Elyra", field_=at_label, **where)
        if node_type != "execution_node":
            self.problem(f"node type {shown(node_type)} is not supported", field_="type", **where)
            self.skipped.append(node_id)
            return None
        op = raw.get("op")
        if not isinstance(op, str) or op not in _GENERIC_OPS:
            self.problem(f"unsupported node op {shown(op)}: custom KFP components are not supported yet",
                         hint="t3qkfp compiles notebook, Python script and R script nodes",
                         field_="op", **where)
            self.skipped.append(node_id)
            return None
        if not isinstance(props, dict):
            self.problem("node has no 'component_parameters' object", field_="app_data.component_parameters", **where)
            self.skipped.append(node_id)
            return None
        if not isinstance(filename, str) or not filename:
            self.problem("node has no file name", hint="choose the notebook or script in the node's properties",
                         field_=prefix + "filename", **where)
            filename = ""
        if not label:
            label = node_id
            where["label"] = label
        image = props.get("runtime_image") or defaults.get("runtime_image") or ""
        if not isinstance(image, str):
            self.problem("runtime image must be a string", field_=prefix + "runtime_image", **where)
            image = ""
        node_env = self._env_list(props.get("env_vars"), prefix + "env_vars", where, from_defaults=False,
                                  version=version)
        default_env = self._env_list(defaults.get("env_vars"), "pipeline_defaults.env_vars", where,
                                     from_defaults=True, version=version)
        secrets = self._secrets(props.get("kubernetes_secrets"), prefix + "kubernetes_secrets", where)
        node_secret_names = {s.name for s in secrets}
        for secret in self._secrets(defaults.get("kubernetes_secrets"), "pipeline_defaults.kubernetes_secrets", where):
            if secret.name not in node_secret_names:
                secrets.append(secret)
        # pipeline_defaults merge (Elyra propagate_pipeline_default_properties): node entries win
        # by name; an env var named like a secret env var yields to the secret.
        own = {e.name for e in node_env}
        env = [*node_env, *(e for e in default_env if e.name not in own)]
        secret_names = {s.name for s in secrets}
        env = [e for e in env if e.name not in secret_names]
        kubernetes = self._kubernetes(props, defaults, prefix, where)
        kind = _GENERIC_OPS[op]
        by_file = _KIND_OF_SUFFIX.get(Path(filename).suffix) if filename else None
        if by_file is not None and by_file is not kind:
            self.note(f"{_KIND_WORDS[kind]} node's file {shown(filename)} runs as {_KIND_WORDS[by_file]}, "
                      "as Elyra's bootstrapper runs a node by its file's extension",
                      field_=prefix + "filename", **where)
            kind = by_file
        return Node(
            id=node_id, label=label, kind=kind, filename=filename, runtime_image=image,
            env=tuple(env), secrets=tuple(secrets),
            pipeline_parameters=self._string_list(props.get("pipeline_parameters"), prefix + "pipeline_parameters", where),
            dependencies=self._string_list(props.get("dependencies"), prefix + "dependencies", where),
            include_subdirectories=self._bool(props.get("include_subdirectories"), prefix + "include_subdirectories", where),
            outputs=self._string_list(props.get("outputs"), prefix + "outputs", where),
            resources=Resources(
                cpu=self._number(props.get("cpu"), prefix + "cpu", where),
                gpu=self._gpu(props.get("gpu"), prefix + "gpu", where),
                memory=self._number(props.get("memory"), prefix + "memory", where),
                cpu_limit=self._number(props.get("cpu_limit"), prefix + "cpu_limit", where),
                memory_limit=self._number(props.get("memory_limit"), prefix + "memory_limit", where)),
            kubernetes=kubernetes,
            parents=self._links(raw, where, enclosing),
        )

    def _label(self, app: dict[str, Any]) -> str:
        ui = app.get("ui_data") if isinstance(app.get("ui_data"), dict) else {}
        # Elyra reads ui_data.label first and app_data.label (3.x+) second
        # (elyra v3.15.0 pipeline_definition.py Node.label; v2.2.4 parser.py).
        for value in (ui.get("label"), app.get("label")):
            if isinstance(value, str) and value.strip():
                return value
        return ""

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
            self.problem("'inputs' must be a list", field_="inputs", **where)
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
                self.problem("'links' must be a list", field_=f"{at}.links", **where)
                continue
            for j, link in enumerate(links):
                ref = link.get("node_id_ref") if isinstance(link, dict) else None
                if not isinstance(ref, str) or not ref:
                    self.problem("link has no node_id_ref", field_=f"{at}.links[{j}]", **where)
                    continue
                port_ref = link.get("port_id_ref")
                if ref in self._bindings:
                    continue  # a supernode's port inside its pipeline; the supernode links it
                if isinstance(port_ref, str) and port_ref.endswith(_SUPER_OUT):
                    ref = port_ref[:-len(_SUPER_OUT)]
                if ref not in parents:
                    parents.append(ref)
        return tuple(parents)

    def _env_list(self, raw: Any, at: str, where: dict[str, Any], *, from_defaults: bool,
                  version: int) -> list[EnvSetting]:
        """env_vars as "NAME=value" strings (v3–v7) or {"env_var", "value"} objects (v8).

        Name and value are stripped as the Elyra that writes the format strips them (see
        _ELYRA2_STRIP); a warning names the entry when that changed the text. An entry without
        a value stays, as a run parameter with an empty default (Elyra 2.x passes it as "").
        """
        if raw in (None, ""):
            return []
        if not isinstance(raw, list):
            self.problem("env_vars must be a list", field_=at, **where)
            return []
        strip = _ELYRA2_STRIP if version < 4 else None  # None: str.strip()'s whitespace
        result: list[EnvSetting] = []
        for index, entry in enumerate(raw):
            field_ = f"{at}[{index}]"
            if entry is None or entry == "":
                continue  # an empty row left by the editor: there is nothing in it to keep
            if isinstance(entry, str):
                if "=" not in entry:
                    self.problem(f"env var {shown(entry)} has no '='", hint="write NAME=value",
                                 field_=field_, **where)
                    continue
                name, value = entry.split("=", 1)
                written = entry
            elif isinstance(entry, dict):
                name = entry.get("env_var")
                value = entry.get("value", "")
                if not isinstance(name, str):
                    self.problem("env var entry has no 'env_var' name", field_=field_, **where)
                    continue
                text = self._scalar_text(value)
                if text is None:
                    self.problem(f"value of env var {name!r} must be a string, got {type(value).__name__}",
                                 field_=field_ + ".value", **where)
                    continue
                value = text
                written = None
            else:
                self.problem(f"env var entry must be 'NAME=value' or an object, got {type(entry).__name__}",
                             field_=field_, **where)
                continue
            read_name, read_value = name.strip(strip), value.strip(strip)
            if (read_name, read_value) != (name, value):
                shown_as = shown(written) if written is not None else f"{shown(name)} = {shown(value)}"
                stripped = "spaces and quotes" if strip else "surrounding whitespace"
                self.note(f"env var {shown_as} is read as name {shown(read_name)}, value {shown(read_value)}: Elyra strips "
                          f"{stripped} from the name and the value", field_=field_, **where)
            result.append(EnvSetting(name=read_name, value=read_value, from_defaults=from_defaults,
                                     field=field_))
        return result

    @staticmethod
    def _scalar_text(value: Any) -> str | None:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and math.isfinite(value):
            return repr(value)
        return None

    def _secrets(self, raw: Any, at: str, where: dict[str, Any]) -> list[SecretEnv]:
        """kubernetes_secrets: "ENV=secret:key" (v4–v7) or {"env_var", "name", "key"} (v8)."""
        if raw in (None, ""):
            return []
        if not isinstance(raw, list):
            self.problem("kubernetes_secrets must be a list", field_=at, **where)
            return []
        result = []
        for index, entry in enumerate(raw):
            field_ = f"{at}[{index}]"
            if entry is None or entry == "":
                continue
            if isinstance(entry, str):
                env, _, rest = entry.partition("=")
                secret, _, key = rest.partition(":")
            elif isinstance(entry, dict):
                env, secret, key = entry.get("env_var"), entry.get("name"), entry.get("key")
            else:
                env = secret = key = None
            if not all(isinstance(x, str) and x for x in (env, secret, key)):
                self.problem("secret entry must give env var, secret name and key",
                             hint="write ENV=secret-name:key", field_=field_, **where)
                continue
            result.append(SecretEnv(name=str(env), secret=str(secret), key=str(key)))
        return result

    def _kubernetes(self, props: dict[str, Any], defaults: dict[str, Any], prefix: str,
                    where: dict[str, Any]) -> Kubernetes:
        """Volumes, tolerations, pod annotations/labels and /dev/shm size (Elyra 3.8+).

        v4-v7 write list entries as strings ("/path=pvc", "id=key:op:value:effect", "key=value"),
        v8 as objects. Pipeline defaults are merged in with node entries winning by key.
        """
        def merged(name: str, parse, key) -> tuple:
            own = [x for x in parse(props.get(name), prefix + name) if x is not None]
            seen = {key(x) for x in own}
            extra = [x for x in parse(defaults.get(name), f"pipeline_defaults.{name}") if x is not None]
            return tuple(own + [x for x in extra if key(x) not in seen])

        def entries(raw: Any, at: str) -> list[tuple[str, Any]]:
            if raw in (None, "", []):
                return []
            if not isinstance(raw, list):
                self.problem("must be a list", field_=at, **where)
                return []
            return [(f"{at}[{i}]", e) for i, e in enumerate(raw) if e not in (None, "")]

        def volumes(raw: Any, at: str) -> list[Volume | None]:
            result: list[Volume | None] = []
            for field_, e in entries(raw, at):
                if isinstance(e, str) and "=" in e:
                    path, pvc = e.split("=", 1)
                    result.append(Volume(path=mount_path(path, field_), pvc=pvc.strip()))
                elif isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("pvc_name"), str):
                    sub = e.get("sub_path") or ""
                    result.append(Volume(path=mount_path(e["path"], field_), pvc=e["pvc_name"].strip(),
                                         sub_path=sub.strip() if isinstance(sub, str) else "",
                                         read_only=e.get("read_only") is True))
                else:
                    self.problem("volume must give a mount path and a PVC name", hint="write /path=pvc-name",
                                 field_=field_, **where)
            return result

        def mount_path(path: str, field_: str) -> str:
            """Elyra mounts at "/" + path.strip("/") after stripping whitespace (elyra v3.11.0
            elyra/pipeline/pipeline_definition.py:419; v3.15.0 elyra/pipeline/properties.py:210
            and 733; v4.1.1 properties.py:732). An empty path stays empty (refused by the checks)."""
            text = path.strip()
            if not text:
                return text
            normal = "/" + text.strip("/")
            if normal != path:
                self.note(f"mount path {shown(path)} is read as {shown(normal)}, as Elyra normalises it",
                          field_=field_, **where)
            return normal

        def tolerations(raw: Any, at: str) -> list[Toleration | None]:
            result: list[Toleration | None] = []
            for field_, e in entries(raw, at):
                if isinstance(e, str) and "=" in e and e.split("=", 1)[1].count(":") == 3:
                    key, operator, value, effect = e.split("=", 1)[1].split(":")
                elif isinstance(e, dict):
                    key, operator, value, effect = (e.get(k, "") for k in ("key", "operator", "value", "effect"))
                else:
                    self.problem("toleration must give key, operator, value and effect", field_=field_, **where)
                    continue
                if not all(isinstance(x, str) for x in (key, operator, value, effect)):
                    self.problem("toleration fields must be strings", field_=field_, **where)
                    continue
                result.append(Toleration(key=key, operator=operator or "Equal", value=value, effect=effect))
            return result

        def pairs(raw: Any, at: str) -> list[tuple[str, str] | None]:
            result: list[tuple[str, str] | None] = []
            for field_, e in entries(raw, at):
                if isinstance(e, str):
                    key, _, value = e.partition("=")
                elif isinstance(e, dict):
                    key, value = e.get("key"), e.get("value", "")
                    value = "" if value is None else value
                else:
                    key = value = None
                if not isinstance(key, str) or not key or not isinstance(value, str):
                    self.problem("entry must give a key and a string value", field_=field_, **where)
                    continue
                result.append((key, value))
            return result

        shm = props.get("kubernetes_shared_mem_size") or defaults.get("kubernetes_shared_mem_size") or {}
        size = None
        if shm:
            at = prefix + "kubernetes_shared_mem_size"
            if not isinstance(shm, dict) or shm.get("units", "G") != "G":
                self.problem("must be {size, units: 'G'}", field_=at, **where)
            else:
                size = self._number(shm.get("size"), at + ".size", where)
        return Kubernetes(
            volumes=merged("mounted_volumes", volumes, lambda v: v.path),
            tolerations=merged("kubernetes_tolerations", tolerations, lambda t: t),
            pod_annotations=merged("kubernetes_pod_annotations", pairs, lambda kv: kv[0]),
            pod_labels=merged("kubernetes_pod_labels", pairs, lambda kv: kv[0]),
            shared_memory_gb=size)

    def _string_list(self, raw: Any, at: str, where: dict[str, Any]) -> tuple[str, ...]:
        if raw in (None, ""):
            return ()
        if not isinstance(raw, list):
            self.problem("must be a list of strings", field_=at, **where)
            return ()
        result = []
        for index, entry in enumerate(raw):
            if entry is None or entry == "":
                continue
            if not isinstance(entry, str):
                self.problem(f"entry must be a string, got {type(entry).__name__}", field_=f"{at}[{index}]", **where)
                continue
            if entry not in result:
                result.append(entry)
        return tuple(result)

    def _bool(self, raw: Any, at: str, where: dict[str, Any]) -> bool:
        if raw is None:
            return False
        if isinstance(raw, bool):
            return raw
        self.problem(f"must be true or false, got {shown(raw)}", field_=at, **where)
        return False

    def _number(self, raw: Any, at: str, where: dict[str, Any]) -> float | None:
        """cpu / memory / gpu: positive finite numbers (Elyra's forms also save numeric strings).

        0 and "" mean "not set": Elyra applies a resource only when its value is truthy
        (kfp-notebook v0.23.0 kfp_notebook/pipeline/_notebook_op.py:234-242 for Elyra 2.x;
        elyra v3.15.0 elyra/templates/kubeflow/v1/python_dsl_template.jinja2:63-70, v4.1.1 the
        same template:63-76, which adds cpu_limit/memory_limit). Strings must be plain ASCII
        decimals: Python's float() would also take '1_0' or '٣'. Negative values stay refused.
        """
        if raw is None or raw == "" or (isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw == 0):
            return None
        value: float | None = None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, (int, float)):
            try:
                value = float(raw)
            except OverflowError:
                value = math.inf
        elif isinstance(raw, str) and _DECIMAL.fullmatch(raw.strip()):
            value = float(raw.strip())
            if value == 0:
                return None
        if value is None or not math.isfinite(value) or value <= 0 or value > MAX_RESOURCE:
            self.problem(f"must be a positive number up to {MAX_RESOURCE:g}, got {shown(raw)}", field_=at, **where)
            return None
        return value

    def _gpu(self, raw: Any, at: str, where: dict[str, Any]) -> int | None:
        value = self._number(raw, at, where)
        if value is None:
            return None
        if not value.is_integer():
            self.problem(f"gpu must be a whole number, got {shown(raw)}",
                         hint="Kubernetes extended resources are integers", field_=at, **where)
            return None
        return int(value)
