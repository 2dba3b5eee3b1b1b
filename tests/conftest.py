"""Shared test fixtures: golden-file comparison with an explicit, CI-refused regeneration switch."""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def regenerating() -> bool:
    """T3QKFP_REGENERATE=1 rewrites golden files; refused under CI so a wrong golden is never blessed there."""
    if os.environ.get("T3QKFP_REGENERATE") != "1":
        return False
    if os.environ.get("CI"):
        pytest.fail("T3QKFP_REGENERATE is refused when CI is set")
    return True


def assert_golden(actual: str, path: Path) -> None:
    """Byte-exact comparison with a golden file, with a readable diff on mismatch."""
    if regenerating():
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not path.is_file():
        pytest.fail(f"{path} is missing; create it with T3QKFP_REGENERATE=1")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            str(path), "actual", n=2))
        pytest.fail(f"{path.name} differs from the compiled output:\n{diff[:6000]}")
