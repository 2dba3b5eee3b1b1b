"""A real Jupyter server with Elyra 2.2.4 and t3qkfp, driven over HTTP as the pipeline editor does.

The server runs in its own process from this venv (jupyter_server, 127.0.0.1, token auth), with
the Jupyter root, data dir and runtime configuration of the test. The bodies are what Elyra
2.2.4's front end (PipelineService) posts: for Export `{pipeline, export_format, export_path,
overwrite}` with paths relative to the Jupyter root, for Run the pipeline JSON itself.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import t3qkfp
from conftest import ROOT

from test_elyra_adapter import (PIPELINE_FILE, editor_document, expected_storage, make_runtime,  # noqa: F401
                                needs_elyra, workspace)

pytestmark = needs_elyra


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(workspace, tmp_path):
    token = secrets.token_hex(16)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"), "JUPYTER_PLATFORM_DIRS": "1"}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
                             "--allow-root", f"--ServerApp.root_dir={workspace}",
                             "--ServerApp.open_browser=False", "--ServerApp.jpserver_extensions={'elyra': True}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workspace)
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if session.get(f"{url}/api/status", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    else:
        proc.kill()
    try:
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        yield url, session, workspace
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_export_run_and_refusal_through_a_real_jupyter_server(server):
    from kfp_standin import KfpStandin
    from s3server import s3_server

    url, session, root = server
    assert session.get(f"{url}/elyra/pipeline/export", timeout=10).status_code == 200  # Elyra's handlers are up
    unauthenticated = requests.post(f"{url}/elyra/pipeline/schedule", json={}, timeout=10)
    assert unauthenticated.status_code == 403
    with s3_server() as s3, KfpStandin() as kfp:
        make_runtime(api_endpoint=kfp.url, cos_endpoint=s3.endpoint, cos_bucket=s3.bucket,
                     cos_username=s3.credentials.access_key, cos_password=s3.credentials.secret_key)
        # Export, as the editor's Export dialog posts it
        export_path = "projects/churn/churn-export.yaml"
        body = {"pipeline": editor_document(root), "export_format": "yaml", "export_path": export_path,
                "overwrite": True}
        response = session.post(f"{url}/elyra/pipeline/export", json=body, timeout=120)
        assert response.status_code == 201, response.text
        assert response.json() == {"export_path": export_path}
        saved = root / "projects" / "churn" / PIPELINE_FILE
        compiled = t3qkfp.compile_pipeline(saved, storage=expected_storage(s3.endpoint, s3.bucket))
        assert (root / export_path).read_bytes() == compiled.yaml.encode("utf-8")  # byte-identical
        # Run, as the editor's Run dialog posts it
        response = session.post(f"{url}/elyra/pipeline/schedule", json=editor_document(root, name="From-Server"),
                                timeout=180)
        assert response.status_code == 200, response.text
        (run_id, _), = kfp.runs.items()
        assert response.json()["run_url"] == f"{kfp.url}/#/runs/details/{run_id}"
        # A refused pipeline: Elyra's JSON error, with t3qkfp's one-line message
        bad = editor_document(root)
        bad["pipelines"][0]["nodes"][0]["app_data"]["filename"] = "projects/churn/missing.py"
        response = session.post(f"{url}/elyra/pipeline/export",
                                json={"pipeline": bad, "export_format": "yaml", "export_path": "x.yaml",
                                      "overwrite": True}, timeout=60)
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("application/json")
    error = response.json()  # Elyra's HttpErrorMixin body
    assert error["reason"] == "Internal Server Error" and "traceback" in error, error
    problems = [line for line in error["message"].splitlines() if "missing.py" in line]
    assert len(problems) == 1 and PIPELINE_FILE in problems[0], error["message"]  # names the saved file
    assert "Traceback" not in error["message"]
