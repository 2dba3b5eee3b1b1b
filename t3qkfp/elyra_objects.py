"""Elyra 2.x's in-memory pipeline and runtime configuration → what t3qkfp's own entry points take.

Owns: the one conversion the Elyra adapter (elyra_processor.py) relies on, kept free of Elyra
imports so it is testable and usable without Elyra:
* `from_elyra_pipeline()`: Elyra's parsed `Pipeline`/`Operation` objects (elyra v2.2.4
  elyra/pipeline/pipeline.py) → the Elyra format-3 JSON document that `elyra_reader` reads, plus
  the folder node files are relative to. Going through the JSON (not building the model here)
  means a run or export from Elyra's editor passes the exact reader, checks and messages that
  `t3qkfp.compile` uses on the saved file.
* `runtime_options()`: an Elyra 2.x runtime configuration of schema `kfp` (elyra v2.2.4
  elyra/metadata/schemas/kfp.json) → KFP host, namespace, auth and object storage settings.
Must not: compile, upload or submit (the adapter calls the library for that), or import Elyra.

Two things Elyra's parser loses, recovered here:
* The pipeline's folder. Elyra's editor rewrites node filenames relative to the Jupyter root
  before sending (PipelineEditorWidget.tsx `setNodePathsRelativeToWorkspace`) and sends only
  the file's basename as `source`; its CLI makes them absolute and sends no source. t3qkfp's
  archives and node specs are relative to the pipeline's folder, so `locate_pipeline_file`
  finds the saved .pipeline file among the folders above the node files whose nodes carry the
  same ids (Elyra's node ids are UUIDs) and, as copies keep ids, whose node filenames lead to
  the node files Elyra sent; with no such file, or several equally good ones, it compiles
  Elyra's objects relative to the node files' common folder.
* The node label. `Operation.name` strips the extension when the label equals the file's
  basename, and the parser puts the filename in place of a missing label; `_label` reads the
  label as parsed and leaves it out where it was the filename, so the reader names the node
  as it does for the saved file (the file's stem, Elyra 2.x's own rule).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import UsageError
from .secrecy import refuse_userinfo
from .object_storage import Credentials
from .storage_settings import StorageConfig

log = logging.getLogger("t3qkfp")

FORMAT_VERSION = 3           # what Elyra 1.2–2.x writes (node properties directly in app_data)
PRIMARY_ID = "primary"
MAX_PIPELINE_FILE = 20 * 1024 * 1024   # same bound as elyra_document (the reader): a .pipeline is small JSON
MAX_CANDIDATE_FILES = 200              # .pipeline files examined when Elyra sent no source name
# Elyra 2.x's cos_secret holds these keys (docs/source/user_guide/runtime-conf.md, v2.2.4;
# kfp.aws.use_aws_secret's defaults), not KFP MinIO's accesskey/secretkey.
ELYRA_SECRET_ACCESS_KEY = "AWS_ACCESS_KEY_ID"
ELYRA_SECRET_SECRET_KEY = "AWS_SECRET_ACCESS_KEY"


@dataclass(frozen=True, slots=True, kw_only=True)
class ElyraSource:
    """What t3qkfp compiles for a pipeline handed over by Elyra: the JSON document and its folder."""

    document: dict[str, Any]
    base_dir: Path
    located: bool  # False: the .pipeline file was not found and base_dir is the node files' common folder
    file: Path | None = None  # the saved .pipeline file holding these nodes, when found
    name: str = "<Elyra pipeline>"  # how messages name the pipeline file (see pipeline_file_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeOptions:
    """t3qkfp's settings for one Elyra runtime configuration; credentials stay out of repr."""

    name: str
    host: str
    namespace: str | None
    username: str | None = None
    password: str | None = None  # Dex login, used only to get a session cookie
    storage: StorageConfig
    upload_credentials: Credentials | None  # None: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the server

    def __repr__(self) -> str:
        return (f"RuntimeOptions(name={self.name!r}, host={self.host!r}, namespace={self.namespace!r}, "
                f"username={self.username!r}, storage={self.storage!r})")


