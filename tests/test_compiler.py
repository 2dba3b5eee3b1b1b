"""compile(): input forms, determinism, package formats, atomic writes, names kfp keeps unchanged."""
from __future__ import annotations

import copy
import io
import json
import os
import random
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

import t3qkfp
from conftest import ROOT
from t3qkfp import argo_emit, go_yaml, naming
from t3qkfp.compiler import compile_pipeline
from t3qkfp.storage_settings import StorageConfig
from workflow_checks import go_unsafe_scalars

EXAMPLE = ROOT / "examples" / "churn" / "churn.pipeline"
EXAMPLE_V3 = ROOT / "examples" / "churn" / "churn-elyra2.pipeline"
STORAGE = StorageConfig()


def compiled_yaml(source, **kwargs) -> str:
    return compile_pipeline(source, storage=STORAGE, deterministic=True, **kwargs).yaml


def test_every_input_form_gives_the_same_workflow():
    text = EXAMPLE.read_text()
    expected = t3qkfp.compile(EXAMPLE, storage=STORAGE, deterministic=True)
    assert t3qkfp.compile(str(EXAMPLE), storage=STORAGE, deterministic=True) == expected
    base = {"base_dir": EXAMPLE.parent, "storage": STORAGE, "deterministic": True}
    assert t3qkfp.compile(text, **base) == expected
    assert t3qkfp.compile(text.encode(), **base) == expected
    assert t3qkfp.compile(json.loads(text), **base) == expected


def test_both_example_formats_give_the_same_run_parameters():
    new = compile_pipeline(EXAMPLE, storage=STORAGE, deterministic=True)
    old = compile_pipeline(EXAMPLE_V3, storage=STORAGE, deterministic=True)
    assert new.workflow["spec"]["arguments"] == old.workflow["spec"]["arguments"]
    assert new.plan.bindings == old.plan.bindings


def test_output_is_byte_identical_across_processes_and_hash_seeds(tmp_path):
    script = ("import sys, t3qkfp; from t3qkfp.storage_settings import StorageConfig;"
              "c = t3qkfp.compile_pipeline(sys.argv[1], storage=StorageConfig(), deterministic=True);"
              "sys.stdout.write(c.yaml)")
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", script, str(EXAMPLE)], env=env, check=True,
                                capture_output=True, text=True, cwd=tmp_path)
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert outputs == {compiled_yaml(EXAMPLE)}


def test_node_order_in_the_file_does_not_change_the_output():
    document = json.loads(EXAMPLE.read_text())
    shuffled = copy.deepcopy(document)
    shuffled["pipelines"][0]["nodes"].reverse()
    assert compiled_yaml(shuffled, base_dir=EXAMPLE.parent) == compiled_yaml(document, base_dir=EXAMPLE.parent)


def test_the_compilation_time_is_stamped_only_when_asked_like_kfp():
    workflow = t3qkfp.compile(EXAMPLE, storage=STORAGE, deterministic=False)
    assert argo_emit.COMPILATION_TIME in workflow["metadata"]["annotations"]
    assert argo_emit.COMPILATION_TIME not in t3qkfp.compile(EXAMPLE, storage=STORAGE)["metadata"]["annotations"]


def test_the_api_writes_the_same_bytes_as_the_cli_by_default(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("T3QKFP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no t3qkfp.toml here: both use the default storage settings
    t3qkfp.compile(EXAMPLE, tmp_path / "api.yaml")
    result = subprocess.run([sys.executable, "-m", "t3qkfp", "compile", str(EXAMPLE), "-o", str(tmp_path / "cli.yaml"), "-q"],
                            capture_output=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "api.yaml").read_bytes() == (tmp_path / "cli.yaml").read_bytes()


def test_written_files_get_the_mode_of_a_normal_write_and_keep_an_existing_files_mode(tmp_path):
    old = os.umask(0o022)
    try:
        for suffix in (".yaml", ".zip", ".tar.gz"):
            fresh = tmp_path / f"fresh{suffix}"
            t3qkfp.compile(EXAMPLE, fresh, storage=STORAGE)
            assert stat.S_IMODE(fresh.stat().st_mode) == 0o644, suffix
        os.umask(0o077)
        private = tmp_path / "private.yaml"
        t3qkfp.compile(EXAMPLE, private, storage=STORAGE)
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        shared = tmp_path / "shared.yaml"
        shared.write_text("old")
        shared.chmod(0o664)
        t3qkfp.compile(EXAMPLE, shared, storage=STORAGE)
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664 and shared.read_text() != "old"
    finally:
        os.umask(old)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".zip", ".tar.gz", ".tgz"])
