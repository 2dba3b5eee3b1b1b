"""Property suite (research/reliability.md §8): random valid Elyra pipelines and random mutations.

hypothesis draws pipelines of every format version (3-8): random DAGs, labels, env names that
collide after kfp's sanitizing or by case, defaults that are special for YAML 1.1, Argo or the
kubelet, values up to the size limits, pipeline defaults (v7+) and pipeline parameters (v8).
Invariants on the real compile: it succeeds or raises t3qkfp's own T3qkfpError, never another
exception; the workflow passes every rule of workflow_checks (each env var templated in its
container, Argo's substitution gives each container exactly its defaults, DAG = links, Go-safe
YAML); each parameter's default is the value every node it feeds was given (no two distinct
values share a parameter); the bytes are deterministic; the parameters stay under the API
server's limit; and the YAML reads back byte-exactly through the server's Go YAML path.

Seeded and reproducible: the "t3qkfp" settings profile derandomizes (same examples every run,
no example database). A failure prints the pipeline JSON (hypothesis `note`). The counts of
examples run are printed at the end of the session (conftest's terminal summary).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

from t3qkfp import T3qkfpError
from t3qkfp.compiler import compile_pipeline
from t3qkfp.params import MAX_PARAMETER_BYTES
from t3qkfp.storage_settings import StorageConfig
from workflow_checks import all_problems

settings.register_profile("t3qkfp", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])
settings.load_profile("t3qkfp")
VALID_EXAMPLES = 700
MUTATED_EXAMPLES = 1300
COUNTS: dict[str, int] = {}  # printed by conftest.pytest_terminal_summary

FILES = {"execute-python-node": "step.py", "execute-notebook-node": "step.ipynb", "execute-r-node": "step.r"}
IMAGE = "registry.example.com/ml/runtime:1.0"
# Env names: valid ones that collide by case, by kfp's sanitizing (x__y / x-y / x.y) or are plain.
VALID_NAMES = ["A", "a", "B_1", "a_b", "A_B", "x__y", "X_Y", "Mixed_Case", "_U", "N" * 40]
HAZARD_NAMES = ["LONG_" + "Q" * 120, "X-Y", "X.Y", "1A", "PATH", "HOME", "PYTHONPATH", "GIT_SSH_COMMAND", "DB_PASSWORD"]
ENV_NAMES = VALID_NAMES + HAZARD_NAMES
PRINTABLE = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"))
ANY_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs",))
SPECIAL = ["", " ", "yes", "No", "on", "OFF", "y", "n", "~", "null", "NULL", "true", "False", "08", "0o17",
           "0x1F", "1e3", "1_000", "+1", "-0", ".5", "1.", ".inf", "-.Inf", ".NaN", "<<", "=", "a=b=c",
           "2001-12-14", "12:30:45", "1:20", "#x", "x #y", "- x", "? x", ": x", "!tag", "&a", "*a", "|",
           ">", "'q'", '"q"', "%x", "@x", "`x", "{x}", "[x]", "{{workflow.name}}", "{{x", "x}}", "{{",
           "$(HOME)", "$$(HOME)", "$(", "$", "5$€", "a\nb", "a\tb", "  padded  ", "\u2028", "\u2029",
           "\x85", "\ufeff", "é", "Grüße ✓ 😀", "<&>", "\b\f", "\\", "\\n", "${X}", "%(x)s"]


def value_strategy(hostile: bool) -> st.SearchStrategy[str]:
    """Defaults: YAML/Argo/kubelet-special ones, random text (any character when hostile), big ones."""
    return st.one_of(
        st.sampled_from(SPECIAL),
        st.text(ANY_CHAR if hostile else PRINTABLE, max_size=20),
        st.sampled_from(SPECIAL).flatmap(lambda s: st.text(st.sampled_from("ab 1$:#{}"), max_size=4)
                                         .map(lambda t: s + t)),
        st.integers(min_value=1, max_value=5).map(lambda k: "v" * (k * 2400)),  # near/over 10,000 bytes
    )


def _kept_by_elyra(value: str) -> str:
    """A value every Elyra keeps as written (they strip edge whitespace, Elyra 2 also quotes)."""
    while value != (stripped := value.strip().strip("'\"")):
        value = stripped
    return value


@st.composite
def pipelines(draw) -> tuple[dict[str, Any], dict[str, dict[str, str]], set[tuple[str, str]]]:
    """(Elyra document, {node id: {env name: value}} as the file gives it, {(parent id, child id)})."""
    version = draw(st.integers(3, 8))
    hostile = draw(st.booleans())  # names and labels from every character, or only from accepted ones
    env_name = st.sampled_from(ENV_NAMES if hostile else VALID_NAMES)
    label_text = st.text(ANY_CHAR if hostile else PRINTABLE, max_size=30)
    count = draw(st.integers(1, 5))
    ids = [f"n{i}-{draw(st.sampled_from(['a', 'b', 'Z', '0']))}" for i in range(count)]
    defaults_env: dict[str, str] = {}
    if version >= 7 and draw(st.booleans()):
        defaults_env = draw(st.dictionaries(env_name, value_strategy(hostile), max_size=3))
        defaults_env = {k: _kept_by_elyra(v) for k, v in defaults_env.items()}
    nodes, env_of, edges = [], {}, set()
    for index, node_id in enumerate(ids):
        op = draw(st.sampled_from(sorted(FILES)))
        parents = draw(st.lists(st.sampled_from(ids[:index]), unique=True, max_size=3)) if index else []
        edges |= {(p, node_id) for p in parents}
        env = draw(st.dictionaries(env_name, value_strategy(hostile), max_size=4))
        env = {k: _kept_by_elyra(v) for k, v in env.items()}
        env_of[node_id] = {**defaults_env, **env}
        label = draw(st.one_of(label_text, st.sampled_from(["Step", "step", "STEP", "-", "9", "a" * 80])))
        if version == 8:
            env_list: list[Any] = [{"env_var": k, "value": v} for k, v in env.items()]
        else:
            env_list = [f"{k}={v}" for k, v in env.items()]
        props = {"filename": FILES[op], "runtime_image": IMAGE, "env_vars": env_list, "dependencies": [],
                 "include_subdirectories": False, "outputs": []}
        links = [{"id": f"l-{p}-{node_id}", "node_id_ref": p, "port_id_ref": "outPort"} for p in parents]
        if version >= 4:
            app_data = {"label": label, "component_parameters": props, "ui_data": {"label": label}}
        else:
            app_data = {**props, "ui_data": {"label": label}}
        nodes.append({"id": node_id, "type": "execution_node", "op": op, "app_data": app_data,
                      "inputs": [{"id": "inPort", "links": links}], "outputs": [{"id": "outPort"}]})
    properties: dict[str, Any] = {"name": draw(st.one_of(st.just("props"), label_text))}
    if defaults_env:
        properties["pipeline_defaults"] = {"env_vars": [{"env_var": k, "value": v} for k, v in defaults_env.items()]
                                           if version == 8 else [f"{k}={v}" for k, v in defaults_env.items()]}
    app = {"version": version, "properties": properties} if version >= 6 else {"version": version}
    doc = {"doc_type": "pipeline", "version": "3.0", "id": "doc", "primary_pipeline": "main",
           "pipelines": [{"id": "main", "nodes": nodes, "app_data": app, "runtime_ref": ""}], "schemas": []}
    return doc, env_of, edges


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("props")
    (root / "step.py").write_text("print('step')\n")
    (root / "step.r").write_text("cat('step')\n")
    (root / "step.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return root


def _count(key: str) -> None:
    COUNTS[key] = COUNTS.get(key, 0) + 1


def _compile(doc: Any, workspace: Path):
    """The real compile; only T3qkfpError may come out (returned as None)."""
    try:
        return compile_pipeline(doc, base_dir=workspace, storage=StorageConfig(), deterministic=True)
    except T3qkfpError as error:
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        assert message.strip(), "a T3qkfpError without a message"
        return None


@given(case=pipelines())
@settings(max_examples=VALID_EXAMPLES)
def test_random_pipelines_compile_right_or_are_refused(case, workspace, go_reader, tmp_path_factory):
    doc, env_of, edges = case
    note(f"pipeline: {json.dumps(doc, ensure_ascii=False)}")
    _count("valid: examples")
    result = _compile(doc, workspace)
    if result is None:
        _count("valid: refused with T3qkfpError")
        return
    _count("valid: compiled")
    plan = result.plan
    links = {(plan.task(p), plan.task(c)) for p, c in edges}
    assert all_problems(result.workflow, result.yaml, plan, links) == []
    # Each parameter's default is exactly what every node it feeds was given: no two values share one.
    for node_id, task in plan.tasks:
        bound = {b.env_name: plan.parameter(b.param).default for b in plan.bindings_of(node_id)}
        given_env = {k: v for k, v in env_of[node_id].items() if k in bound}
        assert bound == given_env, (task, bound, env_of[node_id])
    assert plan.argument_bytes() <= MAX_PARAMETER_BYTES
    again = _compile(copy.deepcopy(doc), workspace)
    assert again is not None and again.yaml == result.yaml, "compiling twice gave different bytes"
    path = tmp_path_factory.getbasetemp() / "props-readback.yaml"
    path.write_text(result.yaml, encoding="utf-8")
    (read,) = go_reader([path])
    assert "error" not in read, read
    expected = [{"name": p.name, "value": p.default} for p in plan.parameters]
    assert sorted(read["parameters"], key=lambda p: p["name"]) == sorted(expected, key=lambda p: p["name"])
    assert read["bytes"] == plan.argument_bytes(), "t3qkfp's count differs from Go's json.Marshal"


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
              st.sampled_from(SPECIAL + ENV_NAMES + list(FILES) + list(FILES.values()) + ["../x.py", "/etc/passwd"]),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _nodes(doc: Any) -> Any:
    """The primary pipeline's node list if the mutations left it in place, else None."""
    pipelines_ = doc.get("pipelines") if isinstance(doc, dict) else None
    if isinstance(pipelines_, list) and pipelines_ and isinstance(pipelines_[0], dict):
        return pipelines_[0].get("nodes")
    return None


