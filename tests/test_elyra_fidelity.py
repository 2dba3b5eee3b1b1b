"""Issue 10: every real Elyra pipeline is read the way Elyra itself reads it.

One test per rule, on pipelines shaped like real saved files: format-3 `column = finding`,
format-7 `gpu: 0`, a mount path `mnt/vol3`, a notebook node whose file is a `.py`, a saved file
with a supernode (checked against Elyra 2.2.4's own parser), node files under `.t3qkfp/`.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp import PipelineError, nodespec
from t3qkfp.compiler import compile_pipeline
from t3qkfp.display import plan_rows
from t3qkfp.model import NodeKind
from t3qkfp.params import plan
from t3qkfp.storage_settings import StorageConfig

STORAGE = StorageConfig()
IMAGE = "registry.example.com/ml/runtime:1.0"
NOTEBOOK = Path(__file__).parent / "cases" / "v3_kv_env" / "prepare.ipynb"


def _node(node_id: str, filename: str, *, version: int, label: str = "", op: str = "execute-python-node",
          parents: tuple[str, ...] = (), **props) -> dict:
    """One generic node as Elyra's editor saves it in format `version`."""
    properties = {"filename": filename, "runtime_image": IMAGE, "dependencies": [],
                  "include_subdirectories": False, "outputs": [], **props}
    ui = {"label": label or Path(filename).stem, "x_pos": 100, "y_pos": 100, "description": ""}
    app = ({**properties, "ui_data": ui} if version < 4 else
           {"component_parameters": properties, "label": ui["label"], "ui_data": ui})
    links = [{"id": f"{node_id}-{p}", "node_id_ref": p, "port_id_ref": "outPort"} for p in parents]
    return {"id": node_id, "type": "execution_node", "op": op, "app_data": app,
            "inputs": [{"id": "inPort", "app_data": {"ui_data": {"cardinality": {"min": 0, "max": -1},
                                                                 "label": "Input Port"}}, "links": links}],
            "outputs": [{"id": "outPort", "app_data": {"ui_data": {"cardinality": {"min": 0, "max": -1},
                                                                   "label": "Output Port"}}}]}


def _document(nodes: list[dict], *, version: int, extra_pipelines: tuple[dict, ...] = (), **properties) -> dict:
    app = {"ui_data": {"comments": []}, "version": version, "runtime": "kfp", "runtime-config": "test-kfp"}
    if version >= 4:
        app["properties"] = {"name": "fidelity", "runtime": "Kubeflow Pipelines", **properties}
    else:
        app["name"] = "fidelity"
    return {"doc_type": "pipeline", "version": "3.0",
            "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json",
            "id": "elyra-auto-generated-pipeline", "primary_pipeline": "primary",
            "pipelines": [{"id": "primary", "nodes": nodes, "app_data": app, "runtime_ref": ""},
                          *extra_pipelines],
            "schemas": []}


def _write(folder: Path, document: dict, *files: str) -> Path:
    for name in files:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".ipynb"):
            shutil.copy(NOTEBOOK, path)
        else:
            path.write_text("print('hello')\n" if name.endswith(".py") else "cat('hello')\n", encoding="utf-8")
    path = folder / "fidelity.pipeline"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def _containers(workflow: dict) -> dict[str, dict]:
    return {t["name"]: t["container"] for t in workflow["spec"]["templates"] if "container" in t}


def _spec(container: dict) -> nodespec.NodeSpec:
    return nodespec.decode(next(e["value"] for e in container["env"] if e["name"] == "T3QKFP_NODE"))


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "t3qkfp"]


# -- 1. env var text ------------------------------------------------------------------------------

def test_format_3_env_text_is_stripped_of_spaces_and_quotes_as_elyra_2_does(tmp_path, caplog):
    # Elyra 2.2.4 elyra/pipeline/processor_kfp.py:402: x.strip(' \'"') on both sides of the first '='.
    env = ["column = finding", "Q=\"hello world\"", "NAME='x'", "PLAIN=keep me", "INNER=a \"b\" c"]
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=3, label="Audit", env_vars=env)], version=3), "a.py")
    with caplog.at_level("WARNING", logger="t3qkfp"):
        pipeline = t3qkfp.load(path)
    assert [(e.name, e.value) for e in pipeline.nodes[0].env] == [
        ("column", "finding"), ("Q", "hello world"), ("NAME", "x"), ("PLAIN", "keep me"), ("INNER", 'a "b" c')]
    warned = _warnings(caplog)
    assert len(warned) == 3, warned  # the three whose text changed, not PLAIN or INNER
    assert warned[0].startswith(f"warning: {path}: node 'Audit' (n-a): app_data.env_vars[0]: env var 'column = finding' "
                                "is read as name 'column', value 'finding'")
    compiled = compile_pipeline(path, storage=STORAGE, deterministic=True)
    arguments = {p["name"]: p["value"] for p in compiled.workflow["spec"]["arguments"]["parameters"]}
    assert arguments["column"] == "finding" and arguments["Q"] == "hello world"