def test_package_formats_hold_the_same_yaml_and_are_reproducible(tmp_path, suffix):
    text = compiled_yaml(EXAMPLE)
    first = tmp_path / f"a{suffix}"
    second = tmp_path / f"b{suffix}"
    t3qkfp.compile(EXAMPLE, first, storage=STORAGE, deterministic=True)
    t3qkfp.compile(EXAMPLE, second, storage=STORAGE, deterministic=True)
    assert first.read_bytes() == second.read_bytes()
    data = first.read_bytes()
    if suffix.endswith(("yaml", "yml")):
        content = data.decode()
    elif suffix == ".zip":
        content = zipfile.ZipFile(io.BytesIO(data)).read("pipeline.yaml").decode()
    else:
        content = tarfile.open(fileobj=io.BytesIO(data)).extractfile("pipeline.yaml").read().decode()
    assert content == text


def test_unknown_package_suffix_is_a_usage_error(tmp_path):
    with pytest.raises(t3qkfp.UsageError, match="must end with one of"):
        t3qkfp.compile(EXAMPLE, tmp_path / "out.json", storage=STORAGE)
    assert not (tmp_path / "out.json").exists()


def test_a_failed_compile_leaves_an_existing_output_intact(tmp_path):
    target = tmp_path / "churn.yaml"
    target.write_text("previous content\n")
    broken = json.loads(EXAMPLE.read_text())
    broken["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["filename"] = "missing.ipynb"
    with pytest.raises(t3qkfp.PipelineError, match="missing.ipynb"):
        t3qkfp.compile(broken, target, base_dir=EXAMPLE.parent, storage=STORAGE)
    assert target.read_text() == "previous content\n"
    assert list(tmp_path.iterdir()) == [target]


def test_task_and_parameter_names_are_fixed_points_of_kfp_and_the_client():
    from kfp.compiler._k8s_helper import sanitize_k8s_name
    from kfp.components._naming import _sanitize_python_function_name

    rng = random.Random(7)
    alphabet = "abcXYZ019 -_.!é데이터😀"
    labels = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(400)]
    names = naming.task_names([(f"id-{i}", label) for i, label in enumerate(labels)])
    assert len(set(names.values())) == len(labels)
    for name in names.values():
        assert naming.TASK_NAME.fullmatch(name), name
        assert sanitize_k8s_name(name) == name
        assert _sanitize_python_function_name(name).replace("_", "-") == name
    for env in ("LEARNING_RATE", "_SEED", "a", "x1_y2", "Z"):
        for name in (naming.param_name_for_env(env), naming.node_param_name("load-data", env)):
            assert naming.is_param_name(name)
            assert sanitize_k8s_name(name, allow_capital_underscore=True) == name


def test_task_names_are_stable_when_other_nodes_change():
    before = naming.task_names([("a", "Train"), ("b", "Evaluate")])
    after = naming.task_names([("c", "Load"), ("a", "Train"), ("b", "Evaluate")])
    assert before["a"] == after["a"] and before["b"] == after["b"]


def test_go_safe_yaml_round_trips_tricky_strings():
    rng = random.Random(11)
    pieces = ["", "1e3", "08", "0o17", "y", "N", "on", "Off", "null", "~", ".5", "-1", "+1", " x", "x ",
              "a: b", "#c", "- d", "'q'", '"q"', "\\", "\n", "line\nline", "\t", "é", "😀", "\u2028", "\x85",
              "{", "}", "[", "]", ",", "&a", "*a", "!t", "%", "@", "`", "|", ">", "?", "=", "<<", "0x1F"]
    values = pieces + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    document = {"spec": {"arguments": {"parameters": [{"name": f"p{i}", "value": v} for i, v in enumerate(values)]}}}
    text = go_yaml.dump(document)
    assert yaml.safe_load(text) == document
    assert go_unsafe_scalars(text) == []


def test_fractional_memory_and_tiny_cpu_become_quantities_kfp_and_kubernetes_accept():
    document = json.loads(EXAMPLE.read_text())
    nodes = document["pipelines"][0]["nodes"]
    nodes[0]["app_data"]["component_parameters"].update(memory=1.5, memory_limit="0.5", cpu=1e-05, cpu_limit=0.25)
    nodes[1]["app_data"]["component_parameters"].update(memory=0.3333, memory_limit=2, cpu=2)
    workflow = t3qkfp.compile(document, base_dir=EXAMPLE.parent, storage=STORAGE, deterministic=True)
    containers = {t["name"]: t["container"] for t in workflow["spec"]["templates"] if "container" in t}
    plan = t3qkfp.plan(t3qkfp.load(document, base_dir=EXAMPLE.parent))
    first, second = (containers[task] for _, task in plan.tasks[:2])
    assert first["resources"] == {"requests": {"memory": "1500M", "cpu": "1m"},
                                  "limits": {"memory": "500M", "cpu": "0.25"}}
    assert second["resources"] == {"requests": {"memory": "333300K", "cpu": "2"}, "limits": {"memory": "2G"}}


