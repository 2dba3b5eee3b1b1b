"""What a node brings to its pod: the files its archive holds and the archive's bytes.

Owns: which files a node's archive holds (its file plus its `dependencies`, matched as Elyra
matches them, refused when they lead outside the workspace root), the folder they are packed
from, and the reproducible tar.gz whose sha256 is its object key. Pure: no I/O but reading the
node's own files, so validation (checks.py) and compiling use it without touching a bucket;
uploading is object_storage.py's business.
"""
from __future__ import annotations

import errno
import fnmatch
import glob
import gzip
import hashlib
import io
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

from . import nodespec
from .errors import Location, Problem, shown
from .model import Node, Pipeline
from .storage_settings import StorageConfig
from .user_files import read_regular, regular_file_problem

# t3qkfp's own folder in the pod's working folder (the node runtime helper once travelled there
# inside every archive; it is now its own object): user files may not live under it.
RESERVED_DIR = ".t3qkfp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Archive:
    """A node's files packed as tar.gz; the same files always give the same bytes and key."""

    node_id: str
    members: tuple[str, ...]
    data: bytes
    sha256: str

    def key(self, config: StorageConfig) -> str:
        """The object key: content-addressed, so an unchanged node uploads nothing new."""
        return nodespec.archive_key(config.prefix, self.sha256)


def archive_top(pipeline: Pipeline, node: Node) -> Path:
    """The folder a node's archive is packed from: the pipeline's folder, or for a file outside it
    (`../scripts/setup.py`, inside the workspace root) the file's own folder.

    Elyra 2.x packs every node from its file's folder (elyra v2.2.4 util/archive.py) and the pod
    runs the file from there; t3qkfp keeps the pipeline folder for files inside it (their archive
    and sha256 stay what they were) and the pod still runs each file from its own folder
    (node_runtime.py), so either top gives the user's code the same view of its files.
    """
    if _leaves(node.filename):
        return (pipeline.base_dir / node.filename).parent
    return pipeline.base_dir


def archive_file(node: Node) -> str:
    """The node's file as the archive (and the pod) names it, relative to archive_top."""
    return PurePosixPath(node.filename).name if _leaves(node.filename) else node.filename


def _leaves(filename: str) -> bool:
    """True when the file name starts with '..' (a file beside the pipeline's folder)."""
    return posixpath.normpath(filename).split("/", 1)[0] == ".."


_FOLDER = "the pipeline folder"


def node_files(pipeline: Pipeline, node: Node) -> tuple[tuple[str, ...], list[Problem]]:
    """The files a node's archive holds (paths relative to archive_top), and what is wrong.

    The node's file plus its `dependencies`: patterns relative to the file's folder, matched as
    Elyra matches them (see _dependency_paths);
    a folder brings its files, and its subfolders only with `include_subdirectories`. Anything
    that resolves outside the workspace root (`..` beyond it, absolute paths, symlinks leading
    out) is a problem, so a link to ~/.aws/credentials can never be packed. The node's file may
    start with '..' (Elyra's editor writes that for a sibling folder's file); its dependencies
    may not, as Elyra packs only the file's own folder.
    """
    base = pipeline.base_dir
    workspace = pipeline.root.resolve()
    top = archive_top(pipeline, node)
    top_real = top.resolve()
    problems: list[Problem] = []
    where = _FOLDER if workspace == base.resolve() else f"the workspace root {shown(str(pipeline.root))}"

    def loc(field: str) -> Location:
        return Location(file=pipeline.source, node_id=node.id, node_label=node.label, field=field)

    def member(path: Path) -> str | None:
        """`path`'s archive name, or None when it resolves outside the workspace root."""
        if _contained(workspace, path) is None:
            return None
        return _contained(top_real, path) or os.path.relpath(path, top).replace(os.sep, "/")

    found: set[str] = set()
    if "\x00" in node.filename:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} holds U+0000, which no file name can",
                                hint="rename the file in Elyra"))
        return (), problems
    file_rel = member(base / node.filename)
    if not _plain_relative(node.filename, leading_up=True) or file_rel is None:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} is outside {where}",
                                hint="use a path relative to the .pipeline file, without '..'" if where == _FOLDER
                                else "use a path relative to the .pipeline file that stays inside the root"))
        return (), problems
    root = base
    odd = regular_file_problem(root / node.filename)
    if odd:
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} is {odd}, not a regular file",
                                hint="a node's file must be a regular file"))
    elif not os.path.isfile(root / node.filename):  # os.path: an over-long name is just "missing"
        problems.append(Problem(location=loc("filename"),
                                message=f"file {shown(node.filename)} does not exist",
                                hint="file names are relative to the .pipeline file's folder"))
    else:
        found.add(file_rel)
    node_dir = (root / node.filename).parent
    for index, pattern in enumerate(node.dependencies):
        field = f"dependencies[{index}]"
        if not _plain_relative(pattern):
            problems.append(Problem(location=loc(field),
                                    message=f"dependency {shown(pattern)} is absolute or leaves the pipeline folder with '..'",
                                    hint="use a path relative to the node's file"))
            continue
        paths = _dependency_paths(node_dir, pattern, node.include_subdirectories)
        if not paths:
            problems.append(Problem(location=loc(field),
                                    message=f"dependency {shown(pattern)} matches no file",
                                    hint=f"paths are relative to the folder of {shown(node.filename)}"))
            continue
        for path in paths:
            rel = member(path)
            shown_path = os.path.relpath(path, root)
            broken = _broken_link(path)
            if broken and (rel is not None or not path.exists()):  # a dangling or looping link
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {shown(pattern)} includes {shown(shown_path)}, {broken}",
                                        hint="remove the link, or copy the file into the pipeline folder"))
            elif rel is None:
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {shown(pattern)} includes {shown(shown_path)}, a link that leads outside {where}",
                                        hint="copy the file into the pipeline folder instead of linking to it"))
            elif rel.startswith(RESERVED_DIR + "/"):
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {rel!r} is inside .t3qkfp/, which t3qkfp reserves"))
            elif odd := regular_file_problem(path):
                problems.append(Problem(location=loc(field),
                                        message=f"dependency {shown(pattern)} includes {shown(shown_path)}, which is {odd}",
                                        hint="only regular files can be packed; remove it or narrow the pattern"))
            else:
                found.add(rel)
    return tuple(sorted(found)), problems


