"""The node runtime helper: runs one Elyra node inside its container (stdlib only).

It is stored once per version as its own content-addressed object (<prefix>/runtime/<sha256>.py,
not inside every node archive, which made every archive carry and gzip it again); the constant
loader (runtime/loader.py) downloads it, verifies its sha256, then execs this file in its own
globals and calls `node_main(spec_list)`. The helper therefore uses the loader's `s3(method, key,
body)` request function and its `E` exception instead of carrying a second S3 client: one
signing implementation, exercised by every node.

Steps, each failing with one clear message and a non-zero exit:
  1. refuse env values that still hold an Argo placeholder (a run parameter Argo left unfilled);
  2. download the node archive, check its sha256 against the spec, and unpack it into the
     working folder, checking every member by hand;
  3. download the declared outputs of the ancestor nodes into the node's folder: the parents'
     manifests list the ancestors with outputs (`lineage`), so the spec names parents only;
  4. run the notebook (papermill's API), Python script or R script from an argv list, with the
     run parameters visible only as the env vars the container already has;
  5. upload the executed notebook / script log (also on failure, as Elyra does) and the
     declared outputs plus a manifest listing them and this node's lineage;
  6. always write KFP's UI metadata and metrics files, which the workflow declares as output
     artifacts (Argo fails the pod when they are missing).
Must not: import anything outside the standard library at module level (papermill is imported
only for notebooks), use a shell, or print credentials.
Why one file of ~600 lines (above the project's ~450): the loader fetches and checks exactly one
object before anything runs, so every step the pod takes, with its error messages, must arrive
in that one verified file; splitting it would mean more objects to fetch and verify per node.
"""
from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from typing import Any, Callable

# Provided by the loader's globals when run in a pod; named here for readers and linters.
#   s3(method: str, key: str, body: bytes = b"") -> bytes   raises E(message) on any failure
#   E: the loader's exception class
RUNTIME_DIR = ".t3qkfp"
# T3QKFP_NODE's list, in order (t3qkfp/nodespec.py WIRE_FIELDS; a test holds the two equal).
WIRE_FIELDS = ("version", "endpoint", "bucket", "key_prefix", "region", "runtime_sha256", "label",
               "task", "kind", "file", "archive_sha256", "outputs", "parents", "position")
SPEC_VERSION = 3
UI_METADATA = "mlpipeline-ui-metadata.json"
METRICS = "mlpipeline-metrics.json"
LEFTOVERS = ("{{inputs.parameters.", "{{workflow.")  # Argo placeholders that must be gone


class NodeFailure(Exception):
    """A failure of this node whose message is the whole story (no traceback needed)."""


def read_spec(items: list[Any]) -> dict[str, Any]:
    """T3QKFP_NODE's list as the named fields the steps use (the one reader in the pod)."""
    if not isinstance(items, list) or len(items) != len(WIRE_FIELDS) or items[0] != SPEC_VERSION:
        raise NodeFailure(f"T3QKFP_NODE is not a version {SPEC_VERSION} node spec; the workflow and the "
                          "runtime helper come from different t3qkfp versions")
    spec = dict(zip(WIRE_FIELDS, items))
    spec["storage"] = {"endpoint": spec["endpoint"], "bucket": spec["bucket"], "prefix": spec["key_prefix"],
                       "region": spec["region"]}
    return spec