def test_per_node_parameter_names_stay_within_128_characters_and_unique():
    env = "E" * 100
    names = {naming.node_param_name(task, env) for task in ("a" * 63, "a" * 62 + "b", "train")}
    assert len(names) == 3
    for name in names:
        assert naming.is_param_name(name) and len(name) <= naming.PARAM_NAME_MAX
    assert naming.node_param_name("train", env) == f"train_{env}"
    assert not naming.is_param_name(naming.node_param_name("train", "E" * 127))  # plan() reports it


@pytest.mark.parametrize(("value", "expected"), [
    ("-0", "String"), ("0", "Integer"), ("-12", "Integer"), ("9223372036854775807", "Integer"),
    ("9223372036854775808", "String"), ("9" * 5000, "String"), ("007", "String"), ("1e3", "String"),
])
def test_integer_type_only_where_a_typed_client_keeps_the_text(value, expected):
    from t3qkfp.params import infer_type
    assert infer_type(value).value == expected


def test_size_limit_counts_form_feeds_as_go_before_1_22_writes_them():
    from t3qkfp.params import go_json_size
    # Go's encoding/json in KFP 1.2's server writes \b and \f as 6-byte \u0008 / \u000c.
    go_text = json.dumps({"name": "A", "value": "\f\b<"}, separators=(",", ":")).replace("\\f", "\\u000c") \
        .replace("\\b", "\\u0008").replace("<", "\\u003c")
    assert go_json_size({"name": "A", "value": "\f\b<"}) == len(go_text.encode())
    document = json.loads(EXAMPLE.read_text())
    document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["env_vars"].append(
        # 4.8 KB as Python writes it, 14.4 KB as Go does; inside the value, as Elyra strips whitespace at its ends
        {"env_var": "FEEDS", "value": "<" + "\f" * 2400 + ">"})
    with pytest.raises(t3qkfp.PipelineError, match="more than the 10000 the KFP 1.2 API server accepts; biggest: FEEDS"):
        t3qkfp.plan(t3qkfp.load(document, base_dir=EXAMPLE.parent))