# ---- pipeline ------------------------------------------------------------------------------
def from_elyra_pipeline(pipeline: Any, *, root_dir: str | os.PathLike[str],
                        pipeline_dir: str | os.PathLike[str] | None = None,
                        likely_files: Iterable[str | os.PathLike[str]] = ()) -> ElyraSource:
    """Elyra 2.x's parsed pipeline → the format-3 document t3qkfp's reader reads, and its folder.

    `pipeline` is an `elyra.pipeline.Pipeline` (anything with the same attributes works):
    `name`, `runtime`, `runtime_config`, `source`, `operations` {id: Operation}. Node
    filenames are taken relative to `root_dir` (Elyra's Jupyter root) unless absolute.
    `pipeline_dir`, when known, skips the search for the saved file. `likely_files` (relative
    to `root_dir` unless absolute; e.g. the .pipeline file next to an export) are tried before
    the search, and used only if they hold these nodes.
    """
    root = Path(root_dir).expanduser().absolute()
    operations = list(getattr(pipeline, "operations", {}).values())
    files = {op.id: _absolute(root, op.filename) for op in operations}
    source = getattr(pipeline, "source", None)
    source = source if isinstance(source, str) and source else None
    node_ids = {op.id for op in operations}
    found: Path | None = None
    if pipeline_dir is not None:
        base, located = Path(os.path.normpath(root / Path(pipeline_dir))), True
        if source and (base / os.path.basename(source)).is_file():
            found = base / os.path.basename(source)
    else:
        first = [Path(os.path.normpath(root / Path(f).expanduser())) for f in likely_files]
        if source:  # Elyra's `source` may be the path relative to its root, or the basename only
            first.append(Path(os.path.normpath(root / source)))
        match = locate_pipeline_file(files, source=source, node_ids=node_ids, first=first)
        found = match.file
        if found is not None:
            base, located = found.parent, True
        elif match.tied:
            base, located = _tied_folder(match.tied, files, source, root)
        else:
            base, located = _common_folder(files, source)
    nodes = [_node(op, base, files[op.id]) for op in operations]
    app_data: dict[str, Any] = {"version": FORMAT_VERSION, "name": pipeline.name}
    for key, attr in (("runtime", "runtime"), ("runtime-config", "runtime_config"), ("source", "source")):
        value = getattr(pipeline, attr, None)
        if value:
            app_data[key] = value
    document = {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/"
                       "pipeline-flow-v3-schema.json",
        "id": "elyra-pipeline",
        "primary_pipeline": PRIMARY_ID,
        "pipelines": [{"id": PRIMARY_ID, "nodes": nodes, "app_data": app_data, "runtime_ref": ""}],
        "schemas": [],
    }
    return ElyraSource(document=document, base_dir=base, located=located, file=found,
                       name=pipeline_file_name(root, found, source=source,
                                               pipeline_name=getattr(pipeline, "name", None)))


def pipeline_file_name(root: Path, file: Path | None, *, source: str | None,
                       pipeline_name: str | None) -> str:
    """How messages name a pipeline from Elyra: the saved file relative to Elyra's root when found
    under it (absolute otherwise); else Elyra's `source`; else `<name>.pipeline` (Elyra's CLI
    names a pipeline after its file's stem and sends no source)."""
    if file is not None:
        file = Path(os.path.normpath(file))
        return file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
    if source:
        return source
    return f"{pipeline_name}.pipeline" if pipeline_name else "<Elyra pipeline>"


def _absolute(root: Path, filename: Any) -> str:
    """The node file as an absolute path, textually (not normalised: its folders are candidates)."""
    if not isinstance(filename, str) or not filename:
        return ""
    path = Path(filename).expanduser()
    return str(path if path.is_absolute() else root / path)


def _node(op: Any, base: Path, absolute: str) -> dict[str, Any]:
    """One Operation as a format-3 node (properties directly in app_data, as Elyra 2.x saves them)."""
    filename = (Path(os.path.relpath(os.path.normpath(absolute), base)).as_posix()
                if absolute else op.filename)
    app: dict[str, Any] = {
        "filename": filename,
        "runtime_image": op.runtime_image,
        "env_vars": list(op.env_vars or ()),
        "dependencies": list(op.dependencies or ()),
        "include_subdirectories": op.include_subdirectories,
        "outputs": list(op.outputs or ()),
    }
    for key in ("cpu", "gpu", "memory"):
        value = getattr(op, key, None)
        if value is not None:
            app[key] = value
    label = _label(op)
    if label:
        app["ui_data"] = {"label": label}
    links = [{"id": f"{parent}-{op.id}", "node_id_ref": parent, "port_id_ref": "outPort"}
             for parent in (op.parent_operations or ())]
    return {"id": op.id, "type": getattr(op, "type", None) or "execution_node", "op": op.classifier,
            "app_data": app, "inputs": [{"id": "inPort", "links": links}],
            "outputs": [{"id": "outPort"}]}


