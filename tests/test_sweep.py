"""Sweeps: combinations checked up front, a real local sweep ranked by the metrics its node wrote,
a sweep on the KFP stand-in through the real kfp.Client (one version, one experiment, one run per
combination with exactly its overrides, metrics from the run details), and the CLI."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import t3qkfp
from t3qkfp.elyra_reader import load
from t3qkfp.errors import UsageError
from t3qkfp.params import plan
from t3qkfp.sweep_result import SweepResult, SweepRun, merge_metrics
from t3qkfp.sweep_values import combinations, grid_from_options, parse_values
from t3qkfp.model import ParamType

from kfp_standin import KfpStandin

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "tests" / "runtime_cases" / "sweep_metrics" / "sweep_metrics.pipeline"


def expected_loss(lr: float, epochs: int, optimizer: str = "sgd") -> float:
    """What train.py computes (the test's own statement of it, to rank against)."""
    return round((lr - 0.1) ** 2 + 1.0 / epochs + (0.05 if optimizer == "sgd" else 0.0), 6)


@pytest.fixture(autouse=True)
def no_user_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("T3QKFP_KFP_TOKEN", "T3QKFP_KFP_COOKIE", "T3QKFP_KFP_USERNAME",
                "T3QKFP_KFP_PASSWORD", "T3QKFP_KFP_NAMESPACE", "T3QKFP_KFP_HOST"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def the_plan():
    return plan(load(SWEEP))


# ---- values and combinations ---------------------------------------------------------------
def test_ranges_are_decimal_and_include_stop() -> None:
    assert parse_values(ParamType.FLOAT, "0.1:0.5:0.1", name="LR") == ["0.1", "0.2", "0.3", "0.4", "0.5"]
    assert parse_values(ParamType.INTEGER, "1:10:3", name="N") == ["1", "4", "7", "10"]
    assert parse_values(ParamType.INTEGER, "2:7:2", name="N") == ["2", "4", "6"]
    assert parse_values(ParamType.STRING, "a:b:c", name="S") == ["a:b:c"]  # only numbers have ranges
    assert parse_values(ParamType.STRING, "sgd,adam", name="S") == ["sgd", "adam"]


@pytest.mark.parametrize("text, message", [
    ("1:5:0", "step of a range must be a number above 0"),
    ("5:1:1", "the range is empty"),
    ("1.5:3:1", "whole numbers"),
    ("1,,2", "separated by commas"),
])
def test_bad_ranges_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_values(ParamType.INTEGER, text, name="EPOCHS")


def test_grid_in_order_and_random_draw_is_reproducible(the_plan) -> None:
    grid = grid_from_options(the_plan, ["LR=0.1,0.2", "EPOCHS=1:3:1"])
    combos = combinations(the_plan, grid)
    assert combos == [{"LR": "0.1", "EPOCHS": "1"}, {"LR": "0.1", "EPOCHS": "2"}, {"LR": "0.1", "EPOCHS": "3"},
                      {"LR": "0.2", "EPOCHS": "1"}, {"LR": "0.2", "EPOCHS": "2"}, {"LR": "0.2", "EPOCHS": "3"}]
    drawn = combinations(the_plan, grid, random=3, seed=7)
    assert drawn == combinations(the_plan, grid, random=3, seed=7)
    assert len(drawn) == 3 and len({tuple(c.items()) for c in drawn}) == 3
    assert all(c in combos for c in drawn)
    assert combinations(the_plan, grid, random=50) == combos  # more than the grid: the grid


@pytest.mark.parametrize("pairs, kwargs, message", [
    (["LRR=0.1,0.2"], {}, "LRR"),                                             # a typo lists the names
    (["EPOCHS=1,two"], {}, "'EPOCHS' is Integer: 'two' does not fit"),        # one bad value fails all
    (["LR=0.1,abc"], {}, "'LR' is Float: 'abc' does not fit"),
    (["LR=0.1,0.1"], {}, "given twice"),
    (["LR=0.1:0.9:0.1", "EPOCHS=1:20:1"], {"max_runs": 100}, "180 combinations, more than max runs 100"),
    (["LR=0.1"], {"seed": 3}, "--seed needs --random"),
])
def test_refused_combinations_fail_before_anything_runs(the_plan, pairs, kwargs, message) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        combinations(the_plan, grid_from_options(the_plan, pairs), **kwargs)


def test_refused_sweep_starts_nothing_on_the_server() -> None:
    with KfpStandin() as server:
        with pytest.raises(UsageError, match="'EPOCHS' is Integer"):
            t3qkfp.sweep(SWEEP, grid={"EPOCHS": [1, 2.5]}, host=server.url, upload_files=False)
        assert server.requests == []  # not even healthz


def test_metrics_of_two_nodes_with_one_name_are_told_apart() -> None:
    merged = merge_metrics([("a", [("loss", 1.0), ("acc", 0.5)]), ("b", [("loss", 2.0)])])
    assert dict(merged) == {"a/loss": 1.0, "acc": 0.5, "b/loss": 2.0}


# ---- a real local sweep --------------------------------------------------------------------
def test_local_sweep_ranks_runs_by_the_metrics_their_node_wrote(tmp_path: Path) -> None:
    lines: list[str] = []
    result = t3qkfp.sweep_local(SWEEP, grid={"LR": "0.1:0.3:0.1", "EPOCHS": [1, 2, 0]}, parallel=2,
                                workdir=tmp_path, on_progress=lines.append)
    assert len(result.runs) == 9 and result.swept == ("LR", "EPOCHS")
    ok = [r for r in result.runs if r.status == "succeeded"]
    failed = [r for r in result.runs if r.status == "failed"]
    assert len(ok) == 6 and len(failed) == 3
    assert all(dict(r.parameters)["EPOCHS"] == "0" for r in failed)       # failures are rows
    assert all("exit code 1" in r.error and r.run_id for r in failed)
    for run in ok:
        p = dict(run.parameters)
        assert run.metric("loss") == expected_loss(float(p["LR"]), int(p["EPOCHS"]))
        assert Path(run.folder, "nodes", "train", "metadata", "mlpipeline-metrics.json").is_file()
    assert len({r.folder for r in result.runs}) == 9                     # a folder per run
    ranked = result.table("loss")
    losses = [row["loss"] for row in ranked[:6]]
    assert losses == sorted(losses) and [row["status"] for row in ranked[6:]] == ["failed"] * 3
    best = result.best("loss", maximize=False)
    assert dict(best.parameters) == {"LR": "0.1", "EPOCHS": "2"}
    assert result.best("accuracy") == best
    assert result.table("loss", descending=True)[0]["loss"] == max(losses)
    assert lines[-1] == "sweep: 9/9 done, 0 running, 3 failed"
    assert max(int(line.split(", ")[1].split()[0]) for line in lines) <= 2  # never more than --parallel
    # CSV / JSON / text / HTML + plot
    rows = list(csv.DictReader(io.StringIO(result.to_csv(tmp_path / "s.csv", sort="loss"))))
    assert rows[0]["LR"] == "0.1" and rows[0]["EPOCHS"] == "2" and rows[-1]["loss"] == ""
    assert (tmp_path / "s.csv").read_text() == result.to_csv(sort="loss")
    data = result.to_json(tmp_path / "s.json")
    assert data["metrics"] == ["loss", "accuracy"] and json.loads((tmp_path / "s.json").read_text()) == data
    assert result.text("loss").splitlines()[0].split() == ["RUN", "RUN_ID", "STATUS", "LR", "EPOCHS", "LOSS",
                                                          "ACCURACY", "ERROR"]
    html = result._repr_html_()
    assert html.count("<tr>") == 10 and '<img alt="loss by LR" src="data:image/png;base64,' in html
    ax = result.plot("loss", "EPOCHS")
    assert [line.get_label() for line in ax.get_lines()] == ["LR=0.1", "LR=0.2", "LR=0.3"]
    with pytest.raises(UsageError, match="no metric 'los'.*loss, accuracy"):
        result.table("los")


# ---- on KFP (the stand-in, through the real kfp.Client) ------------------------------------
def loss_of(values: dict[str, str]) -> dict[str, float]:
    return {"loss": expected_loss(float(values["LR"]), int(values["EPOCHS"]), values["OPTIMIZER"]),
            "Bad_Name": 1.0}


@pytest.fixture
def kfp() -> Iterator[KfpStandin]:
    with KfpStandin(run_metrics=loss_of, polls_until_done=2,
                    run_outcome=lambda v: "Failed" if v["OPTIMIZER"] == "broken" else "Succeeded") as server:
        yield server
        assert server.violations == []


def test_kfp_sweep_one_version_one_experiment_runs_with_exactly_their_overrides(kfp: KfpStandin) -> None:
    lines: list[str] = []
    result = t3qkfp.sweep(SWEEP, grid={"LR": [0.1, 0.3], "OPTIMIZER": ["adam", "broken"]}, host=kfp.url,
                          wait=True, name="lr-opt", upload_files=False, poll_interval=0.01,
                          on_progress=lines.append)
    assert len(kfp.pipelines) == 1 and len(kfp.versions) == 1
    assert [e["name"] for e in kfp.experiments.values()] == ["lr-opt"]
    calls = kfp.calls("create_run")
    assert [c.body["pipeline_spec"]["parameters"] for c in calls] == [
        [{"name": "LR", "value": "0.1"}, {"name": "OPTIMIZER", "value": "adam"}],
        [{"name": "LR", "value": "0.1"}, {"name": "OPTIMIZER", "value": "broken"}],
        [{"name": "LR", "value": "0.3"}, {"name": "OPTIMIZER", "value": "adam"}],
        [{"name": "LR", "value": "0.3"}, {"name": "OPTIMIZER", "value": "broken"}]]
    [version_id] = kfp.versions
    assert all(ref["key"]["id"] == version_id for c in calls for ref in c.body["resource_references"]
               if ref["key"]["type"] == "PIPELINE_VERSION")
    for run in result.runs:  # the workflow each run executes: the defaults but for its overrides
        params = {p["name"]: p["value"] for p in kfp.run_workflow(run.run_id)["spec"]["arguments"]["parameters"]}
        assert params == {"EPOCHS": "1", **dict(run.parameters)}
    assert [r.status for r in result.runs] == ["succeeded", "failed", "succeeded", "failed"]
    assert result.runs[0].metrics == (("loss", expected_loss(0.1, 1, "adam")),)  # Bad_Name: KFP refuses it
    assert result.runs[1].metrics == () and "exit code 1" in result.runs[1].error
    assert result.best("loss", maximize=False) is result.runs[0]
    assert result.version_id == version_id and result.experiment == "lr-opt"
    assert lines[-1] == "sweep: 4/4 done, 0 running, 2 failed"


def test_kfp_sweep_parallel_limits_active_runs(kfp: KfpStandin) -> None:
    result = t3qkfp.sweep(SWEEP, grid={"EPOCHS": "1:4:1"}, host=kfp.url, wait=True, parallel=2,
                          upload_files=False, poll_interval=0.01)
    assert [r.status for r in result.runs] == ["succeeded"] * 4
    # each create_run came after the earlier runs but `parallel - 1` were seen to end
    order = [r.operation for r in kfp.requests if r.operation in ("create_run", "get_run")]
    assert order.index("get_run") < [i for i, op in enumerate(order) if op == "create_run"][2]
    assert [m for r in result.runs for m in r.metrics] == [("loss", expected_loss(0.5, n)) for n in (1, 2, 3, 4)]


def test_kfp_sweep_run_that_cannot_start_is_a_row(kfp: KfpStandin) -> None:
    kfp.fail_next("create_run", 500, "database is down")
    result = t3qkfp.sweep(SWEEP, grid={"EPOCHS": [1, 2]}, host=kfp.url, upload_files=False, poll_interval=0.01)
    assert [r.status for r in result.runs] == ["not started", "started"]
    assert "database is down" in result.runs[0].error and result.runs[1].run_id in kfp.runs


# ---- the CLI -------------------------------------------------------------------------------
def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os
    return subprocess.run([sys.executable, "-m", "t3qkfp", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


def test_cli_local_sweep_prints_the_sorted_table_and_writes_csv(tmp_path: Path) -> None:
    done = cli("sweep", str(SWEEP), "--local", "-p", "LR=0.1,0.3", "-p", "EPOCHS=1,2", "--sort", "loss",
               "--parallel", "2", "--csv", str(tmp_path / "t.csv"), "--workdir", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["RUN", "RUN_ID", "STATUS", "LR", "EPOCHS"]
    assert [line.split()[3:5] for line in lines[1:]] == [["0.1", "2"], ["0.3", "2"], ["0.1", "1"], ["0.3", "1"]]
    assert "t3qkfp: sweep: 4/4 done, 0 running, 0 failed" in done.stderr
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))) == 4


def test_cli_refuses_a_bad_value_before_running(tmp_path: Path) -> None:
    done = cli("sweep", str(SWEEP), "--local", "-p", "EPOCHS=1,x", "--workdir", str(tmp_path / "w"))
    assert done.returncode == 2 and "'EPOCHS' is Integer: 'x' does not fit" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "w").exists()


def test_cli_kfp_sweep_with_wait(kfp: KfpStandin) -> None:
    done = cli("sweep", str(SWEEP), "--host", kfp.url, "-p", "OPTIMIZER=adam,sgd", "--wait", "--no-upload",
               "--poll-interval", "0.01", "--sort", "loss")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert [r.split()[3] for r in rows[1:3]] == ["adam", "sgd"]
    assert len(kfp.runs) == 2 and len(kfp.versions) == 1


def test_result_table_without_runs_metrics() -> None:
    result = SweepResult(name="s", swept=("A",), runs=(SweepRun(index=1, parameters=(("A", "1"),), status="failed",
                                                                 error="boom"),))
    assert result.metric_names == [] and "boom" in result.text()
    with pytest.raises(UsageError, match="no run of this sweep reported metric 'x'|no metric 'x'"):
        result.best("x")


# ---- stopping ------------------------------------------------------------------------------
def test_interrupted_kfp_sweep_stops_launching_and_names_runs_on_the_server(kfp: KfpStandin) -> None:
    from t3qkfp.sweeps import still_on_server

    def started(run: SweepRun) -> None:
        if run.index == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread
    result = t3qkfp.sweep(SWEEP, grid={"EPOCHS": "1:5:1"}, host=kfp.url, wait=True, upload_files=False,
                          poll_interval=0.01, on_started=started)
    assert result.interrupted and len(kfp.runs) == 2
    assert [r.status for r in result.runs][2:] == ["not started"] * 3
    assert {r.run_id for r in still_on_server(result)} == set(kfp.runs)


def test_stopped_local_sweep_starts_no_further_runs(tmp_path: Path) -> None:
    import threading

    stop = threading.Event()

    def progress(line: str) -> None:
        if line.startswith("sweep: 1/3 done"):
            stop.set()
    result = t3qkfp.sweep_local(SWEEP, grid={"EPOCHS": [1, 2, 3]}, workdir=tmp_path, on_progress=progress, stop=stop)
    assert [r.status for r in result.runs] == ["succeeded", "not started", "not started"]
    assert result.interrupted and len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_cli_ctrl_c_says_which_runs_are_still_on_the_server() -> None:
    import os
    import signal
    import time

    with KfpStandin(polls_until_done=10**6) as server:
        proc = subprocess.Popen([sys.executable, "-m", "t3qkfp", "sweep", str(SWEEP), "--host", server.url,
                                 "-p", "EPOCHS=1:4:1", "--parallel", "2", "--wait", "--no-upload",
                                 "--poll-interval", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while len(server.runs) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        ids = sorted(server.runs)
    assert proc.returncode == 130, err
    assert len(ids) == 2  # --parallel 2: the other two were never launched
    assert f"still on the server: {', '.join(ids)}" in err or f"still on the server: {', '.join(ids[::-1])}" in err
    assert "Traceback" not in err and out.count("not started") == 2


def test_cli_timeout_names_the_runs_left_running() -> None:
    with KfpStandin(polls_until_done=10**6) as server:
        done = cli("sweep", str(SWEEP), "--host", server.url, "-p", "EPOCHS=1,2", "--wait", "--timeout", "0.3",
                   "--poll-interval", "0.05", "--no-upload")
        ids = sorted(server.runs)
    assert done.returncode == 1 and len(ids) == 2
    line = next(x for x in done.stderr.splitlines() if "still on the server" in x)
    assert "stopped following (--timeout)" in line and sorted(line.split(": ")[-1].split(", ")) == ids
    assert done.stdout.count("running") == 2