@st.composite
def mutated(draw) -> dict[str, Any]:
    doc, _, _ = draw(pipelines())
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["set", "delete", "link", "cycle"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "set":
            parent[path[-1]] = draw(JSON_VALUES)
        else:
            nodes = _nodes(doc)
            if not isinstance(nodes, list) or not nodes or not all(isinstance(n, dict) for n in nodes):
                continue
            target = draw(st.sampled_from(nodes))
            ref = nodes[-1].get("id") if action == "cycle" else draw(st.sampled_from(["nowhere", "doc", "main"]))
            if isinstance(target.get("inputs"), list) and target["inputs"] and isinstance(target["inputs"][0], dict):
                links = target["inputs"][0].setdefault("links", [])
                if isinstance(links, list):
                    links.append({"id": "added", "node_id_ref": ref, "port_id_ref": "outPort"})
    return doc


@given(doc=mutated())
@settings(max_examples=MUTATED_EXAMPLES)
def test_mutated_pipelines_never_raise_a_foreign_exception(doc, workspace):
    note(f"pipeline: {json.dumps(doc, ensure_ascii=False, default=str)}")
    _count("mutated: examples")
    result = _compile(doc, workspace)
    _count("mutated: refused with T3qkfpError" if result is None else "mutated: compiled")
    if result is not None:
        plan = result.plan
        assert all_problems(result.workflow, result.yaml, plan) == []
        assert plan.argument_bytes() <= MAX_PARAMETER_BYTES