def node_main(items: list[Any], request: Callable[..., bytes] | None = None,
              error: type[Exception] | None = None) -> int:
    """Run the node; return the process exit code. Prints one `t3qkfp: ...` line on failure.

    `request` / `error` default to the loader's `s3` / `E`; tests may pass their own.
    """
    request = request or globals()["s3"]
    error = error or globals()["E"]
    try:
        spec = read_spec(items)
    except NodeFailure as exc:
        _say(f"node failed: {exc}")
        return 1
    node = _Node(spec, request)
    try:
        node.run()
    except (NodeFailure, error) as exc:  # type: ignore[misc]
        _say(f"node {spec.get('label')!r} failed: {exc}")
        return 1
    except OSError as exc:  # local files: disk full, permissions
        _say(f"node {spec.get('label')!r} failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        try:
            node.write_kfp_metadata()
        except Exception as exc:  # the metadata must never hide the real failure
            _say(f"warning: could not write KFP metadata files: {exc}")
    _say(f"node {spec.get('label')!r} succeeded")
    return 0


def _say(text: str) -> None:
    sys.stdout.flush()
    print(f"t3qkfp: {text}", file=sys.stderr, flush=True)


class _Node:
    """One node's run: paths, keys and the steps of the module docstring."""

    def __init__(self, spec: dict[str, Any], request: Callable[..., bytes]):
        self.spec = spec
        self.request = request
        self.root = os.path.realpath(os.getcwd())
        self.file = spec["file"]
        self.folder = os.path.join(self.root, os.path.dirname(self.file))
        self.run_id = os.environ.get("T3QKFP_RUN_ID", "")
        self.metadata_dir = os.environ.get("T3QKFP_METADATA_DIR") or "/tmp"
        self.uploaded: list[str] = []
        self.lineage: list[list[Any]] = []  # [position, task] of the ancestors with outputs
        self.started = False

    # --- object keys -------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        """Same layout as storage_settings.StorageConfig.key: <prefix>/runs/<run id>/<task>/..."""
        prefix = self.spec["storage"]["prefix"]
        return "/".join(p.strip("/") for p in (prefix, *parts) if p.strip("/"))

    def task_key(self, task: str, *parts: str) -> str:
        return self.key("runs", self.run_id, task, *parts)

    def location(self) -> str:
        storage = self.spec["storage"]
        return f"s3://{storage['bucket']}/{self.task_key(self.spec['task'])}/ at {storage['endpoint']}"

    # --- steps --------------------------------------------------------------------------------
    def run(self) -> None:
        check_environment(os.environ)
        if not self.run_id or "{" in self.run_id:
            raise NodeFailure("env var T3QKFP_RUN_ID is not set to the run id "
                              f"(got {self.run_id!r}); the workflow must set it to the workflow uid")
        print(f"t3qkfp: node {self.spec['label']!r} ({self.spec['task']}): {self.spec['kind']} {self.file}, "
              f"run {self.run_id}", flush=True)
        safe_extract(self.archive(), self.root)
        self.download_inputs()
        self.started = True
        self.execute()
        self.upload_outputs()

    def archive(self) -> bytes:
        """The node archive from the bucket, refused unless its sha256 is the compiled one."""
        key = self.key("archives", self.spec["archive_sha256"] + ".tar.gz")
        data = self.request("GET", key)
        if hashlib.sha256(data).hexdigest() != self.spec["archive_sha256"]:
            raise NodeFailure(f"sha256 of {key} differs from the compiled one")
        return data

    def download_inputs(self) -> None:
        """Each ancestor's manifest, then the files it lists, at the same relative paths.

        The ancestors with outputs are the parents that have files plus the lineage their
        manifests carry; they come in the compiler's topological order (`position`), farthest
        first, so where two wrote the same file the nearer one's copy is the one left, and the
        log says which was replaced.
        """
        manifests: dict[str, dict[str, Any]] = {}
        found: dict[str, int] = {}
        for parent in self.spec.get("parents", []):
            manifests[parent] = manifest = self.manifest(parent)
            for position, task in manifest["lineage"]:
                found[task] = position
            if manifest["files"]:
                found[parent] = manifest["position"]
        self.lineage = sorted(([p, t] for t, p in found.items()))
        written: dict[str, str] = {}
        for _, task in self.lineage:
            files = (manifests.get(task) or self.manifest(task))["files"]
            for rel in files:
                target = contained_path(self.folder, rel)
                if target is None:
                    raise NodeFailure(f"node {task!r} lists output {_short(rel)}, which leaves the node folder")
                data = self.request("GET", self.task_key(task, "outputs", rel))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as out:
                    out.write(data)
                replaced = f", replacing the one from node {written[rel]}" if rel in written else ""
                written[rel] = task
                print(f"t3qkfp: input {rel} from node {task} ({len(data)} bytes){replaced}", flush=True)

    def manifest(self, task: str) -> dict[str, Any]:
        """An earlier node's manifest.json: its files, its position and its lineage."""
        return manifest_document(self.request("GET", self.task_key(task, "manifest.json")), task)

    def execute(self) -> None:
        path = os.path.join(self.root, self.file)
        if not os.path.isfile(path):
            raise NodeFailure(f"{self.file} is not in the node archive")
        kind = self.spec["kind"]
        if kind == "notebook":
            self.run_notebook(path)
        elif kind == "python":
            self.run_program([sys.executable, path], "Python script")
        elif kind == "r":
            rscript = shutil.which("Rscript")
            if rscript is None:
                raise NodeFailure("Rscript is not on PATH in this image; R nodes need an image with R installed")
            self.run_program([rscript, path], "R script")
        else:
            raise NodeFailure(f"unknown node kind {kind!r}")

    def run_notebook(self, path: str) -> None:
        try:
            import logging
            import papermill
            from papermill.exceptions import PapermillExecutionError
        except ImportError as exc:
            raise NodeFailure(f"papermill is not installed in this image ({exc}); notebook nodes need an "
                              "image with papermill and a Jupyter kernel (e.g. pip install papermill ipykernel)") from None
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
        name = os.path.basename(path)
        executed = os.path.join(self.folder, f".{name}.t3qkfp-executed.ipynb")
        kernel = notebook_kernel(path)
        failure: str | None = None
        try:
            papermill.execute_notebook(path, executed, kernel_name=kernel, cwd=self.folder,
                                       log_output=True, progress_bar=False, parameters=None,
                                       extra_arguments=quiet_kernel_arguments(path))
        except PapermillExecutionError as exc:
            trace = strip_ansi("\n".join(exc.traceback))
            failure = f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}\n{trace}"
        except Exception as exc:
            failure = f"papermill could not run {name}: {type(exc).__name__}: {strip_ansi(str(exc))}"
        if os.path.isfile(executed):
            with open(executed, "rb") as fh:
                self.upload(self.task_key(self.spec["task"], name), fh.read(), f"executed notebook {name}")
        if failure is not None:
            raise NodeFailure(failure)

    def run_program(self, argv: list[str], what: str) -> None:
        """Run from an argv list (no shell), stream its output and keep it as the node log."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        log = io.BytesIO()
        proc = subprocess.Popen(argv, cwd=self.folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with proc:  # closes the pipe
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            code = proc.wait()
        name = os.path.basename(self.file)
        self.upload(self.task_key(self.spec["task"], f"{name}.log"), log.getvalue(), f"log of {name}")
        if code != 0:
            tail = log.getvalue().decode("utf-8", "replace").rstrip().splitlines()[-15:]
            raise NodeFailure(f"{what} {name} exited with code {code}; last lines:\n" + "\n".join(tail))

    def upload_outputs(self) -> None:
        """Declared outputs → outputs/<path> plus manifest.json; a pattern matching nothing fails."""
        files: list[str] = []
        for pattern in self.spec.get("outputs", []):
            matched = output_files(self.folder, pattern)
            if not matched:
                where = os.path.relpath(self.folder, self.root)
                folder = "the node's folder" if where in ("", ".") else f"the node's folder {where!r}"
                raise NodeFailure(f"declared output {pattern!r} matches no file in {folder} after the run")
            for rel in matched:
                if rel not in files:
                    files.append(rel)
        for rel in files:
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in rel):
                raise NodeFailure(f"output file {_short(rel)} has a control character (newline, tab, ...) in its "
                                  "name, which object storage keys and listings do not carry; rename the file")
        for rel in files:
            with open(os.path.join(self.folder, rel), "rb") as fh:
                self.upload(self.task_key(self.spec["task"], "outputs", rel), fh.read(), f"output {rel}")
        manifest = {"version": 2, "task": self.spec["task"], "position": self.spec["position"],
                    "files": files, "lineage": self.lineage}
        self.upload(self.task_key(self.spec["task"], "manifest.json"),
                    json.dumps(manifest, indent=1).encode("utf-8"), "output manifest")

    def upload(self, key: str, data: bytes, what: str) -> None:
        self.request("PUT", key, data)
        self.uploaded.append(key)
        print(f"t3qkfp: uploaded {what} ({len(data)} bytes)", flush=True)

    def write_kfp_metadata(self) -> None:
        """KFP's two artifact files: the node's own (merged) or minimal valid ones."""
        os.makedirs(self.metadata_dir, exist_ok=True)
        pointer = {"type": "markdown", "storage": "inline",
                   "source": f"# {self.spec.get('label')}\n\nFiles of this node (outputs, executed "
                             f"notebook or log): `{self.location()}`"}
        ui: dict[str, Any] = {"outputs": []}
        own = self._node_json(UI_METADATA)
        if isinstance(own, dict) and isinstance(own.get("outputs"), list):
            ui["outputs"].extend(own["outputs"])
        ui["outputs"].append(pointer)
        metrics = self._node_json(METRICS)
        if not (isinstance(metrics, dict) and isinstance(metrics.get("metrics"), list)):
            metrics = {"metrics": []}
        with open(os.path.join(self.metadata_dir, UI_METADATA), "w", encoding="utf-8") as fh:
            json.dump(ui, fh, indent=1)
        # One metric a line, name and numberValue first: Katib's file metrics collector matches
        # line by line, and KFP reads the same JSON either way.
        lines = []
        for item in metrics["metrics"]:
            if isinstance(item, dict):
                item = {**{k: item[k] for k in ("name", "numberValue") if k in item}, **item}
            lines.append(json.dumps(item))
        with open(os.path.join(self.metadata_dir, METRICS), "w", encoding="utf-8") as fh:
            fh.write('{"metrics": [\n' + ",\n".join(lines) + ("\n" if lines else "") + "]}\n")

    def _node_json(self, name: str) -> Any:
        path = os.path.join(self.folder, name)
        if not self.started or not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError) as exc:
            _say(f"warning: ignoring {name} written by the node: {exc}")
            return None


def check_environment(environ: dict[str, str] | os._Environ[str]) -> None:
    """Fail when an env value still holds an Argo placeholder.

    Argo leaves `{{inputs.parameters.x}}` literally in place when a value typed at run time
    holds an unbalanced `{{` (it swallows the next placeholder); running the code with that
    text would be silently wrong.
    """
    bad = sorted(name for name, value in environ.items() if any(t in value for t in LEFTOVERS))
    if bad:
        raise NodeFailure(f"env var(s) {', '.join(bad)} still contain an unresolved Argo placeholder "
                          "('{{inputs.parameters.' or '{{workflow.'); a run parameter value "
                          "probably contains '{{' or '}}', which Argo cannot carry")


def safe_extract(archive: bytes, root: str) -> list[str]:
    """Unpack regular files and folders into `root`, checking every member by hand.

    Refused: absolute names, `..` parts, backslashes, any link, device or fifo member, and
    any destination whose real path (after existing symlinks) leaves `root`. tarfile's own
    filters differ across Python patch releases, so they are not relied on.
    """
    root = os.path.realpath(root)
    written: list[str] = []
    try:
        tar = tarfile.open(fileobj=io.BytesIO(archive), mode="r:*")
    except tarfile.TarError as exc:
        raise NodeFailure(f"the node archive is not a readable tar.gz: {exc}") from None
    with tar:
        members = tar.getmembers()
        for member in members:
            name = member.name
            problem = _member_problem(member)
            if problem:
                raise NodeFailure(f"refusing the node archive: member {name!r} {problem}")
        for member in members:
            name = member.name.rstrip("/")
            if name == RUNTIME_DIR or name.startswith(RUNTIME_DIR + "/"):
                continue
            target = contained_path(root, name)
            if target is None:
                raise NodeFailure(f"refusing the node archive: member {name!r} would land outside {root}")
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.lexists(target) and (os.path.islink(target) or not os.path.isfile(target)):
                raise NodeFailure(f"refusing to overwrite {name!r}: it exists and is not a regular file")
            source = tar.extractfile(member)
            assert source is not None
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
            written.append(name)
    return written


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    parts = name.split("/")
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if "\\" in name or "\x00" in name:
        return "has a backslash or NUL in its name"
    if ".." in parts:
        return "contains '..'"
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname!r}); t3qkfp archives hold only regular files"
    if not (member.isfile() or member.isdir()):
        return "is a device, fifo or other special file"
    return None


def manifest_document(raw: bytes, task: str) -> dict[str, Any]:
    """An earlier node's manifest.json, checked, or NodeFailure saying in one bounded line what
    is wrong with it (someone may have replaced the object; it must not crash the node)."""
    def unreadable(why: str) -> NodeFailure:
        return NodeFailure(f"the output manifest of node {task!r} is unreadable: {why}")

    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise unreadable(f"not JSON ({_short(str(exc))})") from None
    if not isinstance(manifest, dict):
        raise unreadable("not a JSON object")
    files, lineage, position = manifest.get("files"), manifest.get("lineage", []), manifest.get("position")
    if not isinstance(files, list) or not isinstance(lineage, list) or type(position) is not int:
        raise unreadable("files, lineage or position is missing or has the wrong type")
    for rel in files:
        if not isinstance(rel, str) or not rel or "\x00" in rel or len(rel) > 4096:
            raise unreadable(f"it lists {_short(rel)}, which is not a file name")
    for item in lineage:
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is int and isinstance(item[1], str)):
            raise unreadable(f"its lineage holds {_short(item)}, not [position, task]")
    return manifest


def _short(value: Any, limit: int = 200) -> str:
    """repr(value), cut to `limit` characters: messages stay one readable line."""
    try:
        text = repr(value)
    except RecursionError:
        return f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 20] + f"... ({len(text)} characters)"


def contained_path(root: str, rel: str) -> str | None:
    """root/rel if it stays inside root after resolving symlinks, else None."""
    if not rel or os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
        return None
    root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, rel))
    if target != root and not target.startswith(root + os.sep):
        return None
    return os.path.join(root, rel)


MAX_OUTPUT_WALK = 200_000  # folder entries one declared output may look at


def output_files(folder: str, pattern: str) -> list[str]:
    """Files matching a declared output (a glob relative to the node's folder), folder-relative.

    glob's rules (`*` within a name, `**` for any folders, hidden names only when the pattern
    names them), but links to folders are never entered: glob.glob follows them under `**`, so a
    link back up multiplied the matches and a link to /usr walked for minutes. A matched folder
    brings every file below it; matches leaving the folder, or a matched link to a folder, fail
    the node; so does a walk over MAX_OUTPUT_WALK entries.
    """
    if os.path.isabs(pattern) or ".." in pattern.split("/"):
        raise NodeFailure(f"declared output {pattern!r} must be relative to the node's folder, without '..'")
    walk = _BoundedWalk(folder, pattern)
    found: list[str] = []
    for rel in sorted(walk.matches()):
        path = os.path.join(folder, rel) if rel else folder
        if os.path.islink(path) and os.path.isdir(path):
            raise NodeFailure(f"declared output {pattern!r} matches {_short(rel)}, a link to a folder, "
                              "which t3qkfp does not follow; name the folder itself")
        paths = walk.files_below(path) if os.path.isdir(path) else [path]
        for file_path in paths:
            file_rel = os.path.relpath(file_path, folder).replace(os.sep, "/")
            if contained_path(folder, file_rel) is None:
                raise NodeFailure(f"declared output {pattern!r} matches {_short(file_rel)}, which leads outside the node folder")
            if os.path.isfile(file_path) and file_rel not in found:
                found.append(file_rel)
    return found


class _BoundedWalk:
    """glob matching over real folders only, counting every entry it looks at."""

    def __init__(self, folder: str, pattern: str):
        self.folder = folder
        self.pattern = pattern
        self.parts = [p for p in pattern.split("/") if p not in ("", ".")]
        self.seen = 0

    def _count(self, n: int) -> None:
        self.seen += n
        if self.seen > MAX_OUTPUT_WALK:
            raise NodeFailure(f"declared output {self.pattern!r} looks at more than {MAX_OUTPUT_WALK} files "
                              "and folders; narrow the pattern")

    def _names(self, rel: str) -> list[str]:
        try:
            names = os.listdir(os.path.join(self.folder, rel))
        except OSError:
            return []
        self._count(len(names))
        return names

    def _real_dir(self, rel: str) -> bool:
        path = os.path.join(self.folder, rel)
        return os.path.isdir(path) and not os.path.islink(path)

    def _dir_link(self, rel: str) -> bool:
        path = os.path.join(self.folder, rel)
        return os.path.islink(path) and os.path.isdir(path)

    def matches(self) -> set[str]:
        """Folder-relative paths (files and folders) the pattern matches."""
        if not self.parts:
            return set()
        found: set[str] = set()
        done: set[tuple[str, int]] = set()
        stack = [("", 0)]
        while stack:
            rel, index = stack.pop()
            if (rel, index) in done:
                continue
            done.add((rel, index))
            if index == len(self.parts):
                if rel or self.parts[-1] == "**":  # glob's "**" yields the folder itself too
                    found.add(rel)
                continue
            part, last = self.parts[index], index == len(self.parts) - 1
            if part == "**":
                stack.append((rel, index + 1))
                for name in self._names(rel):
                    child = _join(rel, name)
                    if name.startswith("."):
                        continue
                    if self._real_dir(child):
                        stack.append((child, index))
                    elif last and not self._dir_link(child):
                        found.add(child)  # glob's trailing ** yields files too
            elif not glob.has_magic(part):
                child = _join(rel, part)
                if os.path.lexists(os.path.join(self.folder, child)) and (last or self._real_dir(child)):
                    stack.append((child, index + 1))
            else:
                for name in self._names(rel):
                    if name.startswith(".") and not part.startswith("."):
                        continue
                    child = _join(rel, name)
                    # a wildcard never takes a link to a folder (only a name spelled out does,
                    # and output_files refuses it with that name)
                    if fnmatch.fnmatchcase(name, part) and not self._dir_link(child) and (last or self._real_dir(child)):
                        stack.append((child, index + 1))
        return found

    def files_below(self, path: str) -> list[str]:
        """Every file under a matched folder, links to folders not entered, the walk counted."""
        paths = []
        for current, dirnames, filenames in os.walk(path):
            self._count(len(dirnames) + len(filenames))
            paths.extend(os.path.join(current, f) for f in filenames)
        return sorted(paths)


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def notebook_kernel(path: str) -> str | None:
    """The kernel named in the notebook's metadata (papermill's default otherwise)."""
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh).get("metadata", {})
    except (OSError, ValueError) as exc:
        raise NodeFailure(f"{os.path.basename(path)} is not a readable notebook: {exc}") from None
    kernel = meta.get("kernelspec", {}).get("name") if isinstance(meta, dict) else None
    return kernel if isinstance(kernel, str) and kernel else None


def quiet_kernel_arguments(path: str) -> list[str]:
    """Kernel arguments that keep ipykernel's own log (its "running over TCP without encryption"
    warning on every start) out of the node log; only for Python kernels, which understand them.

    The kernel talks to papermill over the pod's loopback only, so the warning says nothing
    about the node; the notebook's own output and errors are not affected.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh).get("metadata", {})
    except (OSError, ValueError):
        return []
    spec = meta.get("kernelspec", {}) if isinstance(meta, dict) else {}
    language = spec.get("language") if isinstance(spec, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    python = language == "python" or (language is None and (not name or str(name).startswith("python")))
    return ["--IPKernelApp.log_level=ERROR"] if python else []


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Tracebacks from Jupyter kernels carry colour codes; pod logs show them as garbage."""
    return _ANSI.sub("", text)

