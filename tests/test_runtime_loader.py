"""The constant loader and the node runtime, run exactly as in a pod: `python3 -c LOADER` + env.

Each test packs a small archive, puts it and the runtime helper object into a real S3 server
(moto, SigV4 checked) and runs the container command as a subprocess, so the signing code, both
sha256 checks, the helper exec and the error messages are all exercised the way a pod exercises
them.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from t3qkfp import nodespec
from t3qkfp.runtime import node_runtime
from t3qkfp.runtime.command import LOADER_BLOB, RUNTIME_SOURCE, blob_text, container_command, loader_text, runtime_helper

from conftest import regenerating
from s3server import S3Server, closed_port_endpoint, s3_server

RUN_ID = "0f0e0d0c-run"


@pytest.fixture(scope="module")
def s3() -> S3Server:
    with s3_server(auth=True) as server:
        yield server


def make_archive(files: dict[str, bytes], *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return buffer.getvalue()


def put(s3: S3Server, key: str, data: bytes) -> None:
    s3.client().put_object(s3.bucket, key, io.BytesIO(data), len(data))


def spec_for(s3: S3Server, archive: bytes, *, task: str = "node-a", kind: str = "python",
             file: str = "main.py", outputs: tuple[str, ...] = (), parents: tuple[str, ...] = (), position: int = 0,
             endpoint: str | None = None, bucket: str | None = None, upload: bool = True,
             sha256: str | None = None, runtime: bytes | None = None) -> nodespec.NodeSpec:
    """The node's spec, its archive and the runtime helper (or `runtime` under the helper's key) put."""
    helper, helper_sha256 = runtime_helper()
    spec = nodespec.NodeSpec(task=task, label=f"Label of {task}", kind=kind, file=file,
                             archive_sha256=sha256 or hashlib.sha256(archive).hexdigest(),
                             runtime_sha256=helper_sha256, outputs=outputs, parents=parents, position=position,
                             endpoint=endpoint or s3.endpoint, bucket=bucket or s3.bucket,
                             prefix="t3qkfp-test", region="us-east-1")
    if upload:
        put(s3, spec.archive_key, archive)  # under the compiled key, whatever its bytes hash to
        put(s3, spec.runtime_key, helper if runtime is None else runtime)
    return spec


def run_pod(spec: nodespec.NodeSpec, workdir: Path, s3: S3Server, *, env: dict[str, str] | None = None,
            access_key: str | None = None, secret_key: str | None = None,
            private: bool = True) -> subprocess.CompletedProcess[str]:
    """The container command with the container env, in a fresh folder, like a pod: the storage
    keys under the loader's private names (`private`, as where the user's secrets set AWS_*) or
    as AWS_* (as in every other container)."""
    workdir.mkdir(parents=True, exist_ok=True)
    names = ((nodespec.ACCESS_KEY_ENV, nodespec.SECRET_KEY_ENV) if private
             else (nodespec.USER_ACCESS_KEY_ENV, nodespec.USER_SECRET_KEY_ENV))
    full_env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", "/tmp"),
                **(env or {}),
                nodespec.NODE_ENV: spec.encode(), nodespec.RUN_ID_ENV: RUN_ID,
                names[0]: access_key or s3.credentials.access_key,
                names[1]: secret_key or s3.credentials.secret_key,
                nodespec.METADATA_DIR_ENV: str(workdir / "_metadata")}
    return subprocess.run(container_command(), cwd=workdir, env=full_env, capture_output=True,
                          text=True, timeout=120)


# --- the command itself -----------------------------------------------------------------------

def test_loader_text_is_small_constant_and_safe() -> None:
    text = loader_text()
    for forbidden in ("{{", "}}", "$(", "$$", '"""', "\n#"):
        assert forbidden not in text
    compile(text, "<loader>", "exec")
    command = container_command()
    assert command[:2] == ["python3", "-c"]
    for forbidden in ("{{", "}}", "$(", "$$", "\n"):
        assert forbidden not in command[2]
    assert len(command[2]) < 1700, len(command[2])  # in every pod (spec.podSpecPatch writes it once)
    # The one-liner runs exactly the loader text: inflating the packed part gives it back.
    packed = command[2].split("b64decode('")[1].split("')")[0]
    assert zlib.decompress(base64.b64decode(packed), -15).decode() == text


