"""The Elyra adapter against real Elyra 2.x code: Elyra's parser, processor manager, metadata and export/run paths.

Elyra is installed by scripts/setup-elyra-env.sh (CI runs it); without Elyra these tests skip
and say so. Elyra's own objects are built exactly as its editor and CLI build them: the editor
sends the pipeline with node paths relative to the Jupyter root and the file's basename as
`source` (elyra v2.2.4 PipelineEditorWidget.tsx); the CLI sends absolute node paths and no
source (elyra/cli/pipeline_app.py).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp.elyra_objects import from_elyra_pipeline, runtime_options
from t3qkfp.errors import PipelineError, T3qkfpError, UsageError
from t3qkfp.storage_settings import StorageConfig

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "churn"
PIPELINE_FILE = "churn-elyra2.pipeline"
RUNTIME = "test-kfp"
SECRET = "my-cos-secret"


def _import_elyra():
    """Elyra 2.x's modules, or None. jsonschema 4 deprecates a name elyra/metadata/manager.py imports."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*draft7_format_checker")
        try:
            import elyra
            import elyra.pipeline  # noqa: F401
        except ImportError:
            return None
    return elyra


elyra = _import_elyra()
needs_elyra = pytest.mark.skipif(
    elyra is None or not str(getattr(elyra, "__version__", "")).startswith("2."),
    reason="Elyra 2.x is not installed in this environment: run scripts/setup-elyra-env.sh .venv")

if elyra is not None:
    import entrypoints
    from elyra.metadata import Metadata, MetadataManager
    from elyra.pipeline import PipelineParser, PipelineProcessorManager, PipelineProcessorRegistry
    from elyra.pipeline.processor_kfp import KfpPipelineProcessor

    from elyra.util.http import HttpErrorMixin

    from t3qkfp.elyra_processor import ElyraAdapterError, T3qkfpProcessor


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A Jupyter root with the example pipeline in a sub-folder, and no stray t3qkfp settings."""
    root = tmp_path / "jupyter-root"
    shutil.copytree(EXAMPLE, root / "projects" / "churn", ignore=shutil.ignore_patterns("churn.pipeline"))
    path = root / "projects" / "churn" / PIPELINE_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    # One node without a label: Elyra 2.x and t3qkfp both name it after the file's stem.
    del doc["pipelines"][0]["nodes"][2]["app_data"]["ui_data"]["label"]
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    for var in [v for v in os.environ if v.startswith(("T3QKFP_", "AWS_"))]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def registry(monkeypatch):
    """Elyra's processor singletons as a new Jupyter server starts them (the registry dict lives on the class)."""
    monkeypatch.setattr(PipelineProcessorRegistry, "_processors", {})
    PipelineProcessorManager.clear_instance()
    PipelineProcessorRegistry.clear_instance()
    yield
    PipelineProcessorManager.clear_instance()
    PipelineProcessorRegistry.clear_instance()


def make_runtime(name: str = RUNTIME, **metadata: str) -> None:
    """A `kfp` runtime configuration saved through Elyra's own MetadataManager (schema-validated)."""
    values = {"api_endpoint": "http://127.0.0.1:9/pipeline", "cos_endpoint": "http://127.0.0.1:9",
              "cos_username": "minio-user", "cos_password": "minio-password", "cos_bucket": "elyra-test",
              "cos_secret": SECRET}
    values.update(metadata)
    values = {k: v for k, v in values.items() if v is not None}
    MetadataManager(namespace=MetadataManager.NAMESPACE_RUNTIMES).create(
        name, Metadata(name=name, display_name=name, schema_name="kfp", metadata=values))


def editor_document(root: Path, *, name: str | None = None) -> dict:
    """The JSON Elyra 2.x's editor posts for Run/Export: node paths relative to the Jupyter root."""
    path = root / "projects" / "churn" / PIPELINE_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    folder = path.parent.relative_to(root).as_posix()
    for node in doc["pipelines"][0]["nodes"]:
        node["app_data"]["filename"] = f"{folder}/{node['app_data']['filename']}"
    doc["pipelines"][0]["app_data"].update({
        "name": name or path.stem, "runtime": "kfp", "runtime-config": RUNTIME, "source": path.name})
    return doc


def cli_document(root: Path) -> dict:
    """The JSON `elyra-pipeline submit` builds: absolute node paths, name = file stem, no source."""
    path = root / "projects" / "churn" / PIPELINE_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    for node in doc["pipelines"][0]["nodes"]:
        node["app_data"]["filename"] = os.path.join(str(path.parent), node["app_data"]["filename"])
    doc["pipelines"][0]["app_data"].update({"name": path.stem, "runtime": "kfp", "runtime-config": RUNTIME})
    return doc


