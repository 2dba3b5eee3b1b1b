"""Where a local run puts its files: a fresh folder per run, node folders apart from the results.

Real runs (moto's S3 server, the compiled workflow's own commands); nothing is mocked.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner

from t3qkfp.cli_runtime import run
from t3qkfp.local import run_local

from s3server import s3_server

CASES = Path(__file__).parent / "runtime_cases"
THREE = str(CASES / "three_nodes" / "three_nodes.pipeline")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def line_value(stdout: str, prefix: str) -> Path:
    [line] = [line for line in stdout.splitlines() if line.startswith(prefix)]
    return Path(line[len(prefix):])


def test_same_workdir_twice_keeps_both_runs(tmp_path: Path) -> None:
    """Reusing --workdir: each run gets WORKDIR/<run id>/; nothing of the first run or of the user changes."""
    work = tmp_path / "w"
    (work / "results" / "report").mkdir(parents=True)  # what an older layout or the user left there
    (work / "results" / "report" / "mine.txt").write_text("keep me")
    (work / "notes.txt").write_text("mine too")
    before = snapshot(work)
    first = CliRunner().invoke(run, [THREE, "--local", "-p", "COUNT=2", "--workdir", str(work)])
    assert first.exit_code == 0, first.output
    first_results = line_value(first.stdout, "results: ")
    first_files = snapshot(first_results.parent)
    second = CliRunner().invoke(run, [THREE, "--local", "-p", "COUNT=3", "--workdir", str(work)])
    assert second.exit_code == 0, second.output
    assert "FileExistsError" not in second.output and "Traceback" not in second.output
    second_results = line_value(second.stdout, "results: ")
    run_folders = {first_results.parent, second_results.parent}
    assert len(run_folders) == 2 and {f.parent for f in run_folders} == {work}
    assert {p.name for p in work.iterdir()} == {"results", "notes.txt", *(f.name for f in run_folders)}
    assert snapshot(first_results.parent) == first_files  # the first run is untouched
    assert {k: v for k, v in snapshot(work).items() if k in before} == before  # so is the user's
    for results, numbers in ((first_results, [2, 4]), (second_results, [2, 4, 6])):
        summary = json.loads((results / "report" / "outputs" / "report" / "summary.json").read_text())
        assert summary["numbers"] == numbers
    assert line_value(second.stdout, "node folders: ") == second_results.parent / "nodes"


def test_results_folder_that_holds_files_is_refused_before_anything_starts(tmp_path: Path) -> None:
    results = tmp_path / "out"
    results.mkdir()
    (results / "old.txt").write_text("from an earlier run")
    work = tmp_path / "w"
    refused = CliRunner().invoke(run, [THREE, "--local", "--workdir", str(work), "--results", str(results)])
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"results folder {str(results)!r} already holds files; choose another --results or remove it"]
    assert "local S3 server" not in refused.stderr and "Traceback" not in refused.output
    assert not work.exists()
    assert [p.name for p in results.iterdir()] == ["old.txt"]
    same = CliRunner().invoke(run, [THREE, "--local", "--workdir", str(work), "--results", str(work)])
    assert same.exit_code == 2 and "is the workdir" in same.stderr


def test_results_given_new_folder(tmp_path: Path) -> None:
    results = tmp_path / "out"
    done = CliRunner().invoke(run, [THREE, "--local", "--workdir", str(tmp_path / "w"), "--results", str(results)])
    assert done.exit_code == 0, done.output
    assert (results / "report" / "outputs" / "report" / "summary.json").is_file()
    [run_folder] = (tmp_path / "w").iterdir()
    assert sorted(p.name for p in run_folder.iterdir()) == ["nodes"]  # no default results folder


def two_scripts(folder: Path, labels: tuple[str, ...]) -> Path:
    """An Elyra pipeline of independent Python nodes; each writes `out/<label>.txt` and declares it."""
    nodes = []
    for label in labels:
        (folder / f"{label}.py").write_text(
            "import os\nos.makedirs('out', exist_ok=True)\n"
            f"open('out/{label}.txt', 'w').write('written by {label} in ' + os.getcwd())\n"
            f"print('{label} done')\n")
        nodes.append({
            "id": f"node-{label}", "type": "execution_node", "op": "execute-python-node",
            "app_data": {"label": label, "component_parameters": {
                "filename": f"{label}.py", "runtime_image": "python:3.11", "env_vars": [],
                "dependencies": [], "include_subdirectories": False, "outputs": [f"out/{label}.txt"]},
                "ui_data": {"label": label}},
            "inputs": [{"id": "inPort", "links": []}], "outputs": [{"id": "outPort"}]})
    pipeline = {"doc_type": "pipeline", "version": "3.0", "id": "folders", "primary_pipeline": "primary",
                "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/"
                               "pipeline-flow-v3-schema.json",
                "pipelines": [{"id": "primary", "nodes": nodes, "runtime_ref": "",
                               "app_data": {"name": "folders", "runtime_type": "KUBEFLOW_PIPELINES",
                                            "version": 8, "properties": {"name": "folders"}}}],
                "schemas": []}
    path = folder / "folders.pipeline"
    path.write_text(json.dumps(pipeline))
    return path


def test_node_named_like_the_results_folder_or_a_node_subfolder(tmp_path: Path) -> None:
    """Nodes `results`, `work`, `metadata` and `nodes`: no node's folder is another's results."""
    source = tmp_path / "src"
    source.mkdir()
    labels = ("results", "work", "metadata", "nodes")
    pipeline = two_scripts(source, labels)
    log = io.StringIO()
    with s3_server(auth=True) as s3:
        config = s3.config(prefix="folders")
        done = run_local(pipeline, storage=config, credentials=s3.credentials, workdir=tmp_path / "w", out=log)
        prefix = f"folders/runs/{done.run_id}/"
        in_bucket = {key[len(prefix):]: s3.read(key) for key in s3.keys(prefix)}
    assert done.succeeded and sorted(n.task for n in done.nodes) == sorted(labels)
    # the results folder holds exactly the run's objects, nothing a node wrote in its working folder
    assert snapshot(done.results_dir) == in_bucket
    for node in done.nodes:
        assert node.workdir == done.workdir / "nodes" / node.task / "work"
        own = (done.results_dir / node.task / "outputs" / "out" / f"{node.task}.txt").read_text()
        assert own == f"written by {node.task} in {node.workdir}"
        for other in done.nodes:  # no node folder inside a results folder, nor the other way
            assert done.results_dir not in node.workdir.parents and node.workdir != done.results_dir
            assert (done.results_dir / other.task) not in node.workdir.parents
        # the node's working folder holds its unpacked file and what it wrote, no results copied back
        assert sorted(p.relative_to(node.workdir).as_posix() for p in node.workdir.rglob("*")
                      if p.is_file()) == sorted([f"{node.task}.py", f"out/{node.task}.txt"])
    assert sorted(p.name for p in done.workdir.iterdir()) == ["nodes", "results"]


def test_unusable_folders_are_one_clear_error_and_a_failed_start_leaves_no_run_folder(tmp_path: Path) -> None:
    import pytest

    from t3qkfp.errors import StorageError, UsageError
    from t3qkfp.object_storage import Credentials
    from t3qkfp.storage_settings import StorageConfig

    from s3server import closed_port_endpoint

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError, match=r"^workdir '.*file' is not a folder; choose another --workdir$"):
        run_local(THREE, workdir=a_file, out=io.StringIO())
    with pytest.raises(UsageError, match=r"^results folder '.*file' is not a folder; choose another --results$"):
        run_local(THREE, workdir=tmp_path / "w", results_dir=a_file, out=io.StringIO())
    assert a_file.read_text() == "x" and not (tmp_path / "w").exists()
    unreachable = StorageConfig(endpoint=closed_port_endpoint(), bucket="bucket")
    with pytest.raises(StorageError, match="cannot reach"):
        run_local(THREE, workdir=tmp_path / "w", storage=unreachable,
                  credentials=Credentials(access_key="a", secret_key="b"), out=io.StringIO())
    assert list((tmp_path / "w").iterdir()) == []
    # A results folder the run created is taken back too; one that was there (empty) stays.
    with pytest.raises(StorageError, match="cannot reach"):
        run_local(THREE, workdir=tmp_path / "w", results_dir=tmp_path / "new-results", storage=unreachable,
                  credentials=Credentials(access_key="a", secret_key="b"), out=io.StringIO())
    assert not (tmp_path / "new-results").exists() and list((tmp_path / "w").iterdir()) == []
    (tmp_path / "empty-results").mkdir()
    with pytest.raises(StorageError, match="cannot reach"):
        run_local(THREE, workdir=tmp_path / "w", results_dir=tmp_path / "empty-results", storage=unreachable,
                  credentials=Credentials(access_key="a", secret_key="b"), out=io.StringIO())
    assert (tmp_path / "empty-results").is_dir()
