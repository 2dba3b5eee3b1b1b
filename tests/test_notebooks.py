"""Every notebook in notebooks/ runs top to bottom, as a person would run it, without an error.

Each notebook runs in a fresh kernel of *this* venv's Python (a private kernel spec written to a
temporary JUPYTER_PATH, so a system-wide `python3` kernel can never be picked by accident; the
last cell we append checks it), with notebooks/ as its working folder. The tutorial's submit
cell runs against the KFP 1.2 stand-in, with node files going to a local S3 server, and the
test checks that the run really arrived there.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "t3qkfp-test-venv"
CELL_TIMEOUT = 300


def test_there_are_notebooks_and_they_are_saved_clean():
    assert [p.name for p in NOTEBOOKS][:2] == ["01_tutorial.ipynb", "02_elyra_formats.ipynb"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: saved with outputs"


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for this interpreter, found before any installed one; returns its name.

    JUPYTER_PLATFORM_DIRS=1 opts in to the platformdirs layout jupyter_core will use by default;
    without it jupyter_core raises a DeprecationWarning about migrating paths, which pytest
    (warnings are errors) would turn into a failure although nothing is wrong.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "t3qkfp test venv", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # connection files stay private
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's frozen-modules note on stderr
    monkeypatch.delenv("T3QKFP_KFP_HOST", raising=False)
    return KERNEL_NAME


def execute(path: Path, kernel_name: str) -> nbformat.NotebookNode:
    """Run the notebook in notebooks/ as its folder; CellExecutionError names the failing cell."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=CELL_TIMEOUT, startup_timeout=120,
                            resources={"metadata": {"path": str(path.parent)}})
    # Warnings raised in *this* process by nbclient/jupyter_client/pyzmq/tornado while they talk
    # to the kernel (deprecations of their own internals, sockets of a shut-down kernel collected
    # late) are not about t3qkfp, and which ones appear depends on their versions; they are
    # ignored during execution only. The kernel's own warnings (another process) arrive as cell
    # stderr, which check_outputs() fails on.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(jupyter_client|jupyter_core|nbclient|zmq|tornado)\b")
        warnings.filterwarnings("ignore", category=ResourceWarning, message=r"unclosed .*(socket|Context|event loop)")
        client.execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def check_outputs(notebook: nbformat.NotebookNode) -> None:
    """No error output, no warning printed by a cell, and the kernel was this venv's Python."""
    for output in outputs(notebook):
        assert output.output_type != "error", output
        if output.output_type == "stream" and output.name == "stderr":
            assert "Warning" not in output.text and "Traceback" not in output.text, output.text
    last = notebook.cells[-1].outputs
    assert last and last[0].text.strip() == sys.executable, "the notebook ran in another Python"


def html_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [o.data["text/html"] for o in outputs(notebook)
            if o.output_type in ("display_data", "execute_result") and "text/html" in o.data]


def test_tutorial_runs_and_submits_to_the_standin(kernel_env, monkeypatch):
    from kfp_standin import KfpStandin
    from s3server import s3_server

    with KfpStandin() as kfp, s3_server(auth=False) as s3:
        monkeypatch.setenv("T3QKFP_KFP_HOST", kfp.url)
        monkeypatch.setenv("T3QKFP_S3_ENDPOINT", s3.endpoint)
        monkeypatch.setenv("T3QKFP_S3_BUCKET", s3.bucket)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.credentials.secret_key)
        notebook = execute(ROOT / "notebooks" / "01_tutorial.ipynb", kernel_env)
        runs = list(kfp.runs.values())
        assert kfp.violations == []
        archives = s3.keys()
    check_outputs(notebook)
    assert len(runs) == 1, runs
    parameters = {p["name"]: p.get("value") for p in runs[0]["pipeline_spec"]["parameters"]}
    assert parameters["EPOCHS"] == "5" and parameters["THRESHOLD"] == "0.6"
    # three node archives and the node runtime helper they all run with
    assert sorted(k.rsplit("/", 2)[-2] for k in archives) == ["archives"] * 3 + ["runtime"], archives
    shown = html_outputs(notebook)
    assert any("<svg" in h and "train_LOG_LEVEL" in h for h in shown), "no DAG picture shown"
    assert any("<table" in h for h in shown), "no parameter table shown"
    sweeps = [h for h in shown if "<b>sweep threshold</b>: 3 runs" in h]
    assert sweeps and '<img alt="accuracy by THRESHOLD" src="data:image/png;base64,' in sweeps[0], \
        "the sweep shows no table and plot"
    assert sweeps[0].count("<td>succeeded</td>") == 3
    assert any("<svg" in o.data.get("image/svg+xml", "") for o in outputs(notebook)
               if o.output_type in ("display_data", "execute_result")), "display.picture() did not show"


def test_tutorial_without_a_host_does_not_submit(kernel_env):
    notebook = execute(ROOT / "notebooks" / "01_tutorial.ipynb", kernel_env)
    check_outputs(notebook)
    assert any("T3QKFP_KFP_HOST is not set" in o.get("text", "") for o in outputs(notebook))


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name != "01_tutorial.ipynb"], ids=lambda p: p.name)
def test_other_notebooks_run_clean(path, kernel_env):
    notebook = execute(path, kernel_env)
    check_outputs(notebook)
    assert html_outputs(notebook), f"{path.name} shows no table or picture"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_draw_the_dag_without_graphviz(path, kernel_env, monkeypatch):
    """A JupyterHub user without Graphviz: `dot` is removed from PATH; the DAG is drawn in layers."""
    import shutil

    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not shutil.which("dot", path=d)]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))
    assert shutil.which("dot") is None
    notebook = execute(path, kernel_env)
    check_outputs(notebook)
    shown = html_outputs(notebook)
    assert any("<svg" in h and "installing Graphviz (`dot`) gives a better layout" in h for h in shown), \
        "no DAG picture, or no note that Graphviz draws it better"


def test_kernel_environment_is_this_venv():
    """The notebooks import t3qkfp from this checkout, which they do only in this venv's Python."""
    import t3qkfp

    assert Path(t3qkfp.__file__).resolve().is_relative_to(ROOT)
    assert os.path.exists(sys.executable)