def test_stored_loader_blob_matches_loader_py() -> None:
    """The stored blob keeps the YAML identical whatever zlib a machine has; it must be current."""
    if regenerating():
        LOADER_BLOB.write_text(blob_text(loader_text()), encoding="ascii")
    assert LOADER_BLOB.read_text(encoding="ascii") == blob_text(loader_text()), (
        "runtime/loader.deflate.b64 is stale: run the tests with T3QKFP_REGENERATE=1")


def test_runtime_helper_is_stdlib_only() -> None:
    """papermill only inside the notebook branch; nothing else outside the standard library."""
    import ast
    tree = ast.parse(RUNTIME_SOURCE.read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
           for alias in getattr(node, "names", []) if not isinstance(node, ast.ImportFrom)}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top


# --- a node running through the loader ------------------------------------------------------------

def test_python_node_reads_env_uploads_outputs_and_metadata(s3: S3Server, tmp_path: Path) -> None:
    script = (b"import os, pathlib\n"
              b"pathlib.Path('out').mkdir()\n"
              b"pathlib.Path('out/value.txt').write_text(os.environ['VALUE'])\n"
              b"print('script saw', repr(os.environ['VALUE']))\n")
    archive = make_archive({"sub/main.py": script})
    spec = spec_for(s3, archive, file="sub/main.py", outputs=("out/*.txt",))
    value = "a b $(touch x) `id` '\" ;|&"
    done = run_pod(spec, tmp_path / "pod", s3, env={"VALUE": value})
    assert done.returncode == 0, done.stderr + done.stdout
    assert "script saw" in done.stdout
    assert (tmp_path / "pod" / "sub" / "main.py").is_file()
    assert not (tmp_path / "pod" / ".t3qkfp").exists()
    base = f"t3qkfp-test/runs/{RUN_ID}/node-a"
    assert s3.read(f"{base}/outputs/out/value.txt").decode() == value
    assert json.loads(s3.read(f"{base}/manifest.json"))["files"] == ["out/value.txt"]
    assert b"script saw" in s3.read(f"{base}/main.py.log")
    ui = json.loads((tmp_path / "pod" / "_metadata" / "mlpipeline-ui-metadata.json").read_text())
    assert ui["outputs"][-1]["type"] == "markdown" and base in ui["outputs"][-1]["source"]
    metrics = json.loads((tmp_path / "pod" / "_metadata" / "mlpipeline-metrics.json").read_text())
    assert metrics == {"metrics": []}


def manifest(files: list[str], position: int, lineage: list[list[object]] | None = None) -> bytes:
    return json.dumps({"version": 2, "files": files, "position": position, "lineage": lineage or []}).encode()


def test_inputs_from_parent_land_in_node_folder(s3: S3Server, tmp_path: Path) -> None:
    base = f"t3qkfp-test/runs/{RUN_ID}/parent"
    put(s3, f"{base}/manifest.json", manifest(["data/in.csv"], 0))
    put(s3, f"{base}/outputs/data/in.csv", b"1,2,3\n")
    archive = make_archive({"nodes/use.py": b"print(open('data/in.csv').read().strip())\n"})
    spec = spec_for(s3, archive, task="child", file="nodes/use.py", parents=("parent",), position=1)
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "1,2,3" in done.stdout
    assert (tmp_path / "pod" / "nodes" / "data" / "in.csv").read_text() == "1,2,3\n"
    # The child's own manifest passes the lineage on, so its children need not list 'parent'.
    own = json.loads(s3.read(f"t3qkfp-test/runs/{RUN_ID}/child/manifest.json"))
    assert own["position"] == 1 and own["lineage"] == [[0, "parent"]]