def manager(root: Path):
    """Elyra's PipelineProcessorManager, as Elyra's server extension creates it."""
    return PipelineProcessorManager.instance(root_dir=str(root))


def expected_storage(endpoint: str, bucket: str) -> StorageConfig:
    """What an Elyra runtime with cos_secret means for t3qkfp (Elyra's secret holds AWS_* keys)."""
    return StorageConfig(endpoint=endpoint, bucket=bucket, secret=SECRET,
                         access_key_key="AWS_ACCESS_KEY_ID", secret_key_key="AWS_SECRET_ACCESS_KEY")


def ordered_entry_points(monkeypatch, t3qkfp_first: bool) -> None:
    """Make entrypoints list t3qkfp's processor before or after Elyra's own (normally undefined)."""
    real = entrypoints.get_group_all("elyra.pipeline.processors")
    ours = [ep for ep in real if ep.module_name == "t3qkfp.elyra_processor"][:1]
    theirs = [ep for ep in real if ep.module_name != "t3qkfp.elyra_processor"]
    assert ours and any(ep.module_name == "elyra.pipeline.processor_kfp" for ep in theirs), real
    order = ours + theirs if t3qkfp_first else theirs + ours
    monkeypatch.setattr(entrypoints, "get_group_all", lambda group, path=None: list(order))


# ---- discovery -----------------------------------------------------------------------------
@needs_elyra
def test_elyra_finds_t3qkfp_for_kfp_through_its_entry_point(workspace, registry):
    names = {(ep.name, ep.module_name) for ep in entrypoints.get_group_all("elyra.pipeline.processors")}
    assert ("t3qkfp", "t3qkfp.elyra_processor") in names
    pipeline = PipelineParser().parse(editor_document(workspace))
    processor = manager(workspace)._registry.get_processor(pipeline.runtime)
    assert isinstance(processor, T3qkfpProcessor) and processor.type == "kfp"
    assert processor.root_dir == str(workspace)
    # Elyra's other runtimes are untouched.
    assert type(manager(workspace)._registry.get_processor("local")).__name__ == "LocalPipelineProcessor"


@pytest.mark.parametrize("t3qkfp_first", [True, False], ids=["t3qkfp-first", "elyra-first"])
@needs_elyra
def test_t3qkfp_wins_whatever_the_entry_point_order(workspace, registry, monkeypatch, t3qkfp_first):
    ordered_entry_points(monkeypatch, t3qkfp_first)
    assert isinstance(manager(workspace)._registry.get_processor("kfp"), T3qkfpProcessor)


@pytest.mark.parametrize("t3qkfp_first", [True, False], ids=["t3qkfp-first", "elyra-first"])
@needs_elyra
def test_disable_env_gives_kfp_back_to_elyra(workspace, registry, monkeypatch, t3qkfp_first):
    monkeypatch.setenv("T3QKFP_ELYRA_DISABLE", "1")
    ordered_entry_points(monkeypatch, t3qkfp_first)
    assert isinstance(manager(workspace)._registry.get_processor("kfp"), KfpPipelineProcessor)


