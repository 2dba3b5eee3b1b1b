"""The reader: every format version gives the same model for the same pipeline, and Elyra's rules hold."""
from __future__ import annotations

import json

import pytest

import t3qkfp
from conftest import ROOT, TESTS
from t3qkfp.elyra_reader import load
from t3qkfp.model import EnvSetting, NodeKind, ParamType, Resources, SecretEnv

EXAMPLES = ROOT / "examples" / "churn"


def strip_origin(pipeline):
    """Compare models across formats: only where an env var was written (field path) may differ."""
    return [(n.id, n.label, n.kind, n.filename, n.runtime_image, [(e.name, e.value) for e in n.env],
             n.dependencies, n.outputs, n.resources, n.parents) for n in pipeline.nodes]


def test_elyra2_and_newest_files_read_to_the_same_nodes():
    old = load(EXAMPLES / "churn-elyra2.pipeline")
    new = load(EXAMPLES / "churn.pipeline")
    assert old.format_version == 3 and new.format_version == 8
    assert strip_origin(old) == strip_origin(new)
    train = new.nodes[1]
    assert train.kind is NodeKind.PYTHON and train.resources == Resources(cpu=2.0, memory=2.0)
    assert train.parents == (new.nodes[0].id,)


def test_model_is_immutable_and_comparable():
    first, second = load(EXAMPLES / "churn.pipeline"), load(EXAMPLES / "churn.pipeline")
    assert first == second
    with pytest.raises(AttributeError):
        first.nodes[0].label = "x"  # type: ignore[misc]


def test_v3_env_strings_split_on_the_first_equals_and_are_stripped_as_elyra_2_strips_them(caplog):
    with caplog.at_level("WARNING", logger="t3qkfp"):
        pipeline = load(TESTS / "cases" / "v3_kv_env" / "input.pipeline")
    env = {e.name: e.value for e in pipeline.nodes[0].env}
    assert env["URL"] == "http://host/path?a=b=c"
    # Elyra 2.2.4 processor_kfp.py:402 strips spaces and quotes from both sides of name and value.
    assert env["EMPTY"] == "" and env["SPACES"] == "padded" and env["QUOTED"] == "1"
    assert env["column"] == "finding" and env["Q"] == "hello world"
    warned = [r.getMessage() for r in caplog.records]
    for name in ("QUOTED", "SPACES", "column", "Q"):
        assert any(f"read as name {name!r}" in w and "node 'Prepare data' (n-prepare)" in w
                   and "app_data.env_vars[" in w for w in warned), (name, warned)
    assert not any("'URL'" in w or "'EMPTY'" in w for w in warned)  # unchanged text: no warning
    assert "" not in env  # an empty editor row is not an env var
    clean = pipeline.nodes[1]
    assert clean.label == "clean"  # no label: Elyra 2.x names the node after its file, without extension


def test_pipeline_defaults_merge_with_node_values_winning():
    pipeline = load(TESTS / "cases" / "v7_pipeline_defaults" / "input.pipeline")
    a, b, c = pipeline.nodes
    assert [(e.name, e.value, e.from_defaults) for e in a.env] == [
        ("SEED", "2", False), ("ONLY_A", "x", False), ("REGION", "eu", True)]
    assert [(e.name, e.value) for e in b.env] == [("REGION", "eu"), ("SEED", "1")]
    assert a.runtime_image == b.runtime_image == "registry.example.com/ml/runtime:1.0"
    assert c.runtime_image == "registry.example.com/other:2"
    assert pipeline.name == "Defaults demo"


def test_v8_dicts_pipeline_parameters_and_secrets():
    pipeline = load(TESTS / "cases" / "v8_pipeline_parameters" / "input.pipeline")
    fetch = pipeline.nodes[0]
    assert EnvSetting(name="NO_VALUE", value="", field="component_parameters.env_vars[1]") in fetch.env
    assert fetch.secrets == (SecretEnv(name="DB_PASSWORD", secret="db-credentials", key="password"),)
    params = {p.name: (p.type, p.default) for p in pipeline.parameters}
    assert params == {"claim_id": (ParamType.INTEGER, "7"), "threshold": (ParamType.FLOAT, "0.75"),
                      "verbose": (ParamType.BOOL, "False"), "model_name": (ParamType.STRING, ""),
                      "unused": (ParamType.STRING, "kept")}
    plan = t3qkfp.plan(pipeline)
    assert "unused" not in {p.name for p in plan.parameters}  # as in Elyra: no node receives it
    assert {b.env_name for b in plan.bindings_of(fetch.id)} == {"ENDPOINT", "NO_VALUE", "claim_id", "verbose"}


def test_secret_env_var_beats_a_plain_env_var_of_the_same_name():
    document = json.loads((TESTS / "cases" / "v8_pipeline_parameters" / "input.pipeline").read_text())
    params = document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]
    params["env_vars"].append({"env_var": "DB_PASSWORD", "value": ""})
    pipeline = load(document, base_dir=TESTS / "cases" / "v8_pipeline_parameters")
    assert "DB_PASSWORD" not in {e.name for e in pipeline.nodes[0].env}


def test_numeric_strings_for_resources_and_links_deduplicated():
    document = json.loads((EXAMPLES / "churn.pipeline").read_text())
    node = document["pipelines"][0]["nodes"][1]
    node["app_data"]["component_parameters"].update(cpu="1.5", memory="4", gpu=2)
    node["inputs"][0]["links"].append(dict(node["inputs"][0]["links"][0]))
    pipeline = load(document, base_dir=EXAMPLES)
    assert pipeline.nodes[1].resources == Resources(cpu=1.5, memory=4.0, gpu=2)
    assert len(pipeline.nodes[1].parents) == 1


@pytest.mark.parametrize("text", [b"null", b"3", b'"x"', b"[]", b"true"])
def test_a_json_document_that_is_no_object_is_refused_as_no_pipeline(text, tmp_path):
    # JSON `null` used to end in a bare AssertionError: it parsed to None with no problem noted
    with pytest.raises(t3qkfp.PipelineError) as err:
        t3qkfp.load(text)
    assert "not an Elyra pipeline document" in str(err.value)
    path = tmp_path / "null.pipeline"
    path.write_bytes(b"null")
    with pytest.raises(t3qkfp.PipelineError) as err:
        t3qkfp.load(path)
    assert str(path) in str(err.value) and "no 'pipelines' list" in str(err.value)