def test_format_8_env_objects_are_stripped_of_whitespace_only(tmp_path, caplog):
    # Elyra 3.15.0 elyra/pipeline/properties.py:210 strip_if_string (333-335): whitespace, not quotes.
    env = [{"env_var": " COLUMN ", "value": " finding\t"}, {"env_var": "Q", "value": "\"quoted\""}]
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=8, label="Audit", env_vars=env)], version=8), "a.py")
    with caplog.at_level("WARNING", logger="t3qkfp"):
        pipeline = t3qkfp.load(path)
    assert [(e.name, e.value) for e in pipeline.nodes[0].env] == [("COLUMN", "finding"), ("Q", '"quoted"')]
    assert [w for w in _warnings(caplog) if "component_parameters.env_vars[0]" in w and "surrounding whitespace" in w]
    assert not [w for w in _warnings(caplog) if "env_vars[1]" in w]


def test_format_7_env_strings_are_stripped_of_whitespace_only(tmp_path):
    # Elyra 3.11.0 elyra/pipeline/pipeline.py:514-520 KeyValueList.to_dict strips key and value.
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=7, env_vars=["COLUMN = finding", "Q='x'"])],
                                      version=7), "a.py")
    assert [(e.name, e.value) for e in t3qkfp.load(path).nodes[0].env] == [("COLUMN", "finding"), ("Q", "'x'")]


def test_a_pipeline_default_read_differently_is_one_warning_for_the_pipeline(tmp_path, caplog):
    nodes = [_node("n-a", "a.py", version=7, label="A"), _node("n-b", "b.py", version=7, label="B", parents=("n-a",))]
    document = _document(nodes, version=7, pipeline_defaults={"env_vars": ["REGION = eu"],
                                                              "mounted_volumes": ["data=data-pvc"]})
    path = _write(tmp_path, document, "a.py", "b.py")
    with caplog.at_level("WARNING", logger="t3qkfp"):
        pipeline = t3qkfp.load(path)
    assert [[(e.name, e.value) for e in n.env] for n in pipeline.nodes] == [[("REGION", "eu")]] * 2
    assert [[v.path for v in n.kubernetes.volumes] for n in pipeline.nodes] == [["/data"]] * 2
    assert [w.split(": ", 3)[1:3] for w in _warnings(caplog)] == [
        [str(path), "pipeline_defaults.env_vars[0]"], [str(path), "pipeline_defaults.mounted_volumes[0]"]]


def test_value_less_env_vars_are_parameters_with_an_empty_default_unless_a_secret_sets_them(tmp_path):
    env = [{"env_var": "OPTIONAL"}, {"env_var": "DB_USER", "value": ""}, "", {"env_var": "SEED", "value": "1"}]
    secrets = [{"env_var": "DB_USER", "name": "db-credentials", "key": "user"}]
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=8, label="Load", env_vars=env,
                                             kubernetes_secrets=secrets)], version=8), "a.py")
    pipeline = t3qkfp.load(path)
    node = pipeline.nodes[0]
    assert [(e.name, e.value) for e in node.env] == [("OPTIONAL", ""), ("SEED", "1")]  # the secret wins
    rows = {row[0]: row for row in plan_rows(pipeline, plan(pipeline))}
    assert rows["OPTIONAL"][2] == "" and rows["OPTIONAL"][5] == "no value in the file"
    assert rows["SEED"][5] == ""
    assert "DB_USER" not in rows
    env_of_pod = {e["name"]: e for e in
                  next(iter(_containers(compile_pipeline(path, storage=STORAGE, deterministic=True).workflow).values()))["env"]}
    assert env_of_pod["DB_USER"]["valueFrom"]["secretKeyRef"] == {"name": "db-credentials", "key": "user"}


# -- 2. resources ---------------------------------------------------------------------------------