def test_the_nearer_ancestor_s_copy_of_a_file_is_the_one_left(s3: S3Server, tmp_path: Path) -> None:
    """Ancestors come farthest first (by position, whatever the names): z-prep -> a-clean -> report,
    where report names only its parent and reaches z-prep through a-clean's lineage."""
    for task, text, position, lineage in (("z-prep", b"raw\n", 0, []), ("a-clean", b"raw->clean\n", 1, [[0, "z-prep"]])):
        base = f"t3qkfp-test/runs/{RUN_ID}/{task}"
        put(s3, f"{base}/manifest.json", manifest(["data.csv"], position, lineage))
        put(s3, f"{base}/outputs/data.csv", text)
    archive = make_archive({"report.py": b"print('REPORT SEES', open('data.csv').read().strip())\n"})
    spec = spec_for(s3, archive, task="report", file="report.py", parents=("a-clean",), position=2)
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "REPORT SEES raw->clean" in done.stdout
    assert "input data.csv from node a-clean (11 bytes), replacing the one from node z-prep" in done.stdout


def test_an_unreadable_parent_manifest_is_one_clear_failure(s3: S3Server, tmp_path: Path) -> None:
    put(s3, f"t3qkfp-test/runs/{RUN_ID}/parent/manifest.json", json.dumps({"files": []}).encode())
    archive = make_archive({"main.py": b"print('never runs')\n"})
    done = run_pod(spec_for(s3, archive, task="child", parents=("parent",), position=1), tmp_path / "pod", s3)
    assert done.returncode != 0
    assert "the output manifest of node 'parent' is unreadable" in done.stderr + done.stdout
    assert "never runs" not in done.stdout


def test_an_image_with_python_before_3_7_gets_a_clear_message(s3: S3Server, tmp_path: Path) -> None:
    """The helper needs 3.7 (dataclasses, subprocess's capture_output); 3.6 images say so."""
    archive = make_archive({"main.py": b"print('never runs')\n"})
    spec = spec_for(s3, archive, task="old")
    env = {"PATH": os.environ.get("PATH", ""), nodespec.NODE_ENV: spec.encode(), nodespec.RUN_ID_ENV: RUN_ID}
    as_if_36 = "import sys\nsys.version_info = (3, 6, 15)\nsys.version = '3.6.15 (as if)'\n" + loader_text()
    done = subprocess.run([sys.executable, "-c", as_if_36], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "t3qkfp: node 'Label of old' failed: needs Python 3.7+, the image has 3.6.15"


def test_missing_declared_output_fails_clearly(s3: S3Server, tmp_path: Path) -> None:
    archive = make_archive({"main.py": b"print('no outputs written')\n"})
    spec = spec_for(s3, archive, task="no-out", outputs=("result.csv",))
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert "declared output 'result.csv' matches no file" in done.stderr
    # KFP's artifact files exist even on failure, or Argo would fail saving them instead
    assert (tmp_path / "pod" / "_metadata" / "mlpipeline-ui-metadata.json").is_file()


def test_failing_script_fails_with_its_output(s3: S3Server, tmp_path: Path) -> None:
    archive = make_archive({"main.py": b"raise SystemExit('script gave up: reason 42')\n"})
    done = run_pod(spec_for(s3, archive, task="bad"), tmp_path / "pod", s3)
    assert done.returncode == 1
    assert "exited with code 1" in done.stderr and "reason 42" in done.stderr


def test_leftover_argo_placeholder_fails_loudly(s3: S3Server, tmp_path: Path) -> None:
    archive = make_archive({"main.py": b"print('must not run')\n"})
    done = run_pod(spec_for(s3, archive), tmp_path / "pod", s3,
                   env={"THRESHOLD": "{{inputs.parameters.THRESHOLD}}"})
    assert done.returncode == 1
    assert "THRESHOLD" in done.stderr and "unresolved Argo placeholder" in done.stderr
    assert "must not run" not in done.stdout


def test_r_node_without_rscript_says_so(s3: S3Server, tmp_path: Path) -> None:
    archive = make_archive({"main.R": b"print('hi')\n"})
    spec = spec_for(s3, archive, kind="r", file="main.R")
    done = run_pod(spec, tmp_path / "pod", s3, env={"PATH": os.path.dirname(sys.executable)})
    assert done.returncode == 1
    assert "Rscript is not on PATH" in done.stderr


def test_r_node_runs_rscript_from_an_argv_list(s3: S3Server, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "Rscript"  # stands in for R: prints the argv it got and one env var
    fake.write_text(f"#!{sys.executable}\nimport os, sys\nprint('Rscript argv', sys.argv[1:], os.environ['ALPHA'])\n")
    fake.chmod(0o755)
    archive = make_archive({"r/analysis.R": b"cat('hi')\n"})
    spec = spec_for(s3, archive, task="r-node", kind="r", file="r/analysis.R")
    done = run_pod(spec, tmp_path / "pod", s3, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                                                     "ALPHA": "0.5; rm -rf /"})
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"Rscript argv ['{tmp_path / 'pod' / 'r' / 'analysis.R'}'] 0.5; rm -rf /" in done.stdout


# --- archive integrity and safe extraction --------------------------------------------------------

def test_archive_with_dotdot_member_is_refused(s3: S3Server, tmp_path: Path) -> None:
    evil = tarfile.TarInfo("../escaped.py")
    evil.size = 0
    archive = make_archive({"main.py": b"print('x')\n"}, extra=[evil])
    done = run_pod(spec_for(s3, archive), tmp_path / "pod", s3)
    assert done.returncode == 1
    assert "member '../escaped.py' contains '..'" in done.stderr
    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "pod" / "main.py").exists()  # checked before anything is written


