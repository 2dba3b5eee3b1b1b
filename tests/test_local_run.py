"""The local runner: the compiled workflow's own commands, run here, end to end through S3."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp.errors import RunError, UsageError
from t3qkfp.local import run_local
from t3qkfp.local_steps import check_parameters, kubelet_expand, substitute

from s3server import s3_server

CASES = Path(__file__).parent / "runtime_cases"
THREE = CASES / "three_nodes" / "three_nodes.pipeline"
FAILING = CASES / "failing" / "failing.pipeline"


def test_three_nodes_with_overrides_through_a_real_endpoint(tmp_path: Path) -> None:
    """notebook → script → notebook; overrides reach the code; shell text is only data."""
    canary = tmp_path / "canary"
    message = f"$(touch {canary}-1); `touch {canary}-2` '\" && echo pwned | cat ; {{not}} é"
    log = io.StringIO()
    with s3_server(auth=True) as s3:
        config = s3.config(prefix="local-e2e")
        run = run_local(THREE, params={"COUNT": "4", "FACTOR": 5, "MESSAGE": message},
                        storage=config, credentials=s3.credentials, workdir=tmp_path / "work", out=log)
        base = f"local-e2e/runs/{run.run_id}"
        keys = s3.keys(base + "/")
        summary = json.loads(s3.read(f"{base}/report/outputs/report/summary.json"))
        executed = json.loads(s3.read(f"{base}/prepare-numbers/prepare.ipynb"))
    text = log.getvalue()
    assert run.succeeded and [n.status for n in run.nodes] == ["succeeded"] * 3
    assert "without encryption" not in text  # ipykernel's start-up warning stays out of node logs
    assert run.parameters["COUNT"] == "4" and run.parameters["FACTOR"] == "5"
    # node 2 read node 1's output, node 3 read node 2's
    assert summary["numbers"] == [5, 10, 15, 20] and summary["total"] == 50
    assert summary["message"] == message  # unchanged, byte for byte
    assert summary["greeting_visible"] is None  # a node sees only its own env vars
    assert not list(tmp_path.glob("canary*"))  # nothing was executed
    # the executed notebook shows the overridden value
    outputs = "".join(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", []))
                      for c in executed["cells"] for o in c.get("outputs", []))
    assert "prepare: count=4 greeting='hello'" in outputs
    assert {f"{base}/prepare-numbers/outputs/data/numbers.txt", f"{base}/double-them/outputs/doubled.txt",
            f"{base}/double-them/double.py.log", f"{base}/report/report.ipynb",
            f"{base}/report/manifest.json"} <= set(keys)
    # results copied back; KFP metadata written per node, with the node's own metrics merged
    assert run.workdir == tmp_path / "work" / run.run_id and run.results_dir == run.workdir / "results"
    assert (run.results_dir / "report" / "outputs" / "report" / "summary.json").is_file()
    metrics = json.loads((run.workdir / "nodes" / "report" / "metadata" / "mlpipeline-metrics.json").read_text())
    assert metrics["metrics"] == [{"name": "total", "numberValue": 50}]
    # logs streamed with a node prefix, and progress lines
    assert "[prepare-numbers] prepare: count=4" in text
    assert "[double-them] double: [1, 2, 3, 4] -> [5, 10, 15, 20]" in text
    assert "t3qkfp: 3/3 nodes done" in text


def test_failing_cell_names_the_node_and_stops_the_run(tmp_path: Path) -> None:
    log = io.StringIO()
    with pytest.raises(RunError) as info:
        run_local(FAILING, workdir=tmp_path / "work", out=log)  # private moto server
    message = str(info.value)
    assert "node 'Exploding notebook' (exploding-notebook) failed" in message
    assert "ValueError: boom from cell two" in message
    assert "Traceback" in message or "raise ValueError" in message
    text = log.getvalue()
    assert "[never-runs]" not in text  # nothing after the failure starts
    assert "1/3 nodes done" in text and "local S3 server stopped" in text
    # the executed notebook (with the error) was copied back before the server went away
    [run_folder] = (tmp_path / "work").iterdir()  # the run's own folder, named by its run id
    results = run_folder / "results"
    executed = json.loads((results / "exploding-notebook" / "boom.ipynb").read_text())
    assert any(o.get("ename") == "ValueError" for c in executed["cells"] for o in c.get("outputs", []))
    assert str(results) in message


def test_unknown_parameter_lists_valid_names() -> None:
    workflow = t3qkfp.compile(THREE)
    with pytest.raises(UsageError, match=r"unknown run parameter 'COUNTT'\. Did you mean 'COUNT'\?.*"
                                         r"COUNT, FACTOR, GREETING, MESSAGE, TITLE"):
        check_parameters(workflow, {"COUNTT": "1"})


def test_unknown_parameter_fails_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown run parameter 'nope'"):
        run_local(THREE, params={"nope": "1"}, workdir=tmp_path, out=io.StringIO())
    assert not list(tmp_path.iterdir())


def test_value_argo_cannot_carry_is_refused_before_the_local_s3_server_starts(tmp_path: Path, monkeypatch) -> None:
    import t3qkfp.local_s3

    def no_server(*args: object, **kwargs: object) -> None:
        raise AssertionError("the local S3 server was started for a run that cannot start")

    monkeypatch.setattr(t3qkfp.local_s3.RunStorage, "__enter__", no_server)
    with pytest.raises(UsageError, match="'MESSAGE'.*'\\{\\{'"):
        run_local(THREE, params={"MESSAGE": "{{workflow.name}}"}, workdir=tmp_path, out=io.StringIO())
    assert not list(tmp_path.iterdir())


def test_value_argo_cannot_carry_is_refused() -> None:
    workflow = t3qkfp.compile(THREE)
    with pytest.raises(UsageError, match="'MESSAGE'.*'\\{\\{'"):
        check_parameters(workflow, {"MESSAGE": "{{workflow.name}}"})


@pytest.mark.parametrize(("text", "expected"), [
    ("{{inputs.parameters.a}}", "A"),
    ("x{{inputs.parameters.a}}y{{inputs.parameters.b}}", "xAyB"),
    ("{{unknown}} {{inputs.parameters.a}}", "{{unknown}} A"),
    # unbalanced '{{' swallows the next placeholder, as Argo's fasttemplate does
    ("{{x {{inputs.parameters.a}}", "{{x {{inputs.parameters.a}}"),
    ("no tags }} here {{", "no tags }} here {{"),
])
def test_substitute_like_argo(text: str, expected: str) -> None:
    assert substitute(text, {"inputs.parameters.a": "A", "inputs.parameters.b": "B"}) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)", "1"), ("$$(A)", "$(A)"), ("price$$", "price$"), ("$(UNSET)", "$(UNSET)"),
    ("$(touch /tmp/x)", "$(touch /tmp/x)"), ("a$b", "a$b"), ("$", "$"), ("$(", "$("),
])
def test_kubelet_expansion(text: str, expected: str) -> None:
    assert kubelet_expand(text, {"A": "1"}) == expected


def test_credentials_reach_nodes_only_from_secret_refs() -> None:
    """The compiled env takes the keys from the secret after the user vars; locally they are filled."""
    from t3qkfp.local_steps import plan_steps
    from t3qkfp.object_storage import Credentials

    workflow = t3qkfp.compile(THREE)
    creds = Credentials(access_key="AKIALOCAL", secret_key="local-secret")
    steps = plan_steps(workflow, check_parameters(workflow, {"MESSAGE": "$(AWS_SECRET_ACCESS_KEY)"}),
                       run_id="rid", credentials=creds)
    report = next(s for s in steps if s.task == "report")
    env = dict(report.env)
    # the user's code sees the storage secret as AWS_* (as under Elyra), and so does the loader:
    # its private names are set only where the user's own secrets take AWS_*
    assert env["AWS_SECRET_ACCESS_KEY"] == "local-secret" and env["AWS_ACCESS_KEY_ID"] == "AKIALOCAL"
    assert "T3QKFP_S3_SECRET_KEY" not in env and "T3QKFP_S3_ACCESS_KEY" not in env
    assert env["MESSAGE"] == "$(AWS_SECRET_ACCESS_KEY)"  # secrets come later: no expansion
    assert env["T3QKFP_RUN_ID"] == "rid"
    names = [name for name, _ in report.env]
    assert names.index("MESSAGE") < names.index("AWS_ACCESS_KEY_ID")
    assert report.dependencies == ("double-them",)


@pytest.mark.parametrize(("text", "expected"), [
    ("5$€", b"5$\xc3\xa2\x82\xac"), ("$é", b"$\xc3\x83\xa9"), ("$$€", b"$\xe2\x82\xac"),
    ("$(A)$$$(B", b"1$$(B"), ("€$(A)€", "€1€".encode()), ("$(A€)", b"x"), ("a$\x7f", b"a$\x7f"),
])
def test_kubelet_expansion_is_byte_exact(text: str, expected: bytes) -> None:
    """Issue 11 point 5: Go's expansion writes the byte after a lone `$` as a rune, so `$€` is
    `$` + U+00E2 + the two bytes left of `€`: invalid UTF-8, which the local run reproduces."""
    assert kubelet_expand(text, {"A": "1", "A€": "x"}).encode("utf-8", "surrogateescape") == expected


def test_a_default_the_kubelet_mangles_is_warned_at_compile(caplog) -> None:
    import json
    import t3qkfp
    from invalid_helpers import INVALID
    document = json.loads((INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8"))
    document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["env_vars"] = [
        {"env_var": "PRICE", "value": "5$€"}, {"env_var": "FINE", "value": "5$$€ $(X) €$"}]
    with caplog.at_level("WARNING", logger="t3qkfp"):
        t3qkfp.compile_pipeline(document, base_dir=INVALID)
    warned = [r.getMessage() for r in caplog.records if "invalid UTF-8" in r.getMessage()]
    assert len(warned) == 1 and "'PRICE'" in warned[0] and "'FINE'" not in warned[0]


def test_users_own_aws_secrets_reach_their_code_and_the_loader_keeps_its_own(tmp_path: Path) -> None:
    """v8 pipeline-default secrets named AWS_* (as in Red Hat's examples): the user's code sees
    the user's values, a node's own secret beats the default, and t3qkfp's downloads still use
    the storage secret (the server checks signatures, so wrong keys would fail the run)."""
    pipeline = CASES / "aws_secrets" / "aws_secrets.pipeline"
    workflow = t3qkfp.compile(pipeline)
    for template in workflow["spec"]["templates"]:
        names = [e["name"] for e in (template.get("container") or {}).get("env", [])]
        assert len(names) == len(set(names))  # one entry per name: no reliance on duplicate order
    user = {("aws-connection-my-storage", "AWS_ACCESS_KEY_ID"): "USER-KEY",
            ("aws-connection-my-storage", "AWS_SECRET_ACCESS_KEY"): "user-secret",
            ("aws-connection-my-storage", "AWS_S3_ENDPOINT"): "https://s3.user.example",
            ("other-bucket", "node-access"): "NODE-KEY"}
    with s3_server(auth=True) as s3:
        run = run_local(pipeline, storage=s3.config(prefix="aws"), credentials=s3.credentials,
                        workdir=tmp_path / "work", secret_values=user, out=io.StringIO())
        base = f"aws/runs/{run.run_id}"
        own = json.loads(s3.read(f"{base}/uses-own-s3/outputs/out/own.json"))
        node = json.loads(s3.read(f"{base}/node-override/outputs/out/node.json"))
    assert run.succeeded
    assert own == {"AWS_ACCESS_KEY_ID": "USER-KEY", "AWS_SECRET_ACCESS_KEY": "user-secret",
                   "AWS_S3_ENDPOINT": "https://s3.user.example"}
    assert node == {"AWS_ACCESS_KEY_ID": "NODE-KEY", "AWS_SECRET_ACCESS_KEY": "user-secret",
                    "AWS_S3_ENDPOINT": "https://s3.user.example"}