def test_zero_or_empty_resources_are_not_set(tmp_path):
    # Elyra applies a resource only when truthy: kfp-notebook v0.23.0 _notebook_op.py:234-242,
    # elyra v3.15.0 templates/kubeflow/v1/python_dsl_template.jinja2:63-70.
    nodes = [_node("n-a", "a.py", version=7, label="Train", cpu=0, gpu=0, memory=""),
             _node("n-b", "b.py", version=7, label="Score", cpu="0", gpu="", memory=0.0, parents=("n-a",)),
             _node("n-c", "c.py", version=7, label="Fit", cpu=2, gpu=1, memory=8, parents=("n-b",))]
    path = _write(tmp_path, _document(nodes, version=7), "a.py", "b.py", "c.py")
    pipeline = t3qkfp.load(path)
    assert [(n.resources.cpu, n.resources.gpu, n.resources.memory) for n in pipeline.nodes] == [
        (None, None, None), (None, None, None), (2.0, 1, 8.0)]
    containers = _containers(compile_pipeline(path, storage=STORAGE, deterministic=True).workflow)
    assert "resources" not in containers["train"] and "resources" not in containers["score"]
    assert containers["fit"]["resources"]["limits"] == {"nvidia.com/gpu": "1"}


@pytest.mark.parametrize("field,value", [("gpu", -1), ("cpu", "-0.5"), ("memory", "lots"), ("gpu", "0x1"), ("cpu", True)])
def test_negative_or_non_numeric_resources_stay_refused(tmp_path, field, value):
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=7, label="Train", **{field: value})], version=7), "a.py")
    with pytest.raises(PipelineError) as caught:
        t3qkfp.load(path)
    (problem,) = caught.value.problems
    assert problem.location.field == f"component_parameters.{field}" and problem.location.node_id == "n-a"


# -- 3. mount paths -------------------------------------------------------------------------------

def test_mount_paths_are_normalised_as_elyra_does(tmp_path, caplog):
    # elyra v3.11.0 pipeline_definition.py:419, v3.15.0 properties.py:733: "/" + path.strip("/").
    volumes = ["mnt/vol3=data-pvc", "/models/=models-pvc"]
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=7, label="Train", mounted_volumes=volumes)],
                                      version=7), "a.py")
    with caplog.at_level("WARNING", logger="t3qkfp"):
        pipeline = t3qkfp.load(path)
    assert [(v.path, v.pvc) for v in pipeline.nodes[0].kubernetes.volumes] == [("/mnt/vol3", "data-pvc"),
                                                                              ("/models", "models-pvc")]
    assert any("mounted_volumes[0]: mount path 'mnt/vol3' is read as '/mnt/vol3'" in w for w in _warnings(caplog))
    container = _containers(compile_pipeline(path, storage=STORAGE, deterministic=True).workflow)["train"]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/mnt/vol3", "/models"]


def test_a_mount_path_used_twice_after_normalising_is_refused(tmp_path):
    volumes = [{"path": "mnt/vol3", "pvc_name": "a-pvc"}, {"path": "/mnt/vol3/", "pvc_name": "b-pvc"}]
    path = _write(tmp_path, _document([_node("n-a", "a.py", version=8, label="Train", mounted_volumes=volumes)],
                                      version=8), "a.py")
    with pytest.raises(PipelineError) as caught:
        t3qkfp.load(path)
    (problem,) = caught.value.problems
    assert problem.location.field == "component_parameters.mounted_volumes[1]"
    assert "'/mnt/vol3' must be an absolute path, used once" in problem.message


# -- 4. the file decides how a node runs ----------------------------------------------------------

def test_a_notebook_node_with_a_script_file_runs_the_script(tmp_path, caplog):
    # kfp-notebook v0.23.0 bootstrapper.py:55-64 / elyra v3.15.0 kfp/bootstrapper.py:61-71 pick by extension.
    nodes = [_node("n-a", "clean.py", version=3, label="Clean", op="execute-notebook-node"),
             _node("n-b", "plot.r", version=3, label="Plot", op="execute-notebook-node", parents=("n-a",)),
             _node("n-c", "prepare.ipynb", version=3, label="Prep", op="execute-python-node", parents=("n-b",))]
    path = _write(tmp_path, _document(nodes, version=3), "clean.py", "plot.r", "prepare.ipynb")
    with caplog.at_level("WARNING", logger="t3qkfp"):
        pipeline = t3qkfp.load(path)
    assert [n.kind for n in pipeline.nodes] == [NodeKind.PYTHON, NodeKind.R, NodeKind.NOTEBOOK]
    warned = _warnings(caplog)
    assert any("node 'Clean' (n-a): app_data.filename: a notebook node's file 'clean.py' runs as a Python script" in w
               for w in warned), warned
    containers = _containers(compile_pipeline(path, storage=STORAGE, deterministic=True).workflow)
    assert [_spec(containers[t]).kind for t in ("clean", "plot", "prep")] == ["python", "r", "notebook"]