def _label(op: Any) -> str:
    """The label as Elyra parsed it, or "" where the parser used the filename for a missing label.

    elyra v2.2.4 `Operation` keeps it in `_name`; its `name` property strips the extension when
    it equals the file's basename (and rewrites `_name`), which is Elyra's display rule for the
    missing-label case. A label typed exactly like the full filename is taken as missing too.
    """
    raw = getattr(op, "_name", None)
    if not isinstance(raw, str):
        raw = getattr(op, "name", "") or ""
    if raw == op.filename or raw == os.path.basename(op.filename or ""):
        return ""
    return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedFileMatch:
    """Which saved .pipeline file holds the nodes Elyra sent: `file`, or the equally good `tied` ones."""

    file: Path | None
    tied: tuple[Path, ...] = ()  # more than one file fits as well as any other: none is chosen


def locate_pipeline_file(files: Mapping[str, str], *, source: str | None, node_ids: Iterable[str],
                         first: Iterable[Path] = ()) -> SavedFileMatch:
    """The saved .pipeline file holding these nodes: `first` tried in order, then searched above
    the node files (the file named like `source` in each folder, or every *.pipeline without one).

    Copies of a pipeline keep its node ids, so ids alone do not decide: a candidate *agrees* when
    each node's filename, taken relative to the candidate's folder, is the absolute node file
    Elyra sent (`files`). The first agreeing `first` file wins; else the one agreeing candidate;
    else, when none agrees (the editor sends unsaved edits), the one candidate holding the ids.
    Several equally good candidates are `tied` and none is chosen: the caller compiles from
    Elyra's objects rather than name or lay out the wrong file.
    """
    wanted = set(node_ids)
    if not wanted:
        return SavedFileMatch(file=None)
    sent = {node_id: os.path.normpath(file) for node_id, file in files.items() if file}
    holders: list[Path] = []
    agreeing: list[Path] = []
    tried: set[Path] = set()

    def consider(path: Path) -> bool:
        """Record `path` as a holder (and agreeing) candidate; True when it agrees."""
        tried.add(path)
        saved = _node_files(path)
        if not wanted <= saved.keys():
            return False
        holders.append(path)
        agrees = all(saved[i] is not None and
                     os.path.normpath(path.parent / saved[i]) == file for i, file in sent.items())
        if agrees:
            agreeing.append(path)
        return agrees

    for path in first:
        if path not in tried and path.suffix == ".pipeline" and consider(path):
            return SavedFileMatch(file=path)
    examined = 0
    for folder in _candidate_dirs(files.values()):
        if source:
            paths = [folder / os.path.basename(source)]
        else:
            try:
                paths = sorted(folder.glob("*.pipeline"))
            except OSError:
                continue
        for path in paths:
            if examined >= MAX_CANDIDATE_FILES:
                break
            examined += 1
            if path not in tried:
                consider(path)
    best = agreeing or holders
    if len(best) == 1:
        return SavedFileMatch(file=best[0])
    return SavedFileMatch(file=None, tied=tuple(best))


def _common_folder(files: Mapping[str, str], source: str | None, *,
                   quiet: bool = False) -> tuple[Path, bool]:
    """The node files' common folder, for when the saved file was not found (logged unless quiet)."""
    parents = [os.path.dirname(os.path.normpath(f)) for f in files.values() if f]
    fallback = Path(os.path.commonpath(parents)) if parents else Path.cwd()
    if quiet:
        return fallback, False
    log.warning("t3qkfp: the saved pipeline file (%s) was not found above the node files; "
                "node files are taken relative to %s", source or "*.pipeline", fallback)
    return fallback, False


def _tied_folder(tied: Iterable[Path], files: Mapping[str, str], source: str | None,
                 root: Path) -> tuple[Path, bool]:
    """Several saved files fit equally (logged): their one folder when they share it, else the
    node files' common folder; the pipeline is compiled from Elyra's objects, named after none."""
    tied = list(tied)
    shown = ", ".join(pipeline_file_name(root, path, source=None, pipeline_name=None) for path in tied)
    folders = {path.parent for path in tied}
    if len(folders) == 1:
        log.warning("t3qkfp: the nodes Elyra sent fit several saved pipeline files equally (%s); "
                    "compiling what Elyra sent, node files relative to %s", shown, tied[0].parent)
        return tied[0].parent, False
    log.warning("t3qkfp: the nodes Elyra sent fit several saved pipeline files equally (%s); "
                "compiling what Elyra sent", shown)
    return _common_folder(files, source, quiet=True)


def _candidate_dirs(files: Iterable[str]) -> list[Path]:
    """Folders above each node file, nearest first, including the ones a '..' in its path passes."""
    seen: dict[str, None] = {}
    for file in files:
        if not file:
            continue
        folder = Path(file).parent
        while True:
            seen.setdefault(os.path.normpath(folder), None)
            if folder.parent == folder:
                break
            folder = folder.parent
    ordered = sorted(seen, key=lambda d: -len(Path(d).parts))  # deepest first, stable
    return [Path(d) for d in ordered]


