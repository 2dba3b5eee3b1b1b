"""Declared outputs never follow links to folders and their walk is bounded (issue 11 point 9).

Before, `**` went through glob.glob, which enters linked folders: a link back up multiplied
the matches (or failed at the path length limit), a link to /usr walked for minutes. On trees
without links the matches must stay exactly glob's, which is checked against glob itself.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from t3qkfp.runtime import node_runtime
from t3qkfp.runtime.node_runtime import NodeFailure, output_files

PATTERNS = ["*", "**", "**/*", "**/*.csv", "out/**", "out/**/*.txt", "out/*", "out", "out/", "*/*.txt", "a.csv",
            ".hidden/*", ".h*", "**/.keep", "o?t/[a-c]*", "missing/**", "./out/x.txt", "**/deep/**", "out/sub"]


def _tree(root: Path) -> Path:
    for rel in ["a.csv", "b.txt", ".env", "out/x.txt", "out/y.csv", "out/sub/z.txt", "out/sub/deep/w.csv",
                "out/.keep", ".hidden/h.txt", "other/deep/q.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def _glob_reference(folder: str, pattern: str) -> list[str]:
    """What the runtime matched before (glob.glob), valid on a tree without links."""
    found: list[str] = []
    for match in sorted(glob.glob(os.path.join(glob.escape(folder), pattern), recursive=True)):
        paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(match) for f in fs) if os.path.isdir(match) else [match]
        for path in paths:
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            if os.path.isfile(path) and rel not in found:
                found.append(rel)
    return found


@pytest.mark.parametrize("pattern", PATTERNS)
def test_without_links_the_matches_are_glob_s(tmp_path, pattern):
    folder = str(_tree(tmp_path))
    assert sorted(output_files(folder, pattern)) == sorted(_glob_reference(folder, pattern))


def test_a_link_loop_does_not_multiply_matches(tmp_path):
    folder = _tree(tmp_path)
    (folder / "out" / "loop").symlink_to("..", target_is_directory=True)
    matched = output_files(str(folder), "**/*.txt")
    assert sorted(matched) == ["b.txt", "other/deep/q.txt", "out/sub/z.txt", "out/x.txt"]


def test_a_link_to_a_big_system_folder_is_not_walked(tmp_path, monkeypatch):
    folder = _tree(tmp_path)
    (folder / "usr").symlink_to("/usr", target_is_directory=True)
    looked: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(node_runtime.os, "listdir", lambda p: looked.append(p) or real_listdir(p))
    assert "a.csv" in output_files(str(folder), "**")
    assert not any("/usr" in p.replace(str(folder), "") for p in looked)


def test_a_matched_link_to_a_folder_fails_the_node_with_its_name(tmp_path):
    folder = _tree(tmp_path)
    (folder / "results").symlink_to(folder / "out", target_is_directory=True)
    with pytest.raises(NodeFailure, match="'results', a link to a folder"):
        output_files(str(folder), "results")


def test_the_walk_is_bounded(tmp_path, monkeypatch):
    folder = _tree(tmp_path)
    monkeypatch.setattr(node_runtime, "MAX_OUTPUT_WALK", 5)
    with pytest.raises(NodeFailure, match="looks at more than 5 files"):
        output_files(str(folder), "**/*.csv")


def test_a_wildcard_skips_links_to_folders(tmp_path):
    folder = _tree(tmp_path)
    (folder / "linked").symlink_to(folder / "out", target_is_directory=True)
    everything = output_files(str(folder), "*")
    assert "out/x.txt" in everything and not any(rel.startswith("linked/") for rel in everything)
    assert "linked/x.txt" not in output_files(str(folder), "*/*.txt")
