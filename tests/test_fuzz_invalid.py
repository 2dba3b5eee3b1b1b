"""Totality: whatever is wrong with a pipeline, load() + plan() either succeed or raise T3qkfpError.

Property-style without extra dependencies: valid pipelines of every format version (the cases of
tests/cases and the ok_* pipelines of tests/invalid) get random mutations from a seeded
random.Random — keys deleted, random JSON values of every type set at random paths, links to
random ids, cycles, duplicated nodes — and are fed as dict, JSON text and bytes. Nothing but
T3qkfpError may escape (no KeyError, TypeError, AttributeError, RecursionError, ...). Each
failure prints the seed and the mutations, so it can be replayed with fuzz_case(seed).

Crashes already reported to the lead are tolerated here by their exact signature (exception type
and the t3qkfp source line it came from) in KNOWN_CRASHES; test_invalid.py holds a strict xfail
reproduction of each. When one is fixed, remove its entry here as well.
"""
from __future__ import annotations

import copy
import json
import random
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

import t3qkfp
from invalid_helpers import INVALID
from t3qkfp import PipelineError, T3qkfpError
from t3qkfp.params import plan

TESTS = Path(__file__).resolve().parent
# (exception type, stripped source line of the innermost t3qkfp frame) — see test_invalid.py test_bug_*.
KNOWN_CRASHES: set[tuple[str, str]] = set()  # every crash found so far is fixed
SEEDS = range(20)
CASES_PER_SEED = 100
TIME_BUDGET_SECONDS = 20


def _bases() -> list[tuple[str, dict[str, Any], Path]]:
    """(name, document, folder) of every valid pipeline the tests ship."""
    sources = sorted((TESTS / "cases").glob("*/input.pipeline")) + sorted(INVALID.glob("ok_*.pipeline"))
    bases = []
    for path in sources:
        document = json.loads(path.read_text(encoding="utf-8"))
        try:
            plan(t3qkfp.load(document, base_dir=path.parent))
        except T3qkfpError:  # a base that is not valid would only test the same error again
            continue
        bases.append((f"{path.parent.name}/{path.name}", document, path.parent))
    return bases


BASES = _bases()

KEYS = ["app_data", "component_parameters", "env_vars", "env_var", "value", "filename", "runtime_image",
        "pipeline_defaults", "pipeline_parameters", "properties", "version", "nodes", "pipelines", "id",
        "op", "type", "inputs", "links", "node_id_ref", "label", "ui_data", "dependencies", "outputs",
        "include_subdirectories", "cpu", "gpu", "memory", "cpu_limit", "memory_limit", "kubernetes_secrets",
        "name", "default_value", "required", "primary_pipeline", "doc_type", "description",
        "mounted_volumes", "kubernetes_tolerations", "kubernetes_pod_annotations", "kubernetes_pod_labels",
        "kubernetes_shared_mem_size", "size", "units", "key", "path", "pvc_name", "sub_path", "read_only"]