@pytest.mark.parametrize(("member", "message"), [
    (lambda: _link("link", "/etc/passwd", tarfile.SYMTYPE), "is a link"),
    (lambda: _link("hard", "../../x", tarfile.LNKTYPE), "is a link"),
    (lambda: _link("/abs.py", "", tarfile.REGTYPE), "has an absolute path"),
    (lambda: _link("dev", "", tarfile.CHRTYPE), "is a device"),
])
def test_unsafe_members_are_refused(s3: S3Server, tmp_path: Path, member, message: str) -> None:
    archive = make_archive({"main.py": b"print('x')\n"}, extra=[member()])
    done = run_pod(spec_for(s3, archive), tmp_path / "pod", s3)
    assert done.returncode == 1
    assert message in done.stderr


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_changed_archive_is_refused_by_sha256(s3: S3Server, tmp_path: Path) -> None:
    archive = make_archive({"main.py": b"print('x')\n"})
    spec = spec_for(s3, archive, sha256="0" * 64)
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert f"node 'Label of node-a' failed: sha256 of {spec.archive_key} differs from the compiled one" in done.stderr
    assert not (tmp_path / "pod" / "main.py").exists()
    # KFP's artifact files are written all the same (Argo would otherwise fail the pod saving them)
    assert (tmp_path / "pod" / "_metadata" / "mlpipeline-ui-metadata.json").is_file()


def test_changed_runtime_helper_is_refused_by_sha256_before_it_runs(s3: S3Server, tmp_path: Path) -> None:
    """Someone replaced the runtime object in the bucket: the loader refuses it, its code never runs."""
    archive = make_archive({"main.py": b"print('x')\n"})
    evil = b"import pathlib\npathlib.Path('PWNED').write_text('x')\n"
    spec = spec_for(s3, archive, task="evil-runtime", runtime=evil)
    try:
        done = run_pod(spec, tmp_path / "pod", s3)
    finally:
        put(s3, spec.runtime_key, runtime_helper()[0])  # the module's other tests share the key
    assert done.returncode == 1
    assert done.stderr.strip() == (f"t3qkfp: node 'Label of evil-runtime' failed: sha256 of {spec.runtime_key} "
                                   "differs from the compiled one")
    assert not (tmp_path / "pod" / "PWNED").exists()


def test_missing_runtime_helper_names_its_key(s3: S3Server, tmp_path: Path) -> None:
    archive = make_archive({"main.py": b"print('x')\n"})
    spec = spec_for(s3, archive, upload=False)
    spec = dataclasses.replace(spec, runtime_sha256="f" * 64)  # a helper never uploaded
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert f"NoSuchKey: s3://{s3.bucket}/{spec.runtime_key} at {s3.endpoint}" in done.stderr


