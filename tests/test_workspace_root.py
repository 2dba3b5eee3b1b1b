"""Issue 10 point 5: node files beside the pipeline's folder, inside a workspace root.

Elyra's editor writes `../scripts/setup.py` when a file from a sibling folder is dragged onto
the canvas, and Elyra runs it as long as it lies below Jupyter's root_dir. t3qkfp accepts it
inside the workspace root (root_dir= / --root, default the working folder when it holds the
pipeline) and packs it as Elyra 2.x does: from the file's own folder.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp import nodespec
from t3qkfp.errors import PipelineError
from t3qkfp.node_files import node_files

from invalid_helpers import INVALID
from s3server import s3_server

SETUP = """import json, os, pathlib
import helper
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/result.json").write_text(json.dumps({"msg": helper.shout(os.environ["MSG"]),
                                                      "here": sorted(os.listdir("."))}))
print("setup ran from", os.path.basename(os.getcwd()))
"""


def _project(tmp_path: Path, filename: str = "../scripts/setup.py", dependencies: tuple[str, ...] = ("helper.py",)) -> Path:
    """root/pipelines/p.pipeline whose one node runs root/scripts/setup.py (with helper.py)."""
    root = tmp_path / "root"
    (root / "pipelines").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "scripts" / "setup.py").write_text(SETUP)
    (root / "scripts" / "helper.py").write_text("def shout(text):\n    return text.upper()\n")
    (root / "scripts" / "unrelated.txt").write_text("not packed\n")
    document = json.loads((INVALID / "ok_kv_empty_value.pipeline").read_text(encoding="utf-8"))
    node = document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]
    node.update(filename=filename, dependencies=list(dependencies), env_vars=["MSG=hello"], outputs=["out/result.json"])
    (root / "pipelines" / "p.pipeline").write_text(json.dumps(document, indent=1), encoding="utf-8")
    return root


def _only_problem(call) -> str:
    with pytest.raises(PipelineError) as info:
        call()
    (problem,) = info.value.problems
    assert (problem.location.node_id, problem.location.node_label) == ("n-prep", "Prepare")
    return str(problem)


def test_sibling_folder_file_compiles_with_the_root_and_packs_as_elyra(tmp_path: Path) -> None:
    root = _project(tmp_path)
    compiled = t3qkfp.compile_pipeline(root / "pipelines" / "p.pipeline", root_dir=root)
    (archive,) = compiled.archives.values()
    with tarfile.open(fileobj=io.BytesIO(archive.data)) as tar:
        names = sorted(tar.getnames())
    # the file's own folder is the archive's top, as Elyra 2.x packs it; nothing else from it
    assert names == ["helper.py", "setup.py"]
    env = compiled.workflow["spec"]["templates"]
    specs = [e["value"] for t in env for e in (t.get("container") or {}).get("env", []) if e["name"] == "T3QKFP_NODE"]
    (spec,) = [nodespec.decode(s) for s in specs]
    assert spec.file == "setup.py"


def test_sibling_folder_file_is_refused_without_a_root_that_holds_it(tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path)
    monkeypatch.chdir(tmp_path)  # the default root: tmp_path holds the pipeline, so it is the root
    assert t3qkfp.load("root/pipelines/p.pipeline").nodes[0].filename == "../scripts/setup.py"
    line = _only_problem(lambda: t3qkfp.load(root / "pipelines" / "p.pipeline", root_dir=root / "pipelines"))
    assert line.startswith("{}: node 'Prepare' (n-prep): component_parameters.filename: file "
                           "'../scripts/setup.py' is outside the pipeline folder".format(root / "pipelines" / "p.pipeline"))
    monkeypatch.chdir(root / "scripts")  # the working folder does not hold the pipeline: its folder is the root
    _only_problem(lambda: t3qkfp.load(root / "pipelines" / "p.pipeline"))
    (tmp_path / "other").mkdir()
    line = _only_problem(lambda: t3qkfp.compile(root / "pipelines" / "p.pipeline", root_dir=tmp_path / "other"))
    assert "component_parameters.filename: file '../scripts/setup.py' is outside the workspace root" in line


@pytest.mark.parametrize(("filename", "dependencies", "field"), [
    ("../../outside.py", (), "filename"),            # '..' beyond the root
    ("../scripts/../../outside.py", (), "filename"),  # '..' not only in front
    ("/etc/passwd.py", (), "filename"),              # absolute
    ("../scripts/setup.py", ("../../outside.py",), "dependencies[0]"),
    ("../scripts/setup.py", ("/etc/passwd",), "dependencies[0]"),
    ("../scripts/link.py", (), "filename"),          # a link leading out of the root
    ("../scripts/setup.py", ("creds.txt",), "dependencies[0]"),
])
def test_escaping_the_root_stays_refused(tmp_path: Path, filename: str, dependencies: tuple[str, ...], field: str) -> None:
    root = _project(tmp_path, filename, dependencies)
    (tmp_path / "outside.py").write_text("print('stolen')\n")
    (tmp_path / "credentials").write_text("secret\n")
    (root / "scripts" / "link.py").symlink_to(tmp_path / "outside.py")
    (root / "scripts" / "creds.txt").symlink_to(tmp_path / "credentials")
    line = _only_problem(lambda: t3qkfp.load(root / "pipelines" / "p.pipeline", root_dir=root))
    assert f"component_parameters.{field}:" in line and "\n" not in line
    model = t3qkfp.load(root / "pipelines" / "p.pipeline", root_dir=tmp_path) if field == "filename" \
        and filename == "../../outside.py" else None
    if model is not None:  # a root that does hold it accepts the same file, and packs only it
        assert node_files(model, model.nodes[0])[0] == ("outside.py",)


def test_the_local_runner_runs_the_sibling_folder_file(tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path)
    monkeypatch.chdir(root)  # the default root
    log = io.StringIO()
    with s3_server(auth=True) as s3:
        run = t3qkfp.run_local("pipelines/p.pipeline", storage=s3.config(prefix="root"),
                               credentials=s3.credentials, workdir=tmp_path / "work", out=log)
        result = json.loads(s3.read(f"root/runs/{run.run_id}/{run.nodes[0].task}/outputs/out/result.json"))
    assert run.succeeded, log.getvalue()
    assert result["msg"] == "HELLO"
    assert "helper.py" in result["here"] and "unrelated.txt" not in result["here"]
    assert "setup ran from" in log.getvalue()


def test_cli_root_option(tmp_path: Path) -> None:
    root = _project(tmp_path)
    pipeline = str(root / "pipelines" / "p.pipeline")

    def validate(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "t3qkfp", "validate", pipeline, *extra],
                              cwd=tmp_path, capture_output=True, text=True, check=False)

    refused = validate("--root", str(root / "pipelines"))
    assert refused.returncode == 1 and "is outside the pipeline folder" in refused.stderr
    assert "Traceback" not in refused.stderr
    accepted = validate("--root", str(root))
    assert accepted.returncode == 0, accepted.stderr
    out = tmp_path / "p.yaml"
    compiled = subprocess.run([sys.executable, "-m", "t3qkfp", "compile", pipeline, "--root", str(root),
                               "-o", str(out), "-q"], cwd=root / "scripts", capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stderr
    assert "T3QKFP_NODE" in out.read_text()
