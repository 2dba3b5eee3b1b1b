"""Uploading node archives with minio to a real S3 server, and what a compiled YAML expects."""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp import nodespec
from t3qkfp.errors import PipelineError, StorageError
from t3qkfp.archive_upload import upload
from t3qkfp.object_storage import Credentials, expected_objects
from t3qkfp.runtime.command import runtime_helper
from t3qkfp.storage_settings import StorageConfig

from s3server import S3Server, closed_port_endpoint, s3_server

CASES = Path(__file__).parent / "runtime_cases"
THREE = CASES / "three_nodes" / "three_nodes.pipeline"


@pytest.fixture(scope="module")
def s3() -> S3Server:
    with s3_server(auth=True) as server:
        yield server


def test_upload_puts_every_archive_once(s3: S3Server) -> None:
    config = s3.config(prefix="up-once")
    log = io.StringIO()
    first = upload(THREE, config=config, credentials=s3.credentials, progress=log)
    assert len(first) == 3 and all(r.uploaded for r in first)
    assert log.getvalue().count("uploaded: s3://") == 3
    assert "[3/3]" in log.getvalue() and "node 'Report'" in log.getvalue()
    # the node runtime helper the loader fetches first goes up with them, once for all nodes
    runtime = nodespec.runtime_key("up-once", runtime_helper()[1])
    assert log.getvalue().count(f"node runtime helper uploaded (s3://{s3.bucket}/{runtime}") == 1
    keys = s3.keys("up-once/")
    assert keys == sorted({r.key for r in first} | {runtime})
    assert s3.read(runtime) == runtime_helper()[0]
    log = io.StringIO()
    second = upload(THREE, config=config, credentials=s3.credentials, progress=log)
    assert [r.key for r in second] == [r.key for r in first]
    assert not any(r.uploaded for r in second)  # content-addressed: nothing new
    assert "node runtime helper already there" in log.getvalue()


def test_expected_objects_match_the_uploaded_keys(s3: S3Server) -> None:
    config = s3.config(prefix="expected")
    results = upload(THREE, config=config, credentials=s3.credentials, progress=io.StringIO())
    workflow = t3qkfp.compile(THREE, storage=config)
    expected = expected_objects(workflow)
    runtime = nodespec.runtime_key("expected", runtime_helper()[1])
    assert sorted(e.key for e in expected) == sorted([r.key for r in results] + [runtime]) == s3.keys("expected/")
    assert sorted(e.key for e in expected) == t3qkfp.compile_pipeline(THREE, storage=config).object_keys()
    assert all(e.bucket == s3.bucket and e.endpoint == s3.endpoint for e in expected)
    assert {t for e in expected for t in e.tasks} == {"prepare-numbers", "double-them", "report"}
    assert str(expected[0]).startswith(f"s3://{s3.bucket}/expected/archives/")
    helper = next(e for e in expected if e.key == runtime)  # every node runs it
    assert helper.tasks == ("double-them", "prepare-numbers", "report") and helper.sha256 == runtime_helper()[1]


def test_credentials_from_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.credentials.secret_key)
    results = upload(THREE, config=s3.config(prefix="from-env"), progress=io.StringIO())
    assert len(results) == 3


def test_missing_credentials_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(StorageError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set"):
        upload(THREE, config=StorageConfig(endpoint="http://127.0.0.1:9"), progress=io.StringIO())


def test_wrong_credentials(s3: S3Server) -> None:
    wrong = Credentials(access_key="AKIAWRONGWRONGWRONG0", secret_key="very-secret-value")
    with pytest.raises(StorageError, match="refused the credentials") as info:
        upload(THREE, config=s3.config(), credentials=wrong, progress=io.StringIO())
    assert "very-secret-value" not in str(info.value)
    assert "very-secret-value" not in repr(wrong)


def test_missing_bucket_and_create(s3: S3Server) -> None:
    config = s3.config(bucket="t3qkfp-created-on-request")
    with pytest.raises(StorageError, match="bucket 't3qkfp-created-on-request' does not exist.*--create-bucket"):
        upload(THREE, config=config, credentials=s3.credentials, progress=io.StringIO())
    results = upload(THREE, config=config, credentials=s3.credentials, create_bucket=True,
                     progress=io.StringIO())
    assert len(results) == 3


def test_unreachable_endpoint() -> None:
    endpoint = closed_port_endpoint()
    with pytest.raises(StorageError, match=f"cannot reach the object storage endpoint {endpoint}") as info:
        upload(THREE, config=StorageConfig(endpoint=endpoint),
               credentials=Credentials(access_key="a", secret_key="b"), progress=io.StringIO())
    assert "Connection refused" in str(info.value) and "<urllib3" not in str(info.value)


def test_an_endpoint_that_is_not_s3_is_named_in_one_line(tmp_path: Path) -> None:
    """A web page where the S3 API should be (a console port, a proxy) gives one line, not its HTML."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(StorageError) as info:
            upload(THREE, config=StorageConfig(endpoint=endpoint), create_bucket=True,
                   credentials=Credentials(access_key="a", secret_key="b"), progress=io.StringIO())
    finally:
        server.shutdown()
        server.server_close()
    message = str(info.value)
    assert f"{endpoint} does not answer as S3-compatible object storage (HTTP 501" in message
    assert "\n" not in message and "<html" not in message.lower()


def test_symlink_leading_out_is_refused_at_packing(tmp_path: Path) -> None:
    folder = tmp_path / "pipeline"
    shutil.copytree(THREE.parent, folder)
    secret = tmp_path / "credentials"
    secret.write_text("[default]\naws_secret_access_key = do-not-pack\n")
    (folder / "lib" / "arith.py").unlink()
    os.symlink(secret, folder / "lib" / "arith.py")  # a declared dependency of node 2
    with pytest.raises(PipelineError, match="lib/arith.py.*leads outside the pipeline folder"):
        upload(folder / "three_nodes.pipeline", config=StorageConfig(endpoint="http://127.0.0.1:9"),
               credentials=Credentials(access_key="a", secret_key="b"), progress=io.StringIO())