def test_a_file_elyra_cannot_run_stays_refused(tmp_path):
    path = _write(tmp_path, _document([_node("n-a", "run.sh", version=7, label="Run", op="execute-notebook-node")],
                                      version=7), "run.sh")
    with pytest.raises(PipelineError) as caught:
        t3qkfp.load(path)
    (problem,) = caught.value.problems
    assert "is not a notebook (.ipynb), Python (.py) or R (.r) file" in problem.message
    assert problem.location.field == "component_parameters.filename"


# -- 7. supernodes --------------------------------------------------------------------------------

OUTER_A, OUTER_B = "db9f3f5b-b2e3-4824-aadd-c1c6bf652534", "f6584209-6f22-434f-9820-41327b6c749d"
INNER_1, INNER_2 = "079c0e12-eb5f-4fcc-983b-09e011869fee", "51036094-4cc5-440a-a652-a84b0871786a"
AFTER = "7628306d-2cc2-405c-94a1-fe42c95567a1"
SUPER, SUBFLOW = "3fbe0f25-c7d0-4ee6-b1b6-a5f5f633252f", "82ddb72e-8246-4c6b-b901-6af9d12f4bba"
BIND_IN, BIND_OUT = "6c0236de-cca6-4764-982f-af65c349dfa7", "1b76e3f3-0c5b-480f-92c5-b08327d07b41"


def supernode_document(version: int = 3) -> dict:
    """A saved file with a supernode, laid out as Elyra's editor saves one (the shape of elyra
    v3.15.0 elyra/tests/pipeline/resources/sample_pipelines/pipeline_with_supernode.json and
    validation_pipelines/kf_supernode_valid.pipeline): two nodes feed the supernode's input port,
    which a binding node passes to the first inner node; the second inner node leaves through
    the supernode's output port to a node after it."""
    a = _node(OUTER_A, "contributions.py", version=version, label="Contributions")
    b = _node(OUTER_B, "stats.py", version=version, label="Stats", env_vars=["SEED=1"] if version < 8 else [])
    inner_1 = _node(INNER_1, "grouped/overview.ipynb", version=version, label="Overview")
    inner_1["inputs"][0]["links"] = [{"id": "l-bind", "node_id_ref": BIND_IN,
                                      "port_id_ref": f"output_{INNER_1}_inPort"}]
    inner_2 = _node(INNER_2, "grouped/summary.py", version=version, label="Summary", parents=(INNER_1,))
    bindings = [
        {"id": BIND_IN, "type": "binding", "app_data": {"ui_data": {"x_pos": 10, "y_pos": 10}},
         "outputs": [{"id": f"output_{INNER_1}_inPort", "app_data": {"ui_data": {"label": "Input Port"}}}]},
        {"id": BIND_OUT, "type": "binding", "app_data": {"ui_data": {"x_pos": 300, "y_pos": 10}},
         "inputs": [{"id": f"input_{INNER_2}_outPort", "links": [
             {"id": "l-out", "node_id_ref": INNER_2, "port_id_ref": "outPort"}]}]},
    ]
    supernode = {
        "id": SUPER, "type": "super_node", "subflow_ref": {"pipeline_id_ref": SUBFLOW, "url": "app-defined"},
        "app_data": {"ui_data": {"label": "Supernode", "image": "", "x_pos": 200, "y_pos": 100,
                                 "is_expanded": False, "expanded_width": 600, "expanded_height": 400}},
        "inputs": [{"id": f"{INNER_1}_inPort", "subflow_node_ref": BIND_IN,
                    "app_data": {"ui_data": {"label": "Input Port"}},
                    "links": [{"id": "l-a", "node_id_ref": OUTER_A, "port_id_ref": "outPort"},
                              {"id": "l-b", "node_id_ref": OUTER_B, "port_id_ref": "outPort"}]}],
        "outputs": [{"id": f"{INNER_2}_outPort", "subflow_node_ref": BIND_OUT,
                     "app_data": {"ui_data": {"label": "Output Port"}}}],
    }
    after = _node(AFTER, "science.py", version=version, label="Science")
    after["inputs"][0]["links"] = [{"id": "l-after", "node_id_ref": SUPER, "port_id_ref": f"{INNER_2}_outPort"}]
    subflow = {"id": SUBFLOW, "nodes": [inner_1, inner_2, *bindings],
               "app_data": {"ui_data": {"comments": []}, "version": version}, "runtime_ref": ""}
    return _document([a, b, supernode, after], version=version, extra_pipelines=(subflow,))


SUPERNODE_FILES = ("contributions.py", "stats.py", "grouped/overview.ipynb", "grouped/summary.py", "science.py")