@needs_elyra
def test_elyra_imports_in_a_fresh_interpreter_of_this_venv():
    """The .pth file of setup-elyra-env.sh lets Elyra import beside minio 7, with nothing done by hand."""
    code = ("import warnings; warnings.simplefilter('ignore', DeprecationWarning)\n"
            "import minio, elyra.pipeline.processor\nprint(minio.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().split(".")[0]) >= 7


# ---- conversion ----------------------------------------------------------------------------
@pytest.mark.parametrize("document", [editor_document, cli_document], ids=["editor", "cli"])
@needs_elyra
def test_elyra_objects_read_back_as_the_saved_file(workspace, document):
    pipeline = PipelineParser().parse(document(workspace))
    source = from_elyra_pipeline(pipeline, root_dir=workspace)
    saved = workspace / "projects" / "churn" / PIPELINE_FILE
    assert source.located and source.base_dir == saved.parent
    assert t3qkfp.load(source.document, base_dir=source.base_dir).nodes == t3qkfp.load(saved).nodes


@needs_elyra
def test_without_the_saved_file_the_node_files_common_folder_is_used(workspace, caplog):
    pipeline = PipelineParser().parse(editor_document(workspace))
    (workspace / "projects" / "churn" / PIPELINE_FILE).unlink()
    source = from_elyra_pipeline(pipeline, root_dir=workspace)
    assert not source.located and source.base_dir == workspace / "projects" / "churn"
    assert "was not found" in caplog.text


def sent_by_elyra(root: Path, saved: Path, form: str) -> dict:
    """What Elyra's editor ("editor") or CLI ("cli") sends for the saved file `saved` (see above)."""
    doc = json.loads(saved.read_text(encoding="utf-8"))
    for node in doc["pipelines"][0]["nodes"]:
        absolute = os.path.join(str(saved.parent), node["app_data"]["filename"])
        node["app_data"]["filename"] = (os.path.relpath(absolute, root) if form == "editor" else absolute)
    doc["pipelines"][0]["app_data"].update({"name": saved.stem, "runtime": "kfp", "runtime-config": RUNTIME})
    if form == "editor":
        doc["pipelines"][0]["app_data"]["source"] = saved.name
    return doc


def copy_pipeline(saved: Path, copy: Path, *, node_folder: str | None) -> Path:
    """A copy of `saved` at `copy` with the same node ids. node_folder: the copy's nodes use the node
    files copied into that folder (beside `saved`); None: the very same node files as `saved`."""
    doc = json.loads(saved.read_text(encoding="utf-8"))
    prefix = os.path.relpath(saved.parent, copy.parent)
    if node_folder:
        shutil.copytree(saved.parent, saved.parent / node_folder,
                        ignore=shutil.ignore_patterns("*.pipeline", node_folder))
        prefix = os.path.join(prefix, node_folder)
    for node in doc["pipelines"][0]["nodes"]:
        node["app_data"]["filename"] = os.path.normpath(os.path.join(prefix, node["app_data"]["filename"]))
    copy.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return copy


@pytest.mark.parametrize("form", ["editor", "cli"])
@needs_elyra
def test_copies_with_the_same_node_ids_are_told_apart_by_the_node_files(workspace, form):
    """A copy one folder up (same name, same node ids) whose nodes use other node files: each
    pipeline Elyra sends is matched to its own saved file, named in problems and laid out from it."""
    saved = workspace / "projects" / "churn" / PIPELINE_FILE
    copy = copy_pipeline(saved, workspace / "projects" / PIPELINE_FILE, node_folder="v0")
    for own in (saved, copy):
        pipeline = PipelineParser().parse(sent_by_elyra(workspace, own, form))
        source = from_elyra_pipeline(pipeline, root_dir=workspace)
        assert source.located and source.file == own and source.base_dir == own.parent
        assert source.name == own.relative_to(workspace).as_posix()
        assert t3qkfp.load(source.document, base_dir=source.base_dir).nodes == t3qkfp.load(own).nodes
    # Problems in the copy are reported against the copy, not the original below it.
    doc = json.loads(copy.read_text(encoding="utf-8"))
    doc["pipelines"][0]["nodes"][0]["app_data"]["env_vars"].append("1BAD=x")
    copy.write_text(json.dumps(doc), encoding="utf-8")
    source = from_elyra_pipeline(PipelineParser().parse(sent_by_elyra(workspace, copy, form)), root_dir=workspace)
    with pytest.raises(PipelineError) as info:
        t3qkfp.load(source.document, base_dir=source.base_dir, source=source.name)
    assert {p.location.file for p in info.value.problems} == {f"projects/{PIPELINE_FILE}"}


@pytest.mark.parametrize("form, copy_at", [("cli", "projects/churn/churn-copy.pipeline"),
                                           ("editor", f"projects/{PIPELINE_FILE}")],
                         ids=["same-folder", "folder-above"])
@needs_elyra
def test_equally_fitting_copies_compile_what_elyra_sent(workspace, caplog, form, copy_at):
    """Copies using the very same node files fit equally: none is named; Elyra's objects are compiled."""
    saved = workspace / "projects" / "churn" / PIPELINE_FILE
    copy = copy_pipeline(saved, workspace / copy_at, node_folder=None)
    pipeline = PipelineParser().parse(sent_by_elyra(workspace, saved, form))
    source = from_elyra_pipeline(pipeline, root_dir=workspace)
    assert source.file is None and not source.located
    assert source.base_dir == saved.parent and source.name == PIPELINE_FILE
    assert t3qkfp.load(source.document, base_dir=source.base_dir).nodes == t3qkfp.load(saved).nodes
    assert "fit several saved pipeline files equally" in caplog.text
    assert copy.relative_to(workspace).as_posix() in caplog.text


# ---- export --------------------------------------------------------------------------------
def export(root: Path, doc: dict, fmt: str, path: str, overwrite: bool) -> str:
    pipeline = PipelineParser().parse(doc)
    return asyncio.run(manager(root).export(pipeline, fmt, path, overwrite))


@pytest.mark.parametrize("document", [editor_document, cli_document], ids=["editor", "cli"])
@needs_elyra
def test_export_writes_what_t3qkfp_compile_writes(workspace, registry, tmp_path, document):
    make_runtime(cos_endpoint="http://minio.example:9000", cos_bucket="elyra-bucket")
    target = "projects/churn/churn-elyra2.yaml"  # where Elyra's editor exports
    assert export(workspace, document(workspace), "yaml", target, False) == target
    expected = tmp_path / "expected.yaml"
    workflow = t3qkfp.compile(workspace / "projects" / "churn" / PIPELINE_FILE, expected,
                              storage=expected_storage("http://minio.example:9000", "elyra-bucket"),
                              deterministic=True)
    assert (workspace / target).read_bytes() == expected.read_bytes()
    assert {p["name"] for p in workflow["spec"]["arguments"]["parameters"]} >= {"EPOCHS", "SEED", "THRESHOLD"}


@needs_elyra
def test_export_overwrite_like_elyra(workspace, registry):
    make_runtime()
    target = workspace / "out.yaml"
    target.write_text("old")
    with pytest.raises(ElyraAdapterError) as caught:
        export(workspace, editor_document(workspace), "yaml", "out.yaml", False)
    assert isinstance(caught.value.error, UsageError) and "already exists" in caught.value.format_message()
    assert target.read_text() == "old"
    export(workspace, editor_document(workspace), "yaml", "out.yaml", True)
    assert target.read_text().startswith("apiVersion: argoproj.io/v1alpha1")


@needs_elyra
def test_export_packages_and_refused_formats(workspace, registry, tmp_path):
    make_runtime()
    export(workspace, editor_document(workspace), "tar.gz", "churn.tar.gz", False)
    expected = tmp_path / "expected.tar.gz"
    t3qkfp.compile(workspace / "projects" / "churn" / PIPELINE_FILE, expected,
                   storage=expected_storage("http://127.0.0.1:9", "elyra-test"), deterministic=True)
    assert (workspace / "churn.tar.gz").read_bytes() == expected.read_bytes()
    with pytest.raises(ElyraAdapterError) as caught:
        export(workspace, editor_document(workspace), "py", "churn.py", False)
    assert isinstance(caught.value.error, UsageError)
    assert "not a Python DSL script" in caught.value.format_message()
    with pytest.raises(ElyraAdapterError) as caught:
        export(workspace, editor_document(workspace), "yaml", "churn.json", False)
    assert "must end with" in caught.value.format_message()
    assert not (workspace / "churn.py").exists()


@needs_elyra
def test_credentials_without_a_secret_are_refused_with_how_to_add_one(workspace, registry):
    make_runtime(cos_secret=None)
    with pytest.raises(ElyraAdapterError) as caught:
        export(workspace, editor_document(workspace), "yaml", "x.yaml", False)
    assert isinstance(caught.value.error, UsageError)
    text = caught.value.format_message()
    assert "cos_secret" in text and "kubectl" in text and "AWS_ACCESS_KEY_ID=<cos_username>" in text
    assert "minio-password" not in text and not (workspace / "x.yaml").exists()


def test_runtime_options_map_elyra_fields():
    options = runtime_options("rt", {
        "api_endpoint": "https://kf.example/pipeline", "user_namespace": "alice",
        "api_username": "alice@example.com", "api_password": "pw-secret",
        "cos_endpoint": "https://s3.example", "cos_bucket": "bkt", "cos_username": "ak",
        "cos_password": "sk-secret", "cos_secret": "cos-keys", "engine": "Argo"}, env={})
    assert (options.host, options.namespace, options.username) == (
        "https://kf.example/pipeline", "alice", "alice@example.com")
    assert options.storage == StorageConfig(
        endpoint="https://s3.example", bucket="bkt", secret="cos-keys",
        access_key_key="AWS_ACCESS_KEY_ID", secret_key_key="AWS_SECRET_ACCESS_KEY")
    assert options.upload_credentials.access_key == "ak"
    assert "pw-secret" not in repr(options) and "sk-secret" not in repr(options)
    with pytest.raises(UsageError, match="Tekton"):
        runtime_options("rt", {"api_endpoint": "http://x", "engine": "Tekton", "cos_secret": "s"}, env={})


# ---- run -----------------------------------------------------------------------------------
@needs_elyra
def test_a_multi_user_server_without_a_namespace_names_the_runtime_configuration_field(workspace, registry):
    from kfp_standin import KfpStandin
    from s3server import s3_server

    from t3qkfp.elyra_processor import ElyraAdapterError

    with s3_server() as s3, KfpStandin(multi_user=True, dex_users={"user@example.com": "dex-pw"},
                                      namespaces={"alice"}) as kfp:
        make_runtime(api_endpoint=kfp.url, api_username="user@example.com",
                     api_password="dex-pw", cos_endpoint=s3.endpoint, cos_bucket=s3.bucket,
                     cos_username=s3.credentials.access_key, cos_password=s3.credentials.secret_key)
        pipeline = PipelineParser().parse(editor_document(workspace, name="Churn-Run"))
        with pytest.raises(ElyraAdapterError) as info:
            asyncio.run(manager(workspace).process(pipeline))
    message = info.value.args[0]
    assert "user_namespace in the runtime configuration" in message and "--namespace" not in message
    assert "--namespace" in info.value.error.format_message()  # the CLI's own wording is unchanged


@needs_elyra
def test_process_uploads_and_runs_on_the_kfp_standin_with_default_parameters(workspace, registry):
    from kfp_standin import KfpStandin
    from s3server import s3_server

    with s3_server() as s3, KfpStandin(multi_user=True, dex_users={"user@example.com": "dex-pw"},
                                      namespaces={"alice"}) as kfp:
        make_runtime(api_endpoint=kfp.url, user_namespace="alice", api_username="user@example.com",
                     api_password="dex-pw", cos_endpoint=s3.endpoint, cos_bucket=s3.bucket,
                     cos_username=s3.credentials.access_key, cos_password=s3.credentials.secret_key)
        pipeline = PipelineParser().parse(editor_document(workspace, name="Churn-Run"))
        response = asyncio.run(manager(workspace).process(pipeline))

        (run_id, run), = kfp.runs.items()
        assert response.run_url == f"{kfp.url}/#/runs/details/{run_id}"
        body = response.to_json()
        assert body["platform"] == "kfp" and body["object_storage_url"] == s3.endpoint
        assert body["object_storage_path"] == f"/{s3.bucket}/t3qkfp/runs/{run_id}"
        # The run sends no parameter values: every run parameter keeps the default in the workflow.
        assert run["pipeline_spec"]["parameters"] == []
        storage = expected_storage(s3.endpoint, s3.bucket)
        # The saved file under the name typed in Elyra's run dialog.
        saved = workspace / "projects" / "churn" / PIPELINE_FILE
        named = json.loads(saved.read_text(encoding="utf-8"))
        named["pipelines"][0]["app_data"]["name"] = "Churn-Run"
        compiled = t3qkfp.compile_pipeline(named, base_dir=saved.parent, storage=storage,
                                           deterministic=True)
        (version_id, _), = kfp.versions.items()
        assert kfp.version_yaml(version_id) == compiled.yaml  # what `t3qkfp compile` writes
        workflow = kfp.run_workflow(run_id)
        assert workflow["spec"]["arguments"] == compiled.workflow["spec"]["arguments"]
        assert [e["name"] for e in kfp.experiments.values()] == ["churn-run"]
        assert [p["name"] for p in kfp.pipelines.values()] == ["Churn-Run"]
        # The node archives the workflow reads are in the bucket.
        assert set(compiled.object_keys()) <= set(s3.keys())


@needs_elyra
def test_switched_back_elyra_own_processor_still_exports_in_this_environment(workspace, registry, monkeypatch):
    """T3QKFP_ELYRA_DISABLE=1 is a real way back: Elyra's processor runs here (kfp 1.2.0, minio 7)."""
    from s3server import s3_server

    monkeypatch.setenv("T3QKFP_ELYRA_DISABLE", "1")
    with s3_server() as s3:
        make_runtime(cos_endpoint=s3.endpoint, cos_bucket=s3.bucket,
                     cos_username=s3.credentials.access_key, cos_password=s3.credentials.secret_key)
        with warnings.catch_warnings():
            # Elyra's own processor and kfp-notebook are not ours: kfp 1.2 warns that NotebookOp
            # builds a ContainerOp directly, and old code warns on Python 3.11. Not what this checks.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning, message="Please create reusable components")
            warnings.filterwarnings("ignore", category=PendingDeprecationWarning, message="`dsl.ContainerOp.image`")
            export(workspace, editor_document(workspace), "yaml", "own.yaml", False)
        import yaml
        workflow = yaml.safe_load((workspace / "own.yaml").read_text(encoding="utf-8"))
        assert workflow["metadata"]["generateName"] == "lambda-"  # Elyra's own compile
        assert workflow["spec"]["arguments"]["parameters"] == []  # Elyra 2.x has no run parameters
        assert any(key.endswith(".tar.gz") for key in s3.keys())  # Elyra uploads while exporting


# ---- how problems reach the user: Elyra's CLI and REST handlers --------------------------
BAD_NODE = "Load data"
BAD_NODE_ID = "b9a7c1e2-0d1f-4a57-9a11-5f0c6f7d1a01"


def break_saved_pipeline(root: Path) -> Path:
    """Give node 'Load data' of the saved file an env var t3qkfp refuses; returns the file."""
    path = root / "projects" / "churn" / PIPELINE_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    node = doc["pipelines"][0]["nodes"][0]
    assert node["id"] == BAD_NODE_ID and node["app_data"]["ui_data"]["label"] == BAD_NODE
    node["app_data"]["env_vars"].append("1BAD=x")
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def run_elyra_cli(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Elyra's console script `tool` as installed (its entry point), run by this venv's Python."""
    code = ("import sys, warnings\n"
            "warnings.simplefilter('ignore', DeprecationWarning)\n"
            "from importlib.metadata import entry_points\n"
            f"(ep,) = entry_points(group='console_scripts', name={tool!r})\n"
            f"sys.argv[0] = {tool!r}\n"
            "sys.exit(ep.load()())\n")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("tool, args, shown", [
    ("elyra-pipeline", ["--help"], "submit"),
    ("elyra-metadata", ["list", "runtimes"], "No metadata instances found"),  # its --help exits 1 by design
])
@needs_elyra
def test_elyra_command_line_tools_start_in_this_venv(tool, args, shown, tmp_path, monkeypatch):
    """setup-elyra-env.sh installs what Elyra's CLIs import (elyra-pipeline: click, yaspin, colorama)."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    out = run_elyra_cli(tool, *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and shown in out.stdout, out.stdout + out.stderr


@needs_elyra
def test_elyra_pipeline_submit_shows_t3qkfp_problems_without_a_traceback(workspace):
    """`elyra-pipeline submit` of a pipeline t3qkfp refuses: Elyra's one clean error, naming the file and node."""
    make_runtime()
    break_saved_pipeline(workspace)
    out = run_elyra_cli("elyra-pipeline", "submit", f"projects/churn/{PIPELINE_FILE}",
                        "--runtime-config", RUNTIME, cwd=workspace)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "Error: Error processing pipeline:" in out.stderr
    assert "t3qkfp did not run pipeline 'churn-elyra2'" in out.stderr
    # The CLI runs from the Jupyter root here: the file as the user typed it.
    assert (f"projects/churn/{PIPELINE_FILE}: node '{BAD_NODE}' ({BAD_NODE_ID}): app_data.env_vars[2]: "
            "env var name '1BAD' is not a valid name") in out.stderr
    assert "<dict>" not in text


@needs_elyra
def test_elyra_pipeline_submit_shows_an_unreachable_object_storage_cleanly(workspace):
    make_runtime(cos_endpoint="http://127.0.0.1:9")
    out = run_elyra_cli("elyra-pipeline", "submit", f"projects/churn/{PIPELINE_FILE}",
                        "--runtime-config", RUNTIME, cwd=workspace)
    text = out.stdout + out.stderr
    assert out.returncode == 1 and "Traceback" not in text, text[-3000:]
    assert "t3qkfp did not run pipeline 'churn-elyra2'" in out.stderr
    assert "object storage" in out.stderr and "127.0.0.1:9" in out.stderr


@needs_elyra
def test_elyra_execute_pipeline_turns_t3qkfp_errors_into_click_exceptions(workspace, registry, monkeypatch):
    """Elyra's own `_execute_pipeline` (what `submit` calls), in this process."""
    import click
    from elyra.cli.pipeline_app import _execute_pipeline, _preprocess_pipeline

    make_runtime()
    break_saved_pipeline(workspace)
    monkeypatch.chdir(workspace)
    manager(workspace)
    definition = _preprocess_pipeline(f"projects/churn/{PIPELINE_FILE}", runtime="kfp", runtime_config=RUNTIME)
    asyncio.set_event_loop(asyncio.new_event_loop())  # Elyra's CLI uses get_event_loop()
    try:
        with pytest.raises(click.ClickException) as caught:
            _execute_pipeline(definition)
    finally:
        asyncio.get_event_loop().close()
        asyncio.set_event_loop(None)
    message = caught.value.format_message()
    assert message.startswith("Error processing pipeline:")
    assert f"projects/churn/{PIPELINE_FILE}: node '{BAD_NODE}' ({BAD_NODE_ID})" in message
    assert message.count("env var name '1BAD'") == 1  # heading + the cause, not the message twice
    error = caught.value.__context__
    assert isinstance(error, ElyraAdapterError) and isinstance(error, RuntimeError)
    assert isinstance(error, T3qkfpError) and isinstance(error.__cause__, PipelineError)
    assert error.__cause__ is error.error and error.exit_code == PipelineError.exit_code


class RecordedReply(HttpErrorMixin if elyra is not None else object):  # used only by needs_elyra tests
    """Just the tornado calls HttpErrorMixin.write_error makes, recorded: Elyra's error reply, unchanged."""

    def set_header(self, name, value):
        self.headers = {**getattr(self, "headers", {}), name: value}

    def set_status(self, status, reason=None):
        self.status, self.reason = status, reason

    def finish(self, body):
        self.body = json.loads(body)


@pytest.mark.parametrize("located", [True, False], ids=["saved-file-found", "saved-file-moved"])
@needs_elyra
def test_export_problems_name_the_pipeline_file_and_reach_elyra_rest_reply(workspace, registry, located):
    make_runtime()
    saved = break_saved_pipeline(workspace)
    doc = editor_document(workspace)
    if not located:
        saved.unlink()
    with pytest.raises(ElyraAdapterError) as caught:
        export(workspace, doc, "yaml", "projects/churn/churn-elyra2.yaml", False)
    error = caught.value
    # Relative to Elyra's root when found; else Elyra's `source` (the basename its editor sends).
    name = f"projects/churn/{PIPELINE_FILE}" if located else PIPELINE_FILE
    line = (f"{name}: node '{BAD_NODE}' ({BAD_NODE_ID}): app_data.env_vars[2]: env var name '1BAD' "
            "is not a valid name")
    assert line in error.format_message() and line in str(error.__cause__)
    assert str(error) == "t3qkfp did not export pipeline 'churn-elyra2'"
    assert isinstance(error.error, PipelineError)
    assert all(p.location.file == name for p in error.error.problems)

    # What Elyra's export and run handlers answer for it (HttpErrorMixin.write_error): HTTP 500,
    # t3qkfp's whole message as `message`.
    reply = RecordedReply()
    reply.write_error(500, exc_info=(type(error), error, error.__traceback__))
    assert reply.status == 500 and reply.body["reason"] == "Internal Server Error"
    assert reply.body["message"] == error.format_message()
    assert reply.body["message"].startswith("1 problem found:\n") and line in reply.body["message"]
    assert not (workspace / "projects" / "churn" / "churn-elyra2.yaml").exists()


@needs_elyra
def test_process_problems_name_the_pipeline_file(workspace, registry):
    make_runtime()
    break_saved_pipeline(workspace)
    pipeline = PipelineParser().parse(editor_document(workspace, name="Churn-Run"))
    with pytest.raises(ElyraAdapterError) as caught:
        asyncio.run(manager(workspace).process(pipeline))
    assert str(caught.value) == "t3qkfp did not run pipeline 'Churn-Run'"
    assert f"projects/churn/{PIPELINE_FILE}: node '{BAD_NODE}' ({BAD_NODE_ID})" in caught.value.format_message()
    assert "<dict>" not in caught.value.format_message()


@needs_elyra
def test_export_finds_the_saved_file_beside_the_export_path(workspace, caplog):
    """A pipeline without `source` (as Elyra's CLI builds it) is matched to the .pipeline file beside
    the export path first; it is used only when it holds the same nodes."""
    pipeline = PipelineParser().parse(cli_document(workspace))
    beside = f"projects/churn/{PIPELINE_FILE}"
    source = from_elyra_pipeline(pipeline, root_dir=workspace, likely_files=[beside])
    assert source.located and source.file == workspace / beside and source.name == beside
    other = workspace / "projects" / "other.pipeline"
    other.write_text(json.dumps({"pipelines": [{"nodes": [{"id": "x"}]}]}), encoding="utf-8")
    source = from_elyra_pipeline(pipeline, root_dir=workspace, likely_files=["projects/other.pipeline"])
    assert source.file == workspace / beside  # the other file holds other nodes: searched instead


@pytest.mark.parametrize("form", ["dict", "bytes", "text"])
def test_a_pipeline_handed_over_in_memory_is_named_after_its_file(form, tmp_path):
    """Elyra hands the adapter a dict; load(source=...) names the .pipeline file in every problem."""
    document = json.loads((ROOT / "examples" / "churn" / "churn.pipeline").read_text())
    document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["filename"] = "gone.ipynb"
    given = {"dict": document, "bytes": json.dumps(document).encode(), "text": json.dumps(document)}[form]
    with pytest.raises(PipelineError) as info:
        t3qkfp.load(given, base_dir=ROOT / "examples" / "churn", source="projects/churn.pipeline")
    assert {p.location.file for p in info.value.problems} == {"projects/churn.pipeline"}
    model = t3qkfp.load(ROOT / "examples" / "churn" / "churn.pipeline")
    assert t3qkfp.load(model) is model  # a loaded model is handed on as it is (checked again)


def test_setup_script_takes_a_venv_path_relative_to_the_caller(tmp_path):
    script = ROOT / "scripts" / "setup-elyra-env.sh"
    (tmp_path / "empty-venv").mkdir()
    result = subprocess.run(["bash", str(script), "empty-venv"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert f"no Python at {tmp_path / 'empty-venv'}/bin/python" in result.stderr  # not the repo's folder
    missing = subprocess.run(["bash", str(script), "nope"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 2 and "no folder nope" in missing.stderr


def test_the_pth_shim_does_nothing_when_t3qkfp_is_gone():
    """The .pth line runs at every interpreter start; without t3qkfp it must stay silent."""
    script = (ROOT / "scripts" / "setup-elyra-env.sh").read_text()
    line = next(l for l in script.splitlines() if l.startswith('echo "import importlib.util'))
    code = line[len('echo "'):line.rindex('"')]
    gone = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd="/", capture_output=True, text=True)
    assert gone.returncode == 0 and gone.stderr == "", gone.stderr
    here = subprocess.run([sys.executable, "-c", code + "; import sys; print('t3qkfp.elyra_compat' in sys.modules)"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert here.returncode == 0 and here.stdout.strip() == "True", here.stderr


@needs_elyra
def test_export_takes_a_sibling_folder_file_inside_elyras_root(workspace, registry, tmp_path):
    """Issue 10 point 5: Elyra's editor saves `../shared/train.py` for a file dragged in from a
    sibling folder; the adapter passes Elyra's root_dir, so the export compiles what
    `t3qkfp compile --root` compiles, the file packed from its own folder."""
    make_runtime(cos_endpoint="http://minio.example:9000", cos_bucket="elyra-bucket")
    churn, shared = workspace / "projects" / "churn", workspace / "projects" / "shared"
    shared.mkdir()
    (churn / "train.py").rename(shared / "train.py")
    shutil.copytree(churn / "utils", shared / "utils")
    saved = json.loads((churn / PIPELINE_FILE).read_text(encoding="utf-8"))
    saved["pipelines"][0]["nodes"][1]["app_data"]["filename"] = "../shared/train.py"
    (churn / PIPELINE_FILE).write_text(json.dumps(saved, indent=2), encoding="utf-8")
    doc = editor_document(workspace)
    doc["pipelines"][0]["nodes"][1]["app_data"]["filename"] = "projects/shared/train.py"
    target = "projects/churn/churn-elyra2.yaml"
    assert export(workspace, doc, "yaml", target, False) == target
    expected = tmp_path / "expected.yaml"
    compiled = t3qkfp.compile_pipeline(churn / PIPELINE_FILE, root_dir=workspace,
                                       storage=expected_storage("http://minio.example:9000", "elyra-bucket"))
    compiled.write(expected)
    assert (workspace / target).read_bytes() == expected.read_bytes()
    train = compiled.archives[saved["pipelines"][0]["nodes"][1]["id"]]
    assert train.members == ("train.py", "utils/scoring.py")
    with pytest.raises(PipelineError, match="'../shared/train.py' is outside the pipeline folder"):
        t3qkfp.load(churn / PIPELINE_FILE, root_dir=churn)
