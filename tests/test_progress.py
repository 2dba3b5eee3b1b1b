"""Progress a person sees: a live bar on a terminal (read here through a real pseudo-terminal),
one line per file in a pipe or a log, nothing live with -q."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from s3server import s3_server

BAR = "\r\x1b[K"


def one_big_node(folder: Path) -> Path:
    """A pipeline whose node archive is ~3 MiB of incompressible bytes: big enough for a bar."""
    (folder / "big.py").write_text("print('big')\n")
    (folder / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    document = {"doc_type": "pipeline", "version": "3.0", "id": "big", "primary_pipeline": "p", "pipelines": [{
        "id": "p", "app_data": {"version": 8, "properties": {"name": "big"}}, "nodes": [
            {"id": "a", "type": "execution_node", "op": "execute-python-node", "app_data": {
                "label": "Big", "component_parameters": {"filename": "big.py", "runtime_image": "python:3.11",
                                                         "dependencies": ["blob.bin"]}}}]}]}
    path = folder / "big.pipeline"
    path.write_text(json.dumps(document))
    return path


def run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; everything it drew, as text."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "t3qkfp", *args], stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower, env=env, cwd=ROOT)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            raise AssertionError("no output for 60 s")
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def s3_env(tmp_path: Path):
    with s3_server(auth=False) as s3:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": s3.credentials.access_key,
               "AWS_SECRET_ACCESS_KEY": s3.credentials.secret_key,
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        yield s3, env


def test_upload_draws_a_bar_with_bytes_rate_and_eta_on_a_terminal(tmp_path, s3_env):
    s3, env = s3_env
    pipeline = one_big_node(tmp_path)
    code, shown = run_on_terminal(["upload", str(pipeline), "--endpoint", s3.endpoint, "--bucket", s3.bucket], env)
    assert code == 0, shown
    drawn = [part for part in shown.split(BAR) if part.startswith("[1/1] uploading 'Big'")]
    assert drawn, shown
    assert all("MiB" in part and "/s" in part for part in drawn)
    assert shown.count("t3qkfp: [1/1] uploaded: s3://") == 1  # the lasting line, once


def test_quiet_and_pipes_get_only_the_line_per_file(tmp_path, s3_env):
    s3, env = s3_env
    pipeline = one_big_node(tmp_path)
    code, shown = run_on_terminal(["upload", str(pipeline), "-q", "--endpoint", s3.endpoint, "--bucket", s3.bucket], env)
    assert code == 0 and "\x1b[K" not in shown and "t3qkfp: [1/1] uploaded: s3://" in shown
    (tmp_path / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # a new archive to upload
    piped = subprocess.run([sys.executable, "-m", "t3qkfp", "upload", str(pipeline), "--endpoint", s3.endpoint,
                            "--bucket", s3.bucket], capture_output=True, text=True, env=env)
    assert piped.returncode == 0, piped.stderr
    assert "\x1b[K" not in piped.stderr and "\r" not in piped.stderr
    assert [line for line in piped.stderr.splitlines() if line.startswith("t3qkfp: [1/1] uploaded: s3://")]


def test_the_bar_text_says_how_far_how_fast_and_how_long():
    from t3qkfp.progress import Bar

    bar = Bar("[2/3] uploading 'Train'", 100 * 1024 * 1024)
    bar._start = 0.0
    bar.done = 25 * 1024 * 1024
    assert bar.line(now=5.0) == "[2/3] uploading 'Train'   25% 25.0 MiB/100.0 MiB  5.0 MiB/s  ETA 15 s"


def test_log_records_reach_stderr_once_when_nobody_configured_logging():
    code = ("import logging, t3qkfp; log = logging.getLogger('t3qkfp'); log.info('note'); "
            "log.warning('t3qkfp: prefixed already'); logging.basicConfig(format='app %(message)s'); log.info('app')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stderr.splitlines() == ["t3qkfp: note", "t3qkfp: prefixed already", "app app"]
