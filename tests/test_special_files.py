"""FIFOs, sockets and devices among a user's files are refused, never read (issue 11 point 11).

Before: a FIFO among a node's dependencies hung compile in open(); a socket raised a bare
OSError; `load('/dev/zero')` passed the stat() size check and read until memory ran out. Each
case runs in a subprocess with a timeout, so the old hang fails the test instead of stalling it.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from invalid_helpers import INVALID
from t3qkfp.user_files import NotRegularFile, TooLarge, read_regular

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")


def _project(tmp_path: Path, dependencies: list[str], filename: str = "files/prep.py") -> Path:
    project = tmp_path / "project"
    (project / "files").mkdir(parents=True)
    shutil.copy(INVALID / "files" / "prep.py", project / "files" / "prep.py")
    document = json.loads((INVALID / "ok_kv_empty_value.pipeline").read_text(encoding="utf-8"))
    params = document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]
    params["dependencies"] = dependencies
    params["filename"] = filename
    (project / "p.pipeline").write_text(json.dumps(document), encoding="utf-8")
    return project


def _validate(target: str | Path, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUTF8="1")
    env.pop("T3QKFP_CONFIG", None)
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "t3qkfp", "compile", str(target), "-o", str(cwd / "out.yaml")],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("dependency", ["pipe", "*", "files_dir"])
def test_a_fifo_among_dependencies_is_refused_without_hanging(tmp_path, dependency):
    project = _project(tmp_path, [dependency])
    folder = project / "files"
    if dependency == "files_dir":
        (folder / "files_dir").mkdir()
        folder = folder / "files_dir"
    os.mkfifo(folder / "pipe")
    result = _validate(project / "p.pipeline", project)
    assert result.returncode == 1, result.stderr
    assert "a FIFO (named pipe)" in result.stderr and "Traceback" not in result.stderr
    assert "node 'Prepare'" in result.stderr or "node '" in result.stderr
    assert not (project / "out.yaml").exists()


def test_a_socket_as_the_node_file_is_refused_with_one_line(tmp_path):
    project = _project(tmp_path, [], filename="files/sock.py")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(project / "files" / "sock.py"))
        result = _validate(project / "p.pipeline", project)
    finally:
        server.close()
    assert result.returncode == 1
    assert "is a socket, not a regular file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["/dev/zero", "fifo.pipeline"])
def test_loading_a_device_or_fifo_is_refused_at_once(tmp_path, target):
    if target == "fifo.pipeline":
        os.mkfifo(tmp_path / target)
        target = str(tmp_path / target)
    elif not os.path.exists(target):
        pytest.skip(f"{target} does not exist here")
    result = _validate(target, tmp_path)
    assert result.returncode == 1
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr) < 500


def test_a_fifo_config_file_is_refused(tmp_path):
    project = _project(tmp_path, [])
    os.mkfifo(project / "storage.toml")
    result = _validate(project / "p.pipeline", project, T3QKFP_CONFIG=str(project / "storage.toml"))
    assert result.returncode != 0
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_read_regular_enforces_the_limit_on_the_bytes_read(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert read_regular(path, 11) == b"x" * 11
    with pytest.raises(TooLarge):
        read_regular(path, 10)
    with pytest.raises(NotRegularFile):
        read_regular(tmp_path)