STRINGS = ["", " ", "x", "0", "-1", "1.5", "1e3", "NaN", "inf", "true", "null", "8", "3.0", "abc",
           "execute-python-node", "execute-notebook-node", "execute-r-node", "super_node", "binding",
           "execution_node", "pipeline", "String", "Integer", "Float", "Bool", "files/prep.py",
           "files/train.ipynb", "../x.py", "/etc/passwd", "~/x", "a\\b", "a\x00b", "*", "**", "[", ".", "..",
           "PATH", "MY-VAR", "é", "HF_TOKEN", "K=V", "=", "K=", "=V", "{{workflow.name}}", "}}", "\x07",
           "\U000E0067", "\ud800", "Grüße ✓ 😀", "$(HOME)", "n-prep", "n-train", "main", "doc", "outPort",
           "G", "Equal", "Exists", "NoSchedule", "/data", "pvc", "x" * 300, "y" * 11000]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value (every JSON type, awkward numbers and strings)."""
    kind = rng.randrange(10 if depth < 3 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 2, 8, 3, 9, 2**31, 2**63, 10**30, 2**1100])
    if kind == 3:
        return rng.choice([0.0, -0.0, 0.5, 1.5, -2.5, 1e-320, 1e308, 8.0, 3.0])
    if kind in (4, 5, 6):
        return rng.choice(STRINGS) if rng.random() < 0.85 else rng.choice(KEYS)
    if kind in (7, 8):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _containers(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every dict and list inside `value`, with its path."""
    found = [(path, value)] if isinstance(value, (dict, list)) else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _containers(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _containers(child, path + (index,))
    return found


def _nodes(document: Any) -> list[dict[str, Any]]:
    try:
        return [n for n in document["pipelines"][0]["nodes"] if isinstance(n, dict)]
    except (KeyError, IndexError, TypeError):
        return []


def _link(node: dict[str, Any], ref: Any) -> None:
    inputs = node.get("inputs")
    if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
        node["inputs"] = inputs = [{"id": "inPort", "links": []}]
    links = inputs[0].get("links")
    if not isinstance(links, list):
        inputs[0]["links"] = links = []
    links.append({"id": "fuzz", "node_id_ref": ref, "port_id_ref": "outPort"})


def mutate(rng: random.Random, document: Any) -> tuple[Any, list[str]]:
    """Apply 1-6 random mutations; returns the document and a description of each."""
    log: list[str] = []
    for _ in range(rng.randint(1, 6)):
        containers = _containers(document)
        op = rng.randrange(8)
        if op in (0, 1) and containers:  # delete a key or a list entry
            path, target = rng.choice(containers)
            if target:
                key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
                del target[key]
                log.append(f"delete {path + (key,)}")
        elif op in (2, 3, 4) and containers:  # set a random value at an existing or new place
            path, target = rng.choice(containers)
            value = random_value(rng)
            if isinstance(target, dict):
                key = rng.choice(list(target)) if target and rng.random() < 0.7 else rng.choice(KEYS)
                target[key] = value
            elif target:
                key = rng.randrange(len(target))
                target[key] = value
            else:
                key = 0
                target.append(value)
            log.append(f"set {path + (key,)} = {value!r:.80}")
        elif op == 5 and _nodes(document):  # a link to a random id
            node = rng.choice(_nodes(document))
            ref = rng.choice([rng.choice(STRINGS), random_value(rng), *(n.get("id") for n in _nodes(document))])
            _link(node, ref)
            log.append(f"link {node.get('id')!r} <- {ref!r:.80}")
        elif op == 6 and len(_nodes(document)) >= 1:  # a cycle through 1-4 nodes
            members = rng.sample(_nodes(document), rng.randint(1, min(4, len(_nodes(document)))))
            for child, parent in zip(members, members[1:] + members[:1]):
                _link(child, parent.get("id"))
            log.append(f"cycle {[m.get('id') for m in members]!r}")
        elif op == 7 and _nodes(document):  # duplicate a node (same id, or a new one)
            clone = copy.deepcopy(rng.choice(_nodes(document)))
            if rng.random() < 0.5:
                clone["id"] = f"clone-{rng.randrange(100)}"
            document["pipelines"][0]["nodes"].append(clone)
            log.append(f"duplicate node as {clone.get('id')!r}")
        if not isinstance(document, dict):
            break
    return document, log


def fuzz_case(seed: int, index: int) -> tuple[str, Any, Path, list[str], str, str]:
    """The mutated input of one case: (base name, input, base dir, mutations, form, scope)."""
    rng = random.Random(seed * 100_003 + index)
    name, base, folder = rng.choice(BASES)
    document, log = mutate(rng, copy.deepcopy(base))
    form = rng.choice(["dict", "text", "bytes"])
    source: Any = document
    if form != "dict":
        try:
            text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
        except ValueError:  # e.g. an integer over Python's 4300-digit limit: only the dict form
            form, text = "dict", None
        if text is not None:
            source = text if form == "text" else text.encode("utf-8", "surrogatepass")
    return name, source, folder, log, form, rng.choice(["auto", "auto", "node", "pipeline"])


def _signature(exc: BaseException) -> tuple[str, str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/t3qkfp/" in f.filename.replace("\\", "/")]
    line = (frames[-1].line or "").strip() if frames else ""
    return type(exc).__name__, line


def _check_outcome(source: Any, folder: Path, scope: str) -> BaseException | None:
    """None when load()+plan() succeed soundly or refuse cleanly; else the offending exception."""
    try:
        pipeline = t3qkfp.load(source, base_dir=folder)
        result = plan(pipeline, scope=scope)
    except PipelineError as exc:
        assert exc.problems, "PipelineError without problems"
        for problem in exc.problems:
            assert problem.location.file, problem
            assert isinstance(problem.message, str) and problem.message, problem
            if problem.location.node_id is not None:
                # node_label may be '' for now: test_invalid.py test_bug_unlabelled_node_problem_has_no_label
                assert isinstance(problem.location.node_label, str) and problem.location.field, problem
        exc.format_message()
        return None
    except T3qkfpError:
        return None
    except Exception as exc:  # noqa: BLE001 - this is exactly what the test looks for
        return exc
    # Accepted: the result must still obey the rules validation exists for.
    names = [p.name for p in result.parameters]
    assert len(names) == len(set(names)), names
    assert result.argument_bytes() <= 10_000
    ids = [n.id for n in pipeline.nodes]
    assert len(ids) == len(set(ids)) and ids
    assert all(parent in ids and parent != n.id for n in pipeline.nodes for parent in n.parents)
    return None


@pytest.mark.parametrize("seed", SEEDS)
def test_load_and_plan_never_raise_anything_but_t3qkfp_errors(seed):
    assert BASES, "no valid base pipelines found"
    failures = []
    started = time.monotonic()
    for index in range(CASES_PER_SEED):
        name, source, folder, log, form, scope = fuzz_case(seed, index)
        try:
            exc = _check_outcome(source, folder, scope)
        except AssertionError as error:  # a clean refusal or a result that breaks a rule
            exc = error
        if exc is not None and (isinstance(exc, AssertionError) or _signature(exc) not in KNOWN_CRASHES):
            failures.append(f"fuzz_case({seed}, {index}) on {name} as {form}, scope={scope}: "
                            f"{type(exc).__name__}: {str(exc)[:200]} at {_signature(exc)[1]!r}; mutations: {log}")
    assert time.monotonic() - started < TIME_BUDGET_SECONDS / len(SEEDS) * 3
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("base", range(len(BASES)), ids=[b[0] for b in BASES])
def test_any_added_cycle_or_dangling_link_is_refused(base):
    name, document, folder = BASES[base]
    rng = random.Random(base)
    for _ in range(10):
        mutated = copy.deepcopy(document)
        # Links between execution nodes: a supernode's ports and binding nodes carry no
        # dependency of their own in Elyra's parser (elyra v2.2.4 pipeline/parser.py), so a
        # loop through them is not a loop between nodes.
        nodes = [n for n in _nodes(mutated) if n.get("type", "execution_node") == "execution_node"]
        members = rng.sample(nodes, rng.randint(1, min(4, len(nodes))))
        for child, parent in zip(members, members[1:] + members[:1]):
            _link(child, parent["id"])
        with pytest.raises(PipelineError) as info:
            t3qkfp.load(mutated, base_dir=folder)
        assert any("cycle" in p.message or "linked to itself" in p.message for p in info.value.problems)
        ghost = f"ghost-{rng.randrange(10**6)}"
        mutated = copy.deepcopy(document)
        _link(rng.choice(_nodes(mutated)), ghost)
        with pytest.raises(PipelineError) as info:
            t3qkfp.load(mutated, base_dir=folder)
        assert any(ghost in p.message for p in info.value.problems)
