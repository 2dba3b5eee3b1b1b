"""A real S3 protocol server on 127.0.0.1 for tests: moto's ThreadedMotoServer, optionally with auth.

Why auth: moto accepts any keys unless IAM authentication is switched on; with it on, moto
recomputes every SigV4 signature, so the stdlib signer in runtime/loader.py and minio are both
checked against botocore's implementation, and wrong keys are really refused. moto's auth switch
is process-wide, so `s3_server(auth=True)` switches it back off when it stops.
"""
from __future__ import annotations

import contextlib
import json
import socket
import urllib.request
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

from t3qkfp.object_storage import Credentials, make_client
from t3qkfp.storage_settings import StorageConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Server:
    """A running server: where it is, keys that work, and a bucket that exists."""

    endpoint: str
    credentials: Credentials
    bucket: str

    def config(self, **overrides: Any) -> StorageConfig:
        values = {"endpoint": self.endpoint, "bucket": self.bucket, "prefix": "t3qkfp-test"}
        values.update(overrides)
        return StorageConfig(**values)

    def client(self) -> Any:
        return make_client(self.config(), self.credentials)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(o.object_name for o in
                      self.client().list_objects(self.bucket, prefix=prefix, recursive=True))

    def read(self, key: str) -> bytes:
        response = self.client().get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()


def _moto_api(endpoint: str, path: str, body: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=body.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _iam_keys(endpoint: str) -> Credentials:
    """An IAM user allowed s3:* and its access key, created while auth is still off."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import boto3
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    user = f"t3qkfp-test-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Credentials(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])


@contextlib.contextmanager
def s3_server(*, auth: bool = True) -> Iterator[S3Server]:
    """Start moto on 127.0.0.1 (free port), create a bucket, yield, stop and switch auth off."""
    from t3qkfp.local_s3 import start_s3_server

    server, endpoint = start_s3_server()
    try:
        credentials = _iam_keys(endpoint) if auth else Credentials(access_key="anything", secret_key="anything")
        bucket = f"test-{uuid.uuid4().hex[:12]}"
        if auth:
            _moto_api(endpoint, "reset-auth", "0")
        found = S3Server(endpoint=endpoint, credentials=credentials, bucket=bucket)
        found.client().make_bucket(bucket)
        yield found
    finally:
        if auth:
            _moto_api(endpoint, "reset-auth", "inf")
        server.stop()


def closed_port_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
