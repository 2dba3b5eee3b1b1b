"""The benchmark runs end to end at tiny N (CI smoke test; timings are printed, never asserted)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_compile_vs_alternatives_smoke() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compile_vs_alternatives.py"), "--smoke"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Every case got a row (the benchmark itself checks (B) and (C) do the same work as t3qkfp),
    # the stage breakdown, the targets and both local runner measurements were printed.
    for shape in ("chain", "fan"):
        for params in ("shared", "distinct"):
            for n in (3, 6):
                assert f"{shape:5s} {params:8s} N={n}" in out
    assert "stage breakdown" in out and "kfp compiler" in out
    assert "targets at N=6" in out
    assert "fixed overhead" in out and "marginal" in out
