"""The KFP stand-in itself: its API definitions match the published swagger, and it refuses what
the KFP 1.2 server refuses (so tests that pass against it mean something)."""
from __future__ import annotations

import json
from typing import Iterator

import pytest
import requests

from kfp_api_schema import SWAGGER, check_message, check_query, compact_from_swagger, load_compact
from kfp_standin import KfpStandin, cron_problem, go_json_bytes

WORKFLOW = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: p-}
spec:
  entrypoint: p
  arguments:
    parameters:
    - {name: lr, value: '0.1'}
    - {name: n, value: '3'}
  templates:
  - {name: p, container: {image: alpine}}
"""


@pytest.fixture
def server() -> Iterator[KfpStandin]:
    with KfpStandin() as s:
        yield s


def upload(server: KfpStandin, text: str, name: str = "p") -> requests.Response:
    return requests.post(f"{server.url}/apis/v1beta1/pipelines/upload", params={"name": name},
                         files={"uploadfile": ("p.yaml", text.encode())}, timeout=10)


def experiment(server: KfpStandin) -> str:
    response = requests.post(f"{server.url}/apis/v1beta1/experiments", json={"name": "e"}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_compact_schema_matches_the_published_swagger() -> None:
    if not SWAGGER.is_file():
        pytest.skip(f"{SWAGGER} is absent (a fresh clone has no ../shared/specs): the compact copy "
                    "tests/kfp_api_v1beta1.json is used alone")
    derived = compact_from_swagger(json.loads(SWAGGER.read_text(encoding="utf-8")))
    ours = load_compact()
    assert ours["enums"] == derived["enums"]
    assert ours["messages"] == derived["messages"]
    assert ours["operations"] == derived["operations"]


def test_compact_schema_covers_what_kfp_client_sends() -> None:
    schema = load_compact()
    for operation in ("CreateRun", "CreateJob", "CreateExperiment", "ListExperiment", "ListPipelines",
                      "UploadPipeline", "UploadPipelineVersion", "GetRun", "GetHealthz"):
        assert operation in schema["operations"]
    assert schema["messages"]["apiParameter"] == {"name": "string", "value": "string"}


def test_checker_refuses_unknown_fields_types_and_enums() -> None:
    schema = load_compact()
    good = {"name": "r", "pipeline_spec": {"parameters": [{"name": "a", "value": "1"}]},
            "resource_references": [{"key": {"type": "EXPERIMENT", "id": "e"}, "relationship": "OWNER"}]}
    assert check_message(good, "apiRun", schema) == []
    assert check_message({"name": "r", "pipline_spec": {}}, "apiRun", schema)[0].startswith(
        "body: unknown field 'pipline_spec'")
    assert "is not a valid string" in check_message(
        {"pipeline_spec": {"parameters": [{"name": "a", "value": 1}]}}, "apiRun", schema)[0]
    assert "is not a apiResourceType" in check_message(
        {"resource_references": [{"key": {"type": "EXPERIMENTS"}}]}, "apiRun", schema)[0]
    assert check_message({"max_concurrency": "1"}, "apiJob", schema) == []  # int64 as string
    assert check_message({"max_concurrency": 1}, "apiJob", schema) == []
    assert check_message({"max_concurrency": "one"}, "apiJob", schema)
    assert check_message({"created_at": "yesterday"}, "apiJob", schema)
    assert check_query({"page_size": ["x"]}, "ListPipelines", schema) == ["query: page_size='x' is not an integer"]
    assert check_query({"namespace": ["a"]}, "ListPipelines", schema)[0].startswith("query: unknown parameter")


def test_bad_body_is_refused_and_recorded(server: KfpStandin) -> None:
    response = requests.post(f"{server.url}/apis/v1beta1/runs", json={"name": "r", "colour": "red"}, timeout=10)
    assert response.status_code == 400
    assert "unknown field 'colour'" in response.json()["error"]
    assert server.violations and "colour" in server.violations[0]


@pytest.mark.parametrize("text, expected", [
    (WORKFLOW.replace("argoproj.io/v1alpha1", "argoproj.io/v1"), "Unsupported argo version"),
    (WORKFLOW.replace("kind: Workflow", "kind: CronWorkflow"), "Unexpected resource type"),
    (WORKFLOW.replace("value: '3'", "value: 3"), "non-string value"),
    ("a: [", "Failed to parse"),
])
def test_upload_reads_the_workflow_like_kfp_1_2(server: KfpStandin, text: str, expected: str) -> None:
    response = upload(server, text)
    assert response.status_code == 500
    assert expected in response.json()["error_message"]


def test_parameter_bytes_limit(server: KfpStandin) -> None:
    params = "".join(f"    - {{name: p{i:04d}, value: '{'x' * 20}'}}\n" for i in range(300))
    big = WORKFLOW.replace("    - {name: lr, value: '0.1'}\n    - {name: n, value: '3'}\n", params)
    response = upload(server, big)
    assert "exceed maximum size of 10000" in response.json()["error_message"]
    assert go_json_bytes([{"name": "a<", "value": "&"}]) == len('[{"name":"a\\u003c","value":"\\u0026"}]')


def test_name_conflict_and_versions(server: KfpStandin) -> None:
    first = upload(server, WORKFLOW)
    assert first.status_code == 200
    again = upload(server, WORKFLOW)
    assert again.status_code == 500 and "already exist" in again.json()["error_message"]
    pid = first.json()["id"]
    url = f"{server.url}/apis/v1beta1/pipelines/upload_version"
    files = {"uploadfile": ("p.yaml", WORKFLOW.encode())}
    ok = requests.post(url, params={"name": "v2", "pipelineid": pid}, files=files, timeout=10)
    assert ok.status_code == 200
    dup = requests.post(url, params={"name": "v2", "pipelineid": pid}, files=files, timeout=10)
    assert dup.status_code == 500 and "already exist" in dup.json()["error_message"]


def test_run_parameters_must_exist_in_the_workflow(server: KfpStandin) -> None:
    pipeline = upload(server, WORKFLOW).json()
    body = {"name": "r", "pipeline_spec": {"pipeline_id": pipeline["id"],
                                           "parameters": [{"name": "lr", "value": "0.5"},
                                                          {"name": "epochs", "value": "1"}]},
            "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment(server)},
                                     "relationship": "OWNER"}]}
    response = requests.post(f"{server.url}/apis/v1beta1/runs", json=body, timeout=10)
    assert response.status_code == 400
    assert "Unrecognized input parameter: epochs" in response.json()["error"]
    body["pipeline_spec"]["parameters"].pop()
    created = requests.post(f"{server.url}/apis/v1beta1/runs", json=body, timeout=10).json()
    run_id = created["run"]["id"]
    params = server.run_workflow(run_id)["spec"]["arguments"]["parameters"]
    assert params == [{"name": "lr", "value": "0.5"}, {"name": "n", "value": "3"}]


def test_run_needs_a_name_and_an_experiment(server: KfpStandin) -> None:
    pipeline = upload(server, WORKFLOW).json()
    spec = {"pipeline_id": pipeline["id"]}
    no_name = requests.post(f"{server.url}/apis/v1beta1/runs", json={"pipeline_spec": spec}, timeout=10)
    assert "run name is empty" in no_name.json()["error"]
    no_experiment = requests.post(f"{server.url}/apis/v1beta1/runs", json={"name": "r", "pipeline_spec": spec},
                                  timeout=10)
    assert no_experiment.status_code == 400 and "experiment" in no_experiment.json()["error"]


def test_single_user_refuses_namespaces(server: KfpStandin) -> None:
    body = {"name": "e", "resource_references": [{"key": {"type": "NAMESPACE", "id": "a"},
                                                  "relationship": "OWNER"}]}
    response = requests.post(f"{server.url}/apis/v1beta1/experiments", json=body, timeout=10)
    assert "single-user mode" in response.json()["error"]


def test_wrong_base_path_and_auth(server: KfpStandin) -> None:
    assert requests.get(f"{server.root_url}/apis/v1beta1/healthz", timeout=10).status_code == 404
    server.token = "t"
    assert requests.get(f"{server.url}/apis/v1beta1/healthz", timeout=10).status_code == 401
    assert requests.get(f"{server.url}/apis/v1beta1/healthz", headers={"Authorization": "Bearer t"},
                        timeout=10).json()["multi_user"] is False


def test_fail_next_is_one_shot(server: KfpStandin) -> None:
    server.fail_next("healthz", 503, "busy")
    url = f"{server.url}/apis/v1beta1/healthz"
    assert requests.get(url, timeout=10).status_code == 503
    assert requests.get(url, timeout=10).status_code == 200


def test_cron_rules() -> None:
    assert cron_problem("0 0 6 * * *") is None and cron_problem("@daily") is None
    assert cron_problem("0 6 * *") and cron_problem("@every soon")


def test_end_sessions_before_redirects_from_that_call_on(server: KfpStandin) -> None:
    server.dex_users = {"u": "p"}
    cookie = {"authservice_session": server.new_session()}
    url = f"{server.url}/apis/v1beta1"
    server.end_sessions_before("list_experiments")
    assert requests.get(f"{url}/healthz", cookies=cookie, timeout=10).status_code == 200
    ended = requests.get(f"{url}/experiments", cookies=cookie, allow_redirects=False, timeout=10)
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/dex/auth?")
    later = requests.get(f"{url}/healthz", cookies=cookie, allow_redirects=False, timeout=10)
    assert later.status_code == 302  # the session stays ended
    followed = requests.get(f"{url}/healthz", cookies=cookie, timeout=10)
    assert followed.status_code == 200 and "<form" in followed.text  # what urllib3 would read


def test_answer_next_is_one_shot(server: KfpStandin) -> None:
    url = f"{server.url}/apis/v1beta1/experiments"
    server.answer_next("list_experiments", {})
    server.answer_next("get_experiment", "<html>login</html>")
    assert requests.get(url, timeout=10).json() == {}
    page = requests.get(f"{url}/x", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert requests.get(url, timeout=10).json() == {"total_size": 0}
    assert requests.get(f"{url}/x", timeout=10).status_code == 404


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_compressed_uploads_are_read_as_kfp_1_2_does(server: KfpStandin, tmp_path, suffix: str) -> None:
    """Elyra's own processor and `kfp dsl-compile -o x.tar.gz` send packages, not plain YAML."""
    from t3qkfp.argo_emit import write_package

    package = write_package(WORKFLOW, tmp_path / f"p{suffix}")
    response = requests.post(f"{server.url}/apis/v1beta1/pipelines/upload", params={"name": f"p{suffix}"},
                             files={"uploadfile": (package.name, package.read_bytes())}, timeout=10)
    assert response.status_code == 200, response.text
    assert {p["name"] for p in response.json()["parameters"]} == {"lr", "n"}
    broken = requests.post(f"{server.url}/apis/v1beta1/pipelines/upload", params={"name": "broken"},
                           files={"uploadfile": (package.name, package.read_bytes()[:40])}, timeout=10)
    assert broken.status_code == 400 and "Not a valid" in broken.json()["error_message"]