@pytest.mark.parametrize("where", ["file_as_folder", "unwritable"])
def test_an_output_that_cannot_be_written_is_a_one_line_error(tmp_path, where):
    if where == "file_as_folder":
        (tmp_path / "plain").write_text("keep\n")
        target = tmp_path / "plain" / "x.yaml"
    else:
        target = Path("/proc/t3qkfp-cannot-write-here/x.yaml")
    result = subprocess.run([sys.executable, "-m", "t3qkfp", "compile", str(EXAMPLE), "-o", str(target)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{target}: cannot write there:") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if where == "file_as_folder":
        assert (tmp_path / "plain").read_text() == "keep\n"


def test_a_hashed_task_name_never_takes_the_pipeline_name(tmp_path):
    """kfp would otherwise rename the entrypoint (and generateName) to '<name>-2' on its own."""
    (tmp_path / "a.py").write_text("print('a')\n")
    name = f"x-{naming.short_hash('a')}"  # what node 'a' labelled 'x' is called when two share 'x'
    document = {"doc_type": "pipeline", "version": "3.0", "id": "d", "primary_pipeline": "p", "pipelines": [{
        "id": "p", "app_data": {"version": 8, "properties": {"name": name}}, "nodes": [
            {"id": node_id, "type": "execution_node", "op": "execute-python-node", "app_data": {
                "label": "x", "component_parameters": {"filename": "a.py", "runtime_image": "python:3.11"}}}
            for node_id in ("a", "b")]}]}
    workflow = t3qkfp.compile(document, base_dir=tmp_path, storage=STORAGE, deterministic=True)
    assert workflow["metadata"]["generateName"] == f"{name}-"
    assert workflow["spec"]["entrypoint"] == name
    tasks = [t["name"] for t in workflow["spec"]["templates"] if "container" in t]
    assert len(set(tasks)) == 2 and name not in tasks


def test_ancestors_reach_a_node_farthest_first_so_the_nearer_copy_of_a_file_stays(tmp_path):
    """Z prep -> A clean -> Report, both writing data.csv: Report must see A clean's, whatever the names."""
    from t3qkfp import nodespec

    (tmp_path / "a.py").write_text("print('a')\n")
    nodes = []
    for node_id, label, parent, outputs in (("z", "Z prep", None, ["data.csv"]), ("a", "A clean", "z", ["data.csv"]),
                                            ("s", "Side", None, ["side.csv"]), ("r", "Report", "a", [])):
        links = [{"id": f"l-{node_id}", "node_id_ref": parent, "port_id_ref": "outPort"}] if parent else []
        nodes.append({"id": node_id, "type": "execution_node", "op": "execute-python-node",
                      "inputs": [{"id": "inPort", "links": links + ([{"id": "l-s", "node_id_ref": "s"}]
                                                                    if node_id == "a" else [])}],
                      "app_data": {"label": label, "component_parameters": {
                          "filename": "a.py", "runtime_image": "python:3.11", "outputs": outputs}}})
    document = {"doc_type": "pipeline", "version": "3.0", "id": "d", "primary_pipeline": "p", "pipelines": [{
        "id": "p", "app_data": {"version": 8, "properties": {"name": "chain"}}, "nodes": nodes}]}
    workflow = t3qkfp.compile(document, base_dir=tmp_path, storage=STORAGE, deterministic=True)
    specs = {}
    for template in workflow["spec"]["templates"]:
        for env in template.get("container", {}).get("env", []):
            if env["name"] == nodespec.NODE_ENV:
                specs[template["name"]] = nodespec.decode(env["value"])
    # Each spec names its parents only (the runtime follows their manifests' lineage); the
    # positions put every ancestor after its own ancestors, ties by task name.
    assert specs["report"].parents == ("a-clean",)
    assert specs["a-clean"].parents == ("z-prep", "side")
    order = sorted(specs, key=lambda task: specs[task].position)
    assert order == ["side", "z-prep", "a-clean", "report"]


def test_yaml_grows_linearly_in_a_chain_whose_nodes_all_declare_outputs(tmp_path):
    """Ancestors' outputs are not listed per descendant: per-node size is flat from 20 to 200."""
    def per_node(count):
        nodes = []
        for i in range(count):
            (tmp_path / f"n{i}.py").write_text("print('x')\n")
            links = [{"id": f"l{i}", "node_id_ref": f"id{i - 1}", "port_id_ref": "outPort"}] if i else []
            nodes.append({"id": f"id{i}", "type": "execution_node", "op": "execute-python-node",
                          "inputs": [{"id": "inPort", "links": links}],
                          "app_data": {"label": f"Step {i}", "component_parameters": {
                              "filename": f"n{i}.py", "runtime_image": "python:3.11", "outputs": [f"out{i}.csv"]}}})
        document = {"doc_type": "pipeline", "version": "3.0", "id": "d", "primary_pipeline": "p",
                    "pipelines": [{"id": "p", "app_data": {"version": 8}, "nodes": nodes}]}
        compiled = compile_pipeline(document, base_dir=tmp_path, storage=STORAGE, deterministic=True)
        return len(compiled.yaml) / count
    assert per_node(200) <= 1.05 * per_node(20)


def test_a_model_changed_in_python_is_checked_again_and_compiles_with_int_resources():
    import dataclasses

    model = t3qkfp.load(EXAMPLE)
    node = dataclasses.replace(model.nodes[0], resources=dataclasses.replace(model.nodes[0].resources, cpu=2, memory=3))
    changed = dataclasses.replace(model, nodes=(node, *model.nodes[1:]))
    workflow = t3qkfp.compile(changed, storage=STORAGE, deterministic=True)
    resources = [t["container"]["resources"] for t in workflow["spec"]["templates"] if "container" in t]
    assert {"cpu": "2", "memory": "3G"} in [r.get("requests") for r in resources]
    broken = dataclasses.replace(model, nodes=(dataclasses.replace(model.nodes[0], filename="gone.ipynb"),
                                               *model.nodes[1:]))
    with pytest.raises(t3qkfp.PipelineError, match="gone.ipynb"):
        t3qkfp.compile(broken, storage=STORAGE)
    with pytest.raises(t3qkfp.UsageError, match="not to a loaded Pipeline"):
        t3qkfp.load(model, base_dir=EXAMPLE.parent)


def test_defaults_the_kfp_dashboard_would_trim_are_named_in_a_warning(tmp_path, caplog):
    (tmp_path / "a.py").write_text("print('a')\n")
    # Elyra strips env var values, but pipeline parameters (Elyra 3.14+) keep their spaces
    declared = [{"name": name, "default_value": {"type": "String", "value": value}, "required": False}
                for name, value in (("PADDED", " x "), ("TAB", "y\t"), ("PLAIN", "z"))]
    document = {"doc_type": "pipeline", "version": "3.0", "id": "d", "primary_pipeline": "p", "pipelines": [{
        "id": "p", "app_data": {"version": 8, "properties": {"name": "ws", "pipeline_parameters": declared}}, "nodes": [
            {"id": "a", "type": "execution_node", "op": "execute-python-node", "app_data": {
                "label": "a", "component_parameters": {"filename": "a.py", "runtime_image": "python:3.11",
                                                       "pipeline_parameters": ["PADDED", "TAB", "PLAIN"]}}}]}]}
    with caplog.at_level("WARNING", logger="t3qkfp"):
        workflow = t3qkfp.compile(document, base_dir=tmp_path, storage=STORAGE)
    warned = [r.getMessage() for r in caplog.records if "trims" in r.getMessage()]
    assert len(warned) == 1 and "run parameters 'PADDED', 'TAB' have leading or trailing whitespace" in warned[0]
    assert "PLAIN" not in warned[0]
    defaults = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert defaults["PADDED"] == " x "  # kept exactly: only the dashboard trims


def test_compile_leaves_the_cycle_collector_as_it_found_it(tmp_path):
    import gc
    assert gc.isenabled()
    compile_pipeline(EXAMPLE, storage=STORAGE, deterministic=True)
    assert gc.isenabled()
    broken = tmp_path / "broken.pipeline"
    broken.write_text("{")
    with pytest.raises(t3qkfp.T3qkfpError):
        compile_pipeline(broken, storage=STORAGE)
    assert gc.isenabled()
    gc.disable()
    try:
        compile_pipeline(EXAMPLE, storage=STORAGE, deterministic=True)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_loader_is_written_once_as_the_workflow_s_pod_spec_patch(tmp_path):
    """Every template carries the same placeholder; spec.podSpecPatch (Argo merges it into every
    pod's main container) holds the loader once, and the placeholder fails loudly on its own."""
    import subprocess
    import sys
    from t3qkfp.runtime.command import container_command, placeholder_command

    workflow = t3qkfp.compile(EXAMPLE, storage=STORAGE, deterministic=True)
    containers = [t["container"] for t in workflow["spec"]["templates"] if "container" in t]
    assert len(containers) > 1 and all(c["command"] == placeholder_command() for c in containers)
    patch = json.loads(workflow["spec"]["podSpecPatch"])
    assert patch == {"containers": [{"name": "main", "command": container_command()}]}
    assert go_yaml.dump(workflow).count("base64.b64decode(") == 1
    done = subprocess.run([sys.executable, *placeholder_command()[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("t3qkfp: this Argo ignored spec.podSpecPatch, which runs the node; "
                                   "Argo 2.4 or later applies it")


def test_every_run_parameter_reaches_its_container_as_a_v1envvar_holding_a_pipelineparam():
    """The mission's mechanism, kept as code a kfp user would write: PipelineParam in V1EnvVar."""
    from kfp import dsl
    from kubernetes.client import V1EnvVar

    from t3qkfp import kfp_build, node_files
    from t3qkfp.runtime.command import runtime_helper
    from t3qkfp.elyra_reader import load_checked

    loaded = load_checked(ROOT / "tests" / "cases" / "fan_in_fan_out" / "input.pipeline")
    plan = t3qkfp.plan(loaded.pipeline)
    config = StorageConfig()
    archives = node_files.node_archives(loaded.pipeline, loaded.members)
    builds = {node_id: kfp_build.NodeBuild(archive_sha256=a.sha256, runtime_sha256=runtime_helper()[1])
              for node_id, a in archives.items()}
    func, params_list = kfp_build.build(loaded.pipeline, plan, config, builds)
    with dsl.Pipeline("probe") as probe:
        func()
    assert {p.name for p in params_list} == {p.name for p in plan.parameters}
    carried_any = False
    for op in probe.ops.values():
        env = op.container.env
        assert env and all(isinstance(entry, V1EnvVar) for entry in env)
        carried = {entry.name: entry.value for entry in env if isinstance(entry.value, dsl.PipelineParam)}
        node_id = next(n.id for n in loaded.pipeline.nodes if plan.task(n.id) == op.name)
        assert {name: p.name for name, p in carried.items()} == \
            {b.env_name: b.param for b in plan.bindings_of(node_id)}
        carried_any = carried_any or bool(carried)
    assert carried_any
