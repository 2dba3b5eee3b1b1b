"""Ctrl-C, as a terminal sends it (SIGINT to the command's process group): run --local and submit --wait."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT


def _as_from_a_terminal() -> None:
    """Ctrl-C reaches t3qkfp with SIGINT's default action, as from an interactive shell.

    A suite started in the background (`.ci/run &`, nohup) inherits SIGINT ignored, and Python
    then leaves it ignored: the child would never see the interrupt this test sends.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)

SLEEPY = """import os, pathlib, time
pathlib.Path(os.environ["PIDFILE"]).write_text(str(os.getpid()))
print("sleepy started", flush=True)
time.sleep(120)
"""


def sleepy_pipeline(folder: Path) -> Path:
    (folder / "sleepy.py").write_text(SLEEPY)
    (folder / "after.py").write_text("print('after')\n")
    node = {"id": "s", "type": "execution_node", "op": "execute-python-node", "app_data": {
        "label": "Sleepy", "component_parameters": {
            "filename": "sleepy.py", "runtime_image": "python:3.11",
            "env_vars": [{"env_var": "PIDFILE", "value": str(folder / "node.pid")}]}}}
    after = {"id": "a", "type": "execution_node", "op": "execute-python-node",
             "inputs": [{"id": "inPort", "links": [{"id": "l", "node_id_ref": "s", "port_id_ref": "outPort"}]}],
             "app_data": {"label": "After", "component_parameters": {"filename": "after.py", "runtime_image": "python:3.11"}}}
    document = {"doc_type": "pipeline", "version": "3.0", "id": "z", "primary_pipeline": "p", "pipelines": [{
        "id": "p", "app_data": {"version": 8, "properties": {"name": "sleepy"}}, "nodes": [node, after]}]}
    path = folder / "sleepy.pipeline"
    path.write_text(json.dumps(document))
    return path


def test_ctrl_c_stops_the_nodes_and_says_where_the_run_is(tmp_path):
    pipeline = sleepy_pipeline(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "t3qkfp", "run", str(pipeline), "--local",
                             "--workdir", str(tmp_path / "work")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                             preexec_fn=_as_from_a_terminal)
    pidfile = tmp_path / "node.pid"
    deadline = time.monotonic() + 120
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pidfile.exists(), proc.communicate(timeout=30)
    node_pid = int(pidfile.read_text())
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to its foreground group
    started = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 15
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted: stopping the running nodes" in err
    lines = err.splitlines()
    assert any(line.split()[1:] == ["interrupted", "Sleepy"] for line in lines), err  # one line per node
    assert any(line.split()[1:] == ["not", "run", "After"] for line in lines), err
    assert any(line.startswith("run folder: ") and str(tmp_path / "work") in line for line in lines), err
    assert not running(node_pid), "the node's process outlived the interrupted run"


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed node's orphans are reaped by whoever is PID 1, maybe late)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_ctrl_c_during_submit_wait_says_the_run_goes_on_with_its_id_and_url():
    from kfp_standin import KfpStandin

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with KfpStandin(polls_until_done=10_000) as kfp:
        proc = subprocess.Popen([sys.executable, "-m", "t3qkfp", "submit", str(ROOT / "examples" / "churn" / "churn.pipeline"),
                                 "--host", kfp.url, "--no-upload", "--wait", "--poll-interval", "0.2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True, preexec_fn=_as_from_a_terminal)
        deadline = time.monotonic() + 60
        while not kfp.calls("get_run") and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        run_id = next(iter(kfp.runs))
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert "interrupted: run" in last and run_id in last and f"#/runs/details/{run_id}" in last
    assert "goes on on the server" in last