def _broken_link(path: Path) -> str:
    """Why a symlink cannot be packed ('' when it can): it points nowhere, loops, or to a folder."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "a link to something that does not exist"
    except RuntimeError:  # a symlink loop (Python < 3.13)
        return "a link that leads back to itself"
    except OSError as exc:
        return ("a link that leads back to itself" if exc.errno == errno.ELOOP
                else f"a link that cannot be followed ({exc.strerror or exc})")
    return "" if target.is_file() else "a link to a folder (name the folder itself)"


def _plain_relative(path: str, *, leading_up: bool = False) -> bool:
    """Relative, without '~', '\\' or NUL, and without '..' (with `leading_up`: only leading ones,
    so `../scripts/x.py` passes but `a/../../x.py` does not)."""
    parts = Path(path).parts
    if leading_up:
        while parts and parts[0] == "..":
            parts = parts[1:]
    return bool(path) and not Path(path).is_absolute() and ".." not in parts and "\\" not in path \
        and "\x00" not in path and not path.startswith("~")


def _contained(root: Path, path: Path) -> str | None:
    """`path` relative to `root` after resolving symlinks, or None if it leads outside."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return None


def _dependency_paths(node_dir: Path, pattern: str, recursive: bool) -> list[Path]:
    """The files (and links, checked by the caller) one dependency brings, matched as Elyra does.

    Elyra 2.x packs a node by walking its file's folder (elyra/util/archive.py): hidden folders
    are never entered; other subfolders only with `include_subdirectories`, or when the pattern
    starts with the folder's path or matches it; a file is packed when fnmatch matches its
    relative path (`*` also crosses '/'), or, for a wildcard pattern without '/', its name; `*`
    alone takes every file of the folders entered. Users draw pipelines that work in Elyra, so
    the same pattern must bring the same files here. One addition: a dependency that names a
    folder brings its files (and its subfolders' with `include_subdirectories`); Elyra brings none.
    """
    literal = node_dir / pattern
    if not glob.has_magic(pattern):
        # os.path, not Path: an over-long name is just "missing", not an OSError
        if os.path.isdir(literal) and not os.path.islink(literal):
            return _folder_files(literal, recursive)
        return [literal] if os.path.lexists(literal) else []
    wanted = posixpath.normpath(pattern)
    take_all = wanted == "*"
    by_name = "/" not in wanted
    found = []
    for folder, dirnames, filenames in os.walk(node_dir):
        base = Path(folder)
        # os.walk lists linked folders with the folders but never enters them; Elyra's tar packs
        # the link itself, so they are candidates like files (the caller reports them).
        linked = [d for d in dirnames if (base / d).is_symlink()]
        dirnames[:] = [d for d in dirnames if d not in linked and not d.startswith(".") and (
            recursive or (not take_all and _enters(_relative(base / d, node_dir), wanted)))]
        for name in filenames + linked:
            rel = _relative(base / name, node_dir)
            if take_all or fnmatch.fnmatchcase(rel, wanted) or (by_name and fnmatch.fnmatchcase(name, wanted)):
                found.append(base / name)
    return sorted(found)


def _relative(path: Path, top: Path) -> str:
    return path.relative_to(top).as_posix()


def _enters(folder: str, pattern: str) -> bool:
    """Elyra enters a subfolder without `include_subdirectories` when the pattern leads into it."""
    return pattern.startswith(folder + "/") or fnmatch.fnmatchcase(folder, pattern)


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    """A folder's files: its own, and with `recursive` those of its non-hidden subfolders."""
    if not recursive:
        # every non-folder, FIFOs and sockets too: node_files reports them rather than skip them
        return sorted(p for p in folder.iterdir() if p.is_symlink() or not p.is_dir())
    found = []
    for current, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        linked = [d for d in dirnames if os.path.islink(os.path.join(current, d))]
        found.extend(Path(current, name) for name in filenames + linked)
    return sorted(found)


def build_archive(pipeline: Pipeline, node: Node, members: tuple[str, ...]) -> Archive:
    """Pack `members` (from node_files) into reproducible tar.gz bytes.

    Sorted members, zero mtimes and owners, a gzip header without time or name: the same files
    always give the same sha256, which is the object key.
    """
    root = archive_top(pipeline, node).resolve()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            entries = [(m, read_regular((root / m).resolve()), os.access(root / m, os.X_OK))
                       for m in members]
            for name, data, executable in sorted(entries):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if executable else 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    return Archive(node_id=node.id, members=members, data=data,
                   sha256=hashlib.sha256(data).hexdigest())


def node_archives(pipeline: Pipeline, members: Mapping[str, tuple[str, ...]]) -> dict[str, Archive]:
    """Every node's archive, packed from the members validation collected (checks.Checked.members).

    Why not call node_files again: validation already read the node's files to report their
    problems; packing what it saw reads the tree once per compile and archives exactly the
    files that passed.
    """
    return {node.id: build_archive(pipeline, node, members[node.id]) for node in pipeline.nodes}