def test_the_loader_reads_the_aws_names_where_no_private_copy_is_set(s3: S3Server, tmp_path: Path) -> None:
    """Containers whose user secrets leave AWS_* alone carry the storage keys only there."""
    archive = make_archive({"main.py": b"import os\nprint('sees', os.environ['AWS_ACCESS_KEY_ID'])\n"})
    spec = spec_for(s3, archive, task="aws-names")
    done = run_pod(spec, tmp_path / "pod", s3, private=False)
    assert done.returncode == 0, done.stderr
    assert f"sees {s3.credentials.access_key}" in done.stdout
    # the private names win where both are set (the user's own AWS_* are not the storage's)
    done = run_pod(spec, tmp_path / "pod2", s3, env={"AWS_ACCESS_KEY_ID": "AKIAUSERUSERUSERUSER",
                                                      "AWS_SECRET_ACCESS_KEY": "user-secret"})
    assert done.returncode == 0, done.stderr
    assert "sees AKIAUSERUSERUSERUSER" in done.stdout


def test_node_spec_wire_layout_is_the_runtime_s_and_round_trips() -> None:
    """nodespec and the runtime read T3QKFP_NODE's list in the same order, and nothing in it is
    something Argo or the kubelet would rewrite."""
    assert node_runtime.WIRE_FIELDS == nodespec.WIRE_FIELDS
    assert node_runtime.SPEC_VERSION == nodespec.SPEC_VERSION
    spec = nodespec.NodeSpec(task="t", label="{{workflow.uid}} $(HOME) $$ }} é", kind="python", file="a b/{x}.py",
                             archive_sha256="a" * 64, runtime_sha256="b" * 64, outputs=("out/$(X)*",),
                             parents=("p",), position=2, endpoint="http://minio:9000", bucket="mlpipeline",
                             prefix="some/prefix/", region="us-east-1")
    value = spec.encode()
    for forbidden in ("{", "}", "$"):
        assert forbidden not in value
    assert nodespec.decode(value) == dataclasses.replace(spec, prefix="some/prefix")
    fields = node_runtime.read_spec(json.loads(value))
    assert fields["label"] == spec.label and fields["file"] == spec.file and fields["outputs"] == ["out/$(X)*"]
    assert fields["storage"]["prefix"] == "some/prefix/" and spec.archive_key == f"some/prefix/archives/{'a' * 64}.tar.gz"
    with pytest.raises(ValueError, match="not a version 3 node spec"):
        nodespec.decode(json.dumps([2] + json.loads(value)[1:]))


# --- object storage failures: one distinct message each -------------------------------------------

def test_wrong_credentials(s3: S3Server, tmp_path: Path) -> None:
    spec = spec_for(s3, make_archive({"main.py": b""}))
    done = run_pod(spec, tmp_path / "pod", s3, access_key="AKIAWRONGWRONGWRONG0", secret_key="nope")
    assert done.returncode == 1
    assert "credentials refused (InvalidAccessKeyId): check the storage secret's access and secret keys" in done.stderr
    assert "nope" not in done.stderr


def test_wrong_secret_key(s3: S3Server, tmp_path: Path) -> None:
    spec = spec_for(s3, make_archive({"main.py": b""}))
    done = run_pod(spec, tmp_path / "pod", s3, secret_key="not-the-secret")
    assert done.returncode == 1
    assert "credentials refused (SignatureDoesNotMatch)" in done.stderr


def test_missing_bucket(s3: S3Server, tmp_path: Path) -> None:
    spec = spec_for(s3, make_archive({"main.py": b""}), bucket="no-such-bucket-t3qkfp", upload=False)
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert "bucket 'no-such-bucket-t3qkfp' does not exist" in done.stderr


def test_missing_archive(s3: S3Server, tmp_path: Path) -> None:
    spec = spec_for(s3, make_archive({"main.py": b"# never uploaded\n"}), upload=False)
    put(s3, spec.runtime_key, runtime_helper()[0])
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert "NoSuchKey" in done.stderr and spec.archive_key in done.stderr


def test_unreachable_endpoint(s3: S3Server, tmp_path: Path) -> None:
    endpoint = closed_port_endpoint()
    spec = spec_for(s3, make_archive({"main.py": b""}), endpoint=endpoint, upload=False)
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert f"cannot reach object storage at {endpoint}" in done.stderr


