"""The object storage of a local run: a private loopback S3 server (moto), or the one given.

Owns: `start_s3_server()` (moto's threaded server on 127.0.0.1, a free port) and `RunStorage`,
which yields the storage config and keys a local run uses: with no config given, a fresh bucket
on a private server with generated keys, emptied and stopped again at the end.
Why separate: the server is the one part of a local run that needs moto; the run folders and
the node processes know nothing of it, and the tests' S3 fixture starts it alone.
Must not: import moto or minio at module level (`import t3qkfp.local` stays light), or let a
generated key reach the output.
"""
from __future__ import annotations

import logging
import secrets
import uuid
from typing import Any, Callable

from . import quiet
from .errors import StorageError
from .object_storage import Credentials, storage_call, make_client
from .storage_settings import StorageConfig

LOCAL_BUCKET_PREFIX = "t3qkfp-local"


class RunStorage:
    """Context manager: (config, credentials, is_local) — a private moto server unless given."""

    def __init__(self, storage: StorageConfig | None, credentials: Credentials | None,
                 report: Callable[[str], None]):
        self.storage, self.credentials, self.report = storage, credentials, report
        self.server: Any = None

    def __enter__(self) -> tuple[StorageConfig, Credentials, bool]:
        if self.storage is not None:
            return self.storage, self.credentials or Credentials.from_env(), False
        self.server, endpoint = start_s3_server()
        config = StorageConfig(endpoint=endpoint, bucket=f"{LOCAL_BUCKET_PREFIX}-{uuid.uuid4().hex[:12]}")
        creds = self.credentials or Credentials(access_key="T3QKFP" + secrets.token_hex(7).upper(),
                                                secret_key=secrets.token_urlsafe(30))
        self.report(f"local S3 server (moto) at {endpoint}, bucket {config.bucket}")
        self.config, self.creds = config, creds
        return config, creds, True

    def __exit__(self, *exc: object) -> None:
        if self.server is None:
            return
        try:
            _drop_bucket(self.config, self.creds)
        except StorageError:
            pass  # the server goes away anyway; this only frees moto's in-process memory
        self.server.stop()
        self.report("local S3 server stopped")


def start_s3_server() -> tuple[Any, str]:
    """moto's threaded S3 server on 127.0.0.1 and a free port; returns (server, endpoint URL).

    moto's modules raise DeprecationWarnings at import on some Python versions; they are not
    the user's concern, so the import is done with warnings silenced.
    """
    with quiet.silenced():
        from moto.server import ThreadedMotoServer  # here: keeps moto out of `import t3qkfp`
    # werkzeug logs every request at INFO through its own handler unless its logger has a level;
    # a user who configured that logger keeps their setting.
    werkzeug_log = logging.getLogger("werkzeug")
    if werkzeug_log.level == logging.NOTSET:
        werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _drop_bucket(config: StorageConfig, credentials: Credentials) -> None:
    from minio.deleteobjects import DeleteObject  # here: keeps minio out of `import t3qkfp`

    client = make_client(config, credentials)

    def drop() -> None:
        names = [DeleteObject(o.object_name) for o in client.list_objects(config.bucket, recursive=True)]
        for error in client.remove_objects(config.bucket, names):
            raise StorageError(str(error))
        client.remove_bucket(config.bucket)
    storage_call(config, "removing the local bucket", drop)