@pytest.mark.parametrize("version", [3, 8])
def test_a_supernode_is_flattened_as_elyras_parser_does(tmp_path, version):
    path = _write(tmp_path, supernode_document(version), *SUPERNODE_FILES)
    pipeline = t3qkfp.load(path)
    assert [(n.id, n.parents) for n in pipeline.nodes] == [
        (OUTER_A, ()), (OUTER_B, ()), (INNER_1, (OUTER_A, OUTER_B)), (INNER_2, (INNER_1,)), (AFTER, (INNER_2,))]
    workflow = compile_pipeline(path, storage=STORAGE, deterministic=True).workflow
    dag = next(t["dag"]["tasks"] for t in workflow["spec"]["templates"] if "dag" in t)
    assert {t["name"]: sorted(t.get("dependencies", [])) for t in dag} == {
        "contributions": [], "stats": [], "overview": ["contributions", "stats"], "summary": ["overview"],
        "science": ["summary"]}


def _elyra_parser():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        try:
            from elyra.pipeline import PipelineParser
        except ImportError:
            pytest.skip("Elyra 2.x is not installed: run scripts/setup-elyra-env.sh .venv")
    return PipelineParser


def test_the_supernode_file_gives_what_elyras_cli_path_gives(tmp_path):
    """Elyra 2.2.4's own parser reads the saved file (as `elyra-pipeline submit` does, node paths
    absolute); the adapter compiles its operations; the CLI compiles the file: same workflow."""
    from t3qkfp.elyra_objects import from_elyra_pipeline

    parser = _elyra_parser()
    path = _write(tmp_path, supernode_document(3), *SUPERNODE_FILES)
    document = json.loads(path.read_text(encoding="utf-8"))
    for pipe in document["pipelines"]:
        for node in pipe["nodes"]:
            if node.get("type") == "execution_node":
                node["app_data"]["filename"] = os.path.join(str(tmp_path), node["app_data"]["filename"])
    parsed = parser().parse(document)
    assert {op.id: sorted(op.parent_operations) for op in parsed.operations.values()} == {
        n.id: sorted(n.parents) for n in t3qkfp.load(path).nodes}
    source = from_elyra_pipeline(parsed, root_dir=tmp_path, pipeline_dir=tmp_path)
    from_elyra = compile_pipeline(source.document, base_dir=source.base_dir, storage=STORAGE, deterministic=True)
    from_file = compile_pipeline(path, storage=STORAGE, deterministic=True)
    assert from_file.workflow["spec"] == from_elyra.workflow["spec"]


def test_a_supernode_whose_pipeline_is_missing_is_one_clear_problem(tmp_path):
    document = supernode_document(3)
    document["pipelines"] = document["pipelines"][:1]
    path = _write(tmp_path, document, *SUPERNODE_FILES)
    with pytest.raises(PipelineError) as caught:
        t3qkfp.load(path)
    (problem,) = caught.value.problems  # the node after it is not also told its link dangles
    assert problem.location.node_id == SUPER and problem.location.field == "subflow_ref.pipeline_id_ref"
    assert f"the supernode's pipeline '{SUBFLOW}' is not in 'pipelines'" in problem.message


def test_a_supernode_containing_itself_is_refused(tmp_path):
    document = supernode_document(3)
    inner = document["pipelines"][1]["nodes"]
    inner.append({**document["pipelines"][0]["nodes"][2], "id": "loop", "inputs": [], "outputs": []})
    path = _write(tmp_path, document, *SUPERNODE_FILES)
    with pytest.raises(PipelineError) as caught:
        t3qkfp.load(path)
    assert [p.message for p in caught.value.problems] == [f"the supernode's pipeline '{SUBFLOW}' contains itself"]


# -- 9. node files under .t3qkfp/ -----------------------------------------------------------------

def test_a_node_file_under_the_runtime_folder_is_refused(tmp_path):
    path = _write(tmp_path, _document([_node("n-a", ".t3qkfp/node_runtime.py", version=7, label="Sneaky"),
                                       _node("n-b", ".t3qkfp/sub/x.ipynb", version=7, label="Nb")], version=7),
                  ".t3qkfp/node_runtime.py", ".t3qkfp/sub/x.ipynb")
    with pytest.raises(PipelineError) as caught:
        t3qkfp.load(path)
    assert [(p.location.node_id, p.location.field, p.message) for p in caught.value.problems] == [
        ("n-a", "component_parameters.filename",
         "file '.t3qkfp/node_runtime.py' is inside .t3qkfp/, which t3qkfp reserves for its node runtime"),
        ("n-b", "component_parameters.filename",
         "file '.t3qkfp/sub/x.ipynb' is inside .t3qkfp/, which t3qkfp reserves for its node runtime")]
