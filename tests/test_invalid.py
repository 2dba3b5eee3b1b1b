"""One test per validation problem (issue 2, item 3): tests/invalid/<case>.pipeline → <case>.error.txt.

Each case runs through the real CLI (`python -m t3qkfp validate <case>.pipeline`, cwd tests/invalid)
and must exit 1 with stderr byte-identical to <case>.error.txt (the absolute tests/invalid folder,
which some hints name, is written as <tests/invalid>). The same file through the API
(`load()` + `plan()`) must raise PipelineError whose problems print as the same lines and carry a
file and, for node problems, the node id, label and field. tests/invalid/README.md lists the cases.
Regenerate the goldens with T3QKFP_REGENERATE=1 (refused when CI is set), then read the diff.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import t3qkfp
from invalid_helpers import (DIR_TOKEN, INVALID, extra_args, invalid_cases, normalized, ok_cases,
                             regenerating, run_validate, scope_of)
from t3qkfp import PipelineError, T3qkfpError
from t3qkfp.params import plan

CASES = invalid_cases()

# Cases whose every problem is about one node: each must name the node (id and label) and a field.
NODE_LEVEL = {
    "op_custom_component", "super_node", "missing_runtime_image", "file_missing", "file_absolute",
    "file_escaping", "file_no_name", "file_wrong_extension", "dependency_missing", "dependency_absolute",
    "dependency_escaping", "output_absolute", "self_link", "link_to_missing_node", "duplicate_node_id",
    "env_name_invalid", "env_name_invalid_kv", "env_duplicate_kv", "env_duplicate_dict", "env_no_equals_sign",
    "resources_invalid", "env_reserved", "env_reserved_defaults", "env_credential", "braces_env_value",
    "control_characters", "control_character_label", "elyra_param_undefined", "secret_invalid",
    "env_reserved_interpreters", "label_not_text", "param_name_too_long",
}
# Cases about the file or the pipeline as a whole: no problem may pretend to be about a node.
DOCUMENT_LEVEL = {
    "not_json", "not_a_pipeline_document", "json_nan", "json_infinity", "json_duplicate_key",
    "version_newer", "version_too_old", "version_missing", "version_not_a_number", "no_nodes",
    "doc_type_other", "primary_pipeline_missing", "cycle", "param_collision", "param_collision_elyra",
    "parameters_too_big", "elyra_param_bad_name", "elyra_param_duplicate", "scope_pipeline_conflict",
}
# What each case's golden must at least mention, so a regenerated golden cannot quietly lose the point.
MUST_MENTION = {
    "op_custom_component": ["local-directory-catalog:0a1b2c3d4e5f", "not supported"],
    "cycle": ["'Load' (n-a)", "'Clean' (n-b)", "'Fit' (n-c)"],
    "param_collision": ["train_LR"],
    "param_collision_elyra": ["alpha_LR"],
    "parameters_too_big": ["10000", "BIG_TEXT", "MEDIUM_TEXT"],
    "scope_pipeline_conflict": ["EPOCHS", "'10'", "'20'"],
    "json_nan": ["NaN"], "json_infinity": ["Infinity"], "json_duplicate_key": ["duplicate", "filename"],
    "version_newer": ["9"], "version_too_old": ["2"],
    "env_name_invalid": ["'MY-VAR'", "'1ABC'", "'é'", "'MY VAR'"],
    "env_reserved": ["'PATH'", "'LD_PRELOAD'", "'PYTHONPATH'", "'BASH_ENV'", "'AWS_SECRET_ACCESS_KEY'",
                     "'http_proxy'", "'T3QKFP_NODE'"],
    "env_credential": ["'HF_TOKEN'", "'DB_PASSWORD'", "'PGPASSWORD'", "'AZURE_STORAGE_KEY'"],
    "env_reserved_interpreters": ["'NODE_OPTIONS'", "'R_LIBS_USER'", "'SSL_CERT_FILE'", "'PYTHONBREAKPOINT'"],
    "param_name_too_long": ["128", "'train'", "'tune'"],
    "label_not_text": ["app_data.label", "app_data.ui_data.label"],
    "control_characters": ["U+0007", "U+E0067", "U+007F"],
    "braces_static_strings": ["app_data.properties.name", "runtime_image", "label"],
}


def golden_path(name: str) -> Path:
    return INVALID / f"{name}.error.txt"


def test_every_case_has_a_golden_and_the_folder_nothing_stray():
    names = set(CASES)
    goldens = {p.name[: -len(".error.txt")] for p in INVALID.glob("*.error.txt")}
    assert goldens == names, f"goldens without case: {goldens - names}; cases without golden: {names - goldens}"
    for args in INVALID.glob("*.args"):
        assert args.stem in names or args.stem in ok_cases(), args


@pytest.mark.parametrize("name", CASES)
def test_cli_reports_exactly_the_golden(name):
    result = run_validate(f"{name}.pipeline", INVALID, extra_args(name))
    stderr = normalized(result.stderr)
    path = golden_path(name)
    if regenerating():
        path.write_bytes(stderr.encode("utf-8"))
    assert result.returncode == 1, (result.returncode, stderr)
    assert result.stdout == b""
    expected = path.read_bytes().decode("utf-8")
    assert stderr == expected
    lines = stderr.splitlines()
    count = len(lines) - 1
    assert lines[0] == f"{count} problem{'s' if count != 1 else ''} found:"
    for line in lines[1:]:
        assert line.startswith(f"{name}.pipeline: "), line
    for text in MUST_MENTION.get(name, []):
        assert text in stderr, text


@pytest.mark.parametrize("name", CASES)
def test_api_raises_pipeline_error_with_locations(name, monkeypatch):
    monkeypatch.chdir(INVALID)
    file_name = f"{name}.pipeline"
    with pytest.raises(PipelineError) as info:
        plan(t3qkfp.load(file_name), scope=scope_of(extra_args(name)))
    problems = info.value.problems
    assert problems
    for problem in problems:
        where = problem.location
        assert where.file == file_name
        assert problem.message.strip()
        if where.node_id is not None or where.node_label is not None:
            assert where.node_id and where.node_label and where.field, problem
        if name in NODE_LEVEL:
            assert where.node_id and where.node_label and where.field, problem
        if name in DOCUMENT_LEVEL:
            assert where.node_id is None and where.node_label is None, problem
    # The CLI prints exactly these problems, in this order.
    expected = golden_path(name).read_bytes().decode("utf-8")
    actual = info.value.format_message().replace(str(INVALID), DIR_TOKEN) + "\n"
    assert actual == expected


@pytest.mark.parametrize("name", CASES)
def test_api_accepts_text_bytes_and_dict_alike(name):
    """The same document as JSON text, bytes or a dict is refused too (never another exception)."""
    raw = (INVALID / f"{name}.pipeline").read_bytes()
    forms: list[object] = [raw, raw.decode("utf-8")]
    try:
        forms.append(json.loads(raw))
    except ValueError:
        pass
    for form in forms:
        with pytest.raises(PipelineError):
            plan(t3qkfp.load(form, base_dir=INVALID), scope=scope_of(extra_args(name)))


def test_several_problems_are_reported_together():
    text = golden_path("many_problems").read_text(encoding="utf-8")
    lines = text.splitlines()[1:]
    assert len(lines) >= 8
    for expected in ("'MY-VAR'", "'PATH'", "'{{' or '}}'", "cpu", "no runtime image", "missing.ipynb",
                     "'n-nowhere'", "'some-catalog:ffff'"):
        assert any(expected in line for line in lines), expected
    assert {line.split(": ")[1] for line in lines} >= {"node 'Prepare' (n-prep)", "node 'Train' (n-train)",
                                                       "node 'Custom' (n-custom)"}


# -- scope="pipeline": conflicting defaults --------------------------------------------------------

def test_scope_pipeline_conflict_via_api():
    pipeline = t3qkfp.load(INVALID / "scope_pipeline_conflict.pipeline")
    with pytest.raises(PipelineError) as info:
        plan(pipeline, scope="pipeline")
    (problem,) = info.value.problems
    assert "EPOCHS" in problem.message and "'Prepare'" in problem.message and "'Train'" in problem.message
    assert problem.location.field == "env var EPOCHS"
    # The same file is fine where parameters may be per node; SEED (equal defaults) stays shared.
    auto = plan(pipeline, scope="auto")
    assert sorted(p.name for p in auto.parameters if p.env_name == "EPOCHS") == ["prepare_EPOCHS", "train_EPOCHS"]
    assert [p.scope for p in auto.parameters if p.env_name == "SEED"] == ["pipeline"]
    assert all(p.scope == "node" for p in plan(pipeline, scope="node").parameters)


def test_scope_pipeline_conflict_via_cli_only_with_the_option():
    assert run_validate("scope_pipeline_conflict.pipeline", INVALID).returncode == 0
    assert run_validate("scope_pipeline_conflict.pipeline", INVALID, ["--scope", "pipeline"]).returncode == 1


# -- a symlinked dependency that leads outside the pipeline folder ---------------------------------

def _symlink_project(tmp_path: Path, dependencies: list[str], filename: str = "files/prep.py") -> Path:
    project = tmp_path / "project"
    (project / "files").mkdir(parents=True)
    shutil.copy(INVALID / "files" / "prep.py", project / "files" / "prep.py")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "credentials").write_text("secret\n")
    (tmp_path / "outside" / "steal.py").write_text("print('x')\n")
    (project / "files" / "creds.txt").symlink_to(tmp_path / "outside" / "credentials")
    (project / "files" / "sub").mkdir()
    (project / "files" / "sub" / "creds").symlink_to(Path("..", "..", "..", "outside", "credentials"))
    (project / "files" / "linked_dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (project / "files" / "inside.txt").symlink_to("prep.py")  # a link that stays inside is fine
    (project / "files" / "main.py").symlink_to(tmp_path / "outside" / "steal.py")
    document = json.loads((INVALID / "ok_kv_empty_value.pipeline").read_text(encoding="utf-8"))
    params = document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]
    params["dependencies"] = dependencies
    params["filename"] = filename
    (project / "link.pipeline").write_text(json.dumps(document, indent=1), encoding="utf-8")
    return project


@pytest.mark.parametrize("dependency", ["creds.txt", "sub/creds", "sub/*", "linked_dir/credentials", "*.txt"])
def test_symlinked_dependency_leading_outside_is_refused(tmp_path, monkeypatch, dependency):
    project = _symlink_project(tmp_path, [dependency])
    monkeypatch.chdir(project)
    with pytest.raises(PipelineError) as info:
        t3qkfp.load("link.pipeline")
    (problem,) = info.value.problems
    assert problem.location.file == "link.pipeline"
    assert (problem.location.node_id, problem.location.node_label) == ("n-prep", "Prepare")
    assert problem.location.field == "component_parameters.dependencies[0]"
    assert f"dependency {dependency!r} includes" in problem.message
    assert "leads outside the pipeline folder" in problem.message
    result = run_validate("link.pipeline", project)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == ["1 problem found:", str(problem)]


def test_symlinked_node_file_leading_outside_is_refused(tmp_path, monkeypatch):
    project = _symlink_project(tmp_path, [], filename="files/main.py")
    monkeypatch.chdir(project)
    with pytest.raises(PipelineError) as info:
        t3qkfp.load("link.pipeline")
    (problem,) = info.value.problems
    assert problem.location.field == "component_parameters.filename"
    assert problem.message == "file 'files/main.py' is outside the pipeline folder"


@pytest.mark.parametrize(("link", "target", "why"), [
    ("dangling", "nonexistent", "a link to something that does not exist"),
    ("loop", "loop", "a link that leads back to itself"),
    ("folder_link", "../sub", "a link to a folder"),
])
@pytest.mark.parametrize("via_folder", [False, True])
def test_broken_symlinked_dependency_is_a_problem_not_a_crash(tmp_path, monkeypatch, link, target, why, via_folder):
    project = _symlink_project(tmp_path, [])
    holder = project / "files" / "deps"
    holder.mkdir()
    (holder / link).symlink_to(target)
    dependency = "deps" if via_folder else f"deps/{link}"
    document = json.loads((project / "link.pipeline").read_text(encoding="utf-8"))
    params = document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]
    params.update(dependencies=[dependency], include_subdirectories=via_folder)
    (project / "link.pipeline").write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.chdir(project)
    with pytest.raises(PipelineError) as info:
        t3qkfp.load("link.pipeline")
    (problem,) = info.value.problems
    assert problem.location.field == "component_parameters.dependencies[0]"
    assert problem.message.startswith(f"dependency {dependency!r} includes 'files/deps/{link}', {why}")
    result = run_validate("link.pipeline", project)
    assert result.returncode == 1 and b"Traceback" not in result.stderr


def test_symlink_that_stays_inside_is_accepted(tmp_path, monkeypatch):
    project = _symlink_project(tmp_path, ["inside.txt"])
    monkeypatch.chdir(project)
    assert t3qkfp.load("link.pipeline").nodes[0].dependencies == ("inside.txt",)


# -- odd-looking but valid -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ok_cases())
def test_odd_but_valid_pipelines_are_accepted(name):
    result = run_validate(f"{name}.pipeline", INVALID, extra_args(name))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert result.stdout.decode().startswith(f"{name}.pipeline: valid (")


def test_odd_values_are_kept_exactly():
    pipeline = t3qkfp.load(INVALID / "ok_odd_but_valid.pipeline")
    result = plan(pipeline)
    defaults = {p.name: p.default for p in result.parameters}
    assert defaults["MAX_TOKENS"] == "512"
    assert defaults["TOKENIZER"] == "bpe"
    assert defaults["EMPTY"] == ""
    assert defaults["QUOTED"] == "say \"hi\" and 'bye'"
    assert defaults["UNICODE"] == "Grüße ✓ 😀 日本"
    assert defaults["DOLLAR"] == "$HOME $(X) $$"
    assert defaults["SINGLE_BRACE"] == "{a} }"
    assert result.parameter("P_LEADING").env_name == "_LEADING"
    kv = {p.env_name: p.default for p in plan(t3qkfp.load(INVALID / "ok_kv_empty_value.pipeline")).parameters}
    assert kv == {"K": "", "URL": "http://h/p?a=b=c", "SPACES": "a b"}


# -- regressions: bugs found by this suite, fixed; each test pins the fix -------------------------

def _ok_document() -> dict:
    return json.loads((INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8"))


def _params(document: dict, index: int = 0) -> dict:
    return document["pipelines"][0]["nodes"][index]["app_data"]["component_parameters"]


def _refused(source: object) -> PipelineError:
    """load()+plan() must refuse `source` with PipelineError; anything else fails the test."""
    try:
        plan(t3qkfp.load(source, base_dir=INVALID))
    except PipelineError as exc:
        return exc
    except T3qkfpError as exc:  # pragma: no cover - a different t3qkfp error is still a wrong answer
        pytest.fail(f"{type(exc).__name__} instead of PipelineError: {exc}")
    pytest.fail("accepted")


def test_bug_load_of_unsupported_type():
    with pytest.raises(PipelineError):
        t3qkfp.load(42)


def test_bug_huge_integer_resource():
    text = (INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8")
    assert _refused(text.replace('"cpu": "0.5"', '"cpu": 1' + "0" * 400)).problems


def test_bug_integer_longer_than_python_limit():
    text = (INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8")
    assert _refused(text.replace('"cpu": "0.5"', '"cpu": ' + "9" * 5000)).problems


def test_bug_overlong_file_name():
    document = _ok_document()
    _params(document)["filename"] = "a" * 300 + ".py"
    assert _refused(document).problems


def test_bug_unhashable_op():
    document = _ok_document()
    document["pipelines"][0]["nodes"][0]["op"] = ["execute-python-node"]
    assert _refused(document).problems


def test_bug_deeply_nested_value_in_message():
    nested: object = 1
    for _ in range(5000):
        nested = [nested]
    document = _ok_document()
    _params(document)["cpu"] = nested
    assert _refused(document).problems


def test_bug_invalid_parameter_is_not_reported_as_undefined():
    text = golden_path("elyra_param_wrong_type").read_text(encoding="utf-8")
    text += golden_path("elyra_param_required_no_value").read_text(encoding="utf-8")
    assert "does not define" not in text


@pytest.mark.parametrize("ptype,value", [("Integer", "abc"), ("Float", "x1"), ("Bool", "maybe")])
def test_bug_string_value_of_wrong_type(ptype, value):
    document = _ok_document()
    document["pipelines"][0]["app_data"]["properties"]["pipeline_parameters"] = [
        {"name": "p", "default_value": {"type": ptype, "value": value}, "required": False}]
    _params(document)["pipeline_parameters"] = ["p"]
    assert _refused(document).problems


@pytest.mark.parametrize("where,value", [("cpu", "1_0"), ("cpu", "٣"), ("memory", "1_000"), ("version", "٨")])
def test_bug_python_only_number_syntax(where, value):
    document = _ok_document()
    if where == "version":
        document["pipelines"][0]["app_data"]["version"] = value
    else:
        _params(document)[where] = value
    assert _refused(document).problems


def test_bug_unlabelled_node_problem_has_no_label():
    document = _ok_document()
    node = document["pipelines"][0]["nodes"][0]
    del node["app_data"]["label"], node["app_data"]["ui_data"]["label"]
    node["op"] = "some-catalog:0123"
    problem = next(p for p in _refused(document).problems if p.location.node_id == "n-prep")
    assert problem.location.node_label, str(problem)


@pytest.mark.parametrize("change", ["op", "type"])
def test_bug_refused_node_is_not_reported_as_missing(change):
    document = _ok_document()
    node = document["pipelines"][0]["nodes"][0]
    if change == "op":
        node["op"] = "some-catalog:0123"
    else:
        node["type"] = "super_node"
    problems = _refused(document).problems
    assert [p.location.node_id for p in problems] == ["n-prep"], [str(p) for p in problems]


def test_messages_name_no_absolute_paths():
    for name in CASES:
        assert DIR_TOKEN not in golden_path(name).read_text(encoding="utf-8"), name


def test_messages_carry_no_control_characters(tmp_path):
    document = _ok_document()
    node = document["pipelines"][0]["nodes"][0]["app_data"]
    node["label"] = node["ui_data"]["label"] = "Prep\x1b[2J\x07"
    shutil.copytree(INVALID / "files", tmp_path / "files")
    (tmp_path / "ctl.pipeline").write_text(json.dumps(document), encoding="utf-8")
    result = run_validate("ctl.pipeline", tmp_path)
    assert result.returncode == 1
    assert not any(c < 0x20 and c != 0x0A for c in result.stderr)


def test_readme_lists_every_case():
    readme = (INVALID / "README.md").read_text(encoding="utf-8")
    missing = [name for name in [*CASES, *ok_cases()] if f"`{name}`" not in readme]
    assert not missing, missing

