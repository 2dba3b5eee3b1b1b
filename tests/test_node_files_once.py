"""A node's files are collected once per compile and per upload (issue 14 point 2).

Validation (checks) must walk each node's files to report a missing or escaping one; the
archives are packed from what it found instead of walking the tree a second time, so the
archive holds exactly the files that passed validation.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from t3qkfp import checks
from t3qkfp import node_files as node_files_module
from t3qkfp.archive_upload import upload
from t3qkfp.compiler import compile_pipeline
from t3qkfp.elyra_reader import load_checked
from t3qkfp.errors import UsageError
from t3qkfp.storage_settings import StorageConfig

from s3server import s3_server

THREE = Path(__file__).parent / "runtime_cases" / "three_nodes" / "three_nodes.pipeline"


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The node ids node_files is called for, wherever it is called from (the real function runs)."""
    calls: list[str] = []
    real = node_files_module.node_files

    def counted(pipeline, node):
        calls.append(node.id)
        return real(pipeline, node)

    monkeypatch.setattr(node_files_module, "node_files", counted)
    monkeypatch.setattr(checks, "node_files", counted)
    return calls


def test_compiling_walks_each_node_once(walks: list[str]) -> None:
    compiled = compile_pipeline(THREE, storage=StorageConfig(), deterministic=True)
    assert sorted(walks) == sorted(node.id for node in compiled.pipeline.nodes)
    loaded = load_checked(THREE)
    for node in compiled.pipeline.nodes:
        assert compiled.archives[node.id].members == loaded.members[node.id]
        assert node.filename.rsplit("/", 1)[-1] in compiled.archives[node.id].members


def test_uploading_walks_each_node_once(walks: list[str]) -> None:
    with s3_server(auth=False) as s3:
        results = upload(THREE, config=s3.config(prefix="once"), credentials=s3.credentials,
                         create_bucket=True, progress=io.StringIO())
    assert len(results) == 3
    assert len(walks) == 3 and len(set(walks)) == 3


def test_running_locally_walks_each_node_once(walks: list[str], tmp_path: Path) -> None:
    # run_local loads once (overrides are checked against the plan first) and compiles that load
    from t3qkfp.local import run_local
    run = run_local(THREE, workdir=tmp_path, out=io.StringIO())
    assert run.succeeded
    assert sorted(walks) == sorted(node.id for node in load_checked(THREE).pipeline.nodes)


def test_a_loaded_pipeline_is_handed_on_as_it_is() -> None:
    loaded = load_checked(THREE)
    assert load_checked(loaded) is loaded
    with pytest.raises(UsageError, match="not to a loaded pipeline"):
        load_checked(loaded, root_dir=THREE.parent)
