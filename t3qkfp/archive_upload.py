"""`t3qkfp.upload`: read a pipeline, build its node archives and put them into the bucket.

Owns: the one convenience that goes from a pipeline file (or model) to uploaded archives.
Separate from object_storage.py so the S3 module never loads a pipeline (data flows one way:
reader -> node files -> archives -> bucket); `submit` and the local runner upload the archives
their compilation built instead, with object_storage.put_archives.
"""
from __future__ import annotations

import os
from typing import Any, TextIO

from .elyra_reader import load_checked
from .node_files import node_archives
from .object_storage import Credentials, UploadResult, put_archives
from .storage_settings import StorageConfig


def upload(pipeline_json_or_model: Any, *, config: StorageConfig | None = None,
           base_dir: str | os.PathLike[str] | None = None,
           root_dir: str | os.PathLike[str] | None = None, credentials: Credentials | None = None,
           access_key: str | None = None, secret_key: str | None = None,
           create_bucket: bool = False, progress: TextIO | None = None) -> list[UploadResult]:
    """Build every node's archive and put it into the bucket; existing keys are skipped.

    Keys are content hashes, so an object that exists is already right and uploading again is a
    no-op. One progress line per archive goes to `progress` (default stderr). Credentials come
    from `credentials`, else `access_key`/`secret_key`, else AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY. Raises PipelineError for unusable node files, StorageError otherwise.
    """
    loaded = load_checked(pipeline_json_or_model, base_dir=base_dir, root_dir=root_dir)
    config = config or StorageConfig.resolve()
    if credentials is None:
        credentials = (Credentials(access_key=access_key, secret_key=secret_key)
                       if access_key and secret_key else Credentials.from_env())
    # Node files are read once: load_checked's validation collected them (and raised their problems).
    built = node_archives(loaded.pipeline, loaded.members)
    archives = [(node, built[node.id]) for node in loaded.pipeline.nodes]
    return put_archives(archives, config=config, credentials=credentials,
                        create_bucket=create_bucket, progress=progress)