def _node_files(path: Path) -> dict[str, str | None]:
    """Node id → the node's filename as saved (format 3 app_data, or component_parameters of
    later formats; None when absent) for every node of a .pipeline file; empty when it is not
    a readable pipeline document."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_PIPELINE_FILE:
            return {}
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return {}
    nodes: dict[str, str | None] = {}
    for pipeline in doc.get("pipelines", []) if isinstance(doc, dict) else []:
        for node in pipeline.get("nodes", []) if isinstance(pipeline, dict) else []:
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                app = node.get("app_data") if isinstance(node.get("app_data"), dict) else {}
                params = app.get("component_parameters")
                filename = (params if isinstance(params, dict) else app).get("filename")
                nodes[node["id"]] = filename if isinstance(filename, str) and filename else None
    return nodes


# ---- runtime configuration -----------------------------------------------------------------
def runtime_options(name: str, metadata: Mapping[str, Any], *,
                    env: Mapping[str, str] | None = None) -> RuntimeOptions:
    """An Elyra 2.x `kfp` runtime configuration → t3qkfp's KFP and object storage settings.

    api_endpoint → host; user_namespace → namespace; api_username/api_password → Dex login
    (both or neither, as Elyra does); cos_endpoint/cos_bucket → storage endpoint/bucket;
    cos_secret → the Kubernetes secret pods read (keys AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
    as Elyra documents it); cos_username/cos_password → the keys this server uploads with.
    Refuses (UsageError) a configuration with storage credentials but no cos_secret: t3qkfp
    never writes credentials into a workflow, and Elyra would have.
    """
    where = f"Elyra runtime configuration {name!r}"
    host = (metadata.get("api_endpoint") or "").strip()
    if not host:
        raise UsageError(f"{where} has no Kubeflow Pipelines API endpoint (api_endpoint)")
    refuse_userinfo(host, f"{where}: api_endpoint",
                    "enter them as api_username / api_password of the runtime configuration")
    cos_endpoint = metadata.get("cos_endpoint")
    if isinstance(cos_endpoint, str):
        refuse_userinfo(cos_endpoint, f"{where}: cos_endpoint",
                        "enter them as cos_username / cos_password and name the Kubernetes secret pods "
                        "read as cos_secret")
    engine = metadata.get("engine") or "Argo"
    if engine != "Argo":
        raise UsageError(f"{where} uses the {engine} engine; t3qkfp compiles Argo workflows for "
                         "Kubeflow Pipelines 1.2: choose engine 'Argo', or set T3QKFP_ELYRA_DISABLE=1 "
                         "and restart Jupyter to use Elyra's own processor")
    access, secret_key = metadata.get("cos_username") or None, metadata.get("cos_password") or None
    cos_secret = (metadata.get("cos_secret") or "").strip() or None
    if (access or secret_key) and not cos_secret:
        raise UsageError(
            f"{where} has object storage credentials (cos_username/cos_password) but no Kubernetes "
            "secret (cos_secret); t3qkfp never writes credentials into a workflow. Create the secret "
            "in the namespace your runs use, e.g. `kubectl -n <namespace> create secret generic "
            "<name> --from-literal=AWS_ACCESS_KEY_ID=<cos_username> "
            "--from-literal=AWS_SECRET_ACCESS_KEY=<cos_password>`, then enter <name> as "
            "'Cloud Object Storage Credentials Secret' in the runtime configuration (Runtimes panel, "
            f"or `elyra-metadata install runtimes --replace --name={name} ... --cos_secret=<name>`)")
    storage = StorageConfig.resolve(endpoint=metadata.get("cos_endpoint") or None,
                                    bucket=metadata.get("cos_bucket") or None,
                                    secret=cos_secret, env=env)
    if cos_secret:
        storage = replace(storage, access_key_key=ELYRA_SECRET_ACCESS_KEY,
                          secret_key_key=ELYRA_SECRET_SECRET_KEY)
    username = metadata.get("api_username") or None
    password = metadata.get("api_password") or None
    if not (username and password):  # elyra v2.2.4 processor_kfp.py logs in only with both
        username = password = None
    return RuntimeOptions(
        name=name, host=host, namespace=(metadata.get("user_namespace") or None),
        username=username, password=password, storage=storage,
        upload_credentials=(Credentials(access_key=access, secret_key=secret_key)
                            if access and secret_key else None))