def test_missing_credentials_env(s3: S3Server, tmp_path: Path) -> None:
    spec = spec_for(s3, make_archive({"main.py": b""}))
    env = {"PATH": os.environ["PATH"], nodespec.NODE_ENV: spec.encode(), nodespec.RUN_ID_ENV: RUN_ID}
    done = subprocess.run(container_command(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "T3QKFP_S3_ACCESS_KEY and AWS_ACCESS_KEY_ID unset: no object storage credentials" in done.stderr


@pytest.mark.parametrize("broken", [b"[1, 2]", b'"files"', b'{"files": 7, "position": 0}',
                                    b'{"files": "abc", "position": 0}', b'{"files": [1], "position": 0}',
                                    b'{"files": [null], "position": 0}', b'{"files": ["a\\u0000b"], "position": 0}',
                                    b'{"files": [{"x": 1}], "position": 0}', b'{"files": [], "position": true}',
                                    b'{"files": ["a"], "position": 0, "lineage": [[1]]}',
                                    b'{"files": ["a"], "position": 0, "lineage": [[1, 2, 3]]}', b"\xff\xfe",
                                    b"[" * 100000 + b"]" * 100000,
                                    b'{"files": [' + b"[" * 100000 + b"]" * 100000 + b'], "position": 0}',
                                    b'{"files": ["' + b"x" * 1000000 + b'"], "position": 0}'])
def test_a_malformed_ancestor_manifest_fails_the_node_in_one_short_line(s3: S3Server, tmp_path: Path,
                                                                        broken: bytes) -> None:
    """Issue 11 point 12: someone replaced an ancestor's manifest.json; no traceback, no flood."""
    base = f"t3qkfp-test/runs/{RUN_ID}/broken-parent"
    put(s3, f"{base}/manifest.json", broken)
    archive = make_archive({"use.py": b"print('never runs')\n"})
    spec = spec_for(s3, archive, task="child-of-broken", file="use.py", parents=("broken-parent",))
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "never runs" not in done.stdout
    failure = [line for line in done.stderr.splitlines() if "failed" in line]
    assert len(failure) == 1 and "output manifest of node 'broken-parent'" in failure[0], done.stderr
    assert len(done.stderr) < 2000


def test_an_output_named_with_a_newline_fails_the_node_naming_the_file(s3: S3Server, tmp_path: Path) -> None:
    """Issue 11 point 8: a newline in an output's name used to end in a bare 404 from storage."""
    archive = make_archive({"main.py": b"open('new\\nline.txt', 'w').write('x')\n"})
    spec = spec_for(s3, archive, task="odd-names", outputs=("*.txt",))
    done = run_pod(spec, tmp_path / "pod", s3)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "node 'Label of odd-names' failed: output file 'new\\nline.txt' has a control character" in done.stderr, done.stderr
    assert "404" not in done.stderr


def test_result_copy_carries_a_backslash_and_names_what_it_cannot_copy(s3: S3Server, tmp_path: Path) -> None:
    """Issue 11 point 8: run-result keys are copied as named; none is dropped without a word."""
    from t3qkfp.errors import StorageError
    from t3qkfp.object_storage import download_prefix
    base = f"t3qkfp-test/runs/{RUN_ID}-copy"
    for name in ["back\\slash.txt", "tab\there.txt", "ü€ %20+.txt"]:
        put(s3, f"{base}/task-a/outputs/{name}", name.encode())
    copied = download_prefix(s3.config(), s3.credentials, base, tmp_path / "a")
    assert sorted(p.name for p in copied) == sorted(["back\\slash.txt", "tab\there.txt", "ü€ %20+.txt"])
    assert (tmp_path / "a" / "task-a" / "outputs" / "back\\slash.txt").read_text() == "back\\slash.txt"
    put(s3, f"{base}/task-b/outputs//empty-part.txt", b"x")
    with pytest.raises(StorageError) as caught:
        download_prefix(s3.config(), s3.credentials, base, tmp_path / "b")
    assert "node 'task-b': file 'outputs//empty-part.txt' has a key that leaves" in str(caught.value)
    assert (tmp_path / "b" / "task-a" / "outputs" / "back\\slash.txt").is_file()  # the rest was copied
