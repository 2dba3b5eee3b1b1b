"""Which files a node's archive holds: the same as Elyra 2.x packs for the same dependencies.

Users draw pipelines that run in Elyra, so a dependency pattern must bring the same files here.
Each case packs a small folder tree with Elyra's own `create_temp_archive` (installed by
scripts/setup-elyra-env.sh) and with t3qkfp's `node_files`, and compares the file lists.
"""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp.node_files import node_files

TREE = [
    "run.py", "a.csv", "b.txt", ".env", ".x.csv", "data/a.csv", "data/skip.txt", "data/deep/b.csv",
    "data/deep/deeper/c.csv", "data/.ipynb_checkpoints/a-checkpoint.csv", "sub dir/top file.txt",
    ".git/config", "data2/a.csv", "Data/upper.CSV",
]
PATTERNS = ["*", "*.csv", "data/*.csv", "data/*", "a.csv", "data/deep/b.csv", "d?ta/*.csv", "[ab].*",
            "*/a.csv", "data/deep/*", "sub dir/*", "*.CSV", "data*"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in TREE:
        path = root / "nodes" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n")
    return root


def elyra_packs(tree: Path, pattern: str, recursive: bool) -> set[str]:
    archive = pytest.importorskip("elyra.util.archive", reason="Elyra is installed by scripts/setup-elyra-env.sh")
    made = archive.create_temp_archive(f"t3qkfp-test-{abs(hash((pattern, recursive)))}.tar.gz",
                                       str(tree / "nodes"), filenames=[pattern], recursive=recursive)
    try:
        with tarfile.open(made) as tar:
            return {m.name for m in tar.getmembers() if m.isfile()}
    finally:
        Path(made).unlink()


def t3qkfp_packs(tree: Path, pattern: str, recursive: bool) -> set[str]:
    document = {"doc_type": "pipeline", "version": "3.0", "id": "d", "primary_pipeline": "p", "pipelines": [{
        "id": "p", "app_data": {"version": 8, "properties": {"name": "files"}}, "nodes": [{
            "id": "n", "type": "execution_node", "op": "execute-python-node", "app_data": {
                "label": "run", "component_parameters": {
                    "filename": "nodes/run.py", "runtime_image": "python:3.11", "dependencies": [pattern],
                    "include_subdirectories": recursive}}}]}]}
    pipeline = t3qkfp.load(json.dumps(document), base_dir=tree)
    members, problems = node_files(pipeline, pipeline.nodes[0])
    assert problems == []
    return {m.removeprefix("nodes/") for m in members} - {"run.py"}


@pytest.mark.parametrize("recursive", [False, True], ids=["flat", "include_subdirectories"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_brings_the_files_elyra_packs(tree, pattern, recursive):
    expected = elyra_packs(tree, pattern, recursive) - {"run.py"}
    if not expected:
        with pytest.raises(t3qkfp.PipelineError, match=f"dependency '.*' matches no file"):
            t3qkfp_packs(tree, pattern, recursive)
    else:
        assert t3qkfp_packs(tree, pattern, recursive) == expected


def test_key_cases_by_name(tree):
    """The differences that break a node, spelled out (and independent of Elyra's presence)."""
    assert "data/deep/b.csv" in t3qkfp_packs(tree, "data/*.csv", True)  # '*' crosses '/'
    assert "data/a.csv" not in t3qkfp_packs(tree, "*", False)  # no subfolder without the flag
    assert not any("/." in f or f.startswith(".git") for f in t3qkfp_packs(tree, "*", True))  # hidden folders
    assert "data/deep/deeper/c.csv" in t3qkfp_packs(tree, "*.csv", True)  # a name matches at any depth


@pytest.mark.parametrize("recursive", [False, True])
def test_a_folder_brings_its_files_where_elyra_brings_none(tree, recursive):
    files = t3qkfp_packs(tree, "data", recursive)
    direct = {"data/a.csv", "data/skip.txt"}
    assert files == (direct | {"data/deep/b.csv", "data/deep/deeper/c.csv"} if recursive else direct)
