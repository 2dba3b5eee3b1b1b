"""Concurrent compiles leave the process's warning filters as they found them (issue 11 point 7).

warnings.catch_warnings restores a saved copy of the process-wide filter list on exit; two
threads overlapping in it (Jupyter's thread pool serving Elyra's Run and Export at once) used to
leave "ignore" behind, so every later user warning vanished. Real compiles in real threads.
"""
from __future__ import annotations

import sys
import threading
import warnings
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp import quiet

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "churn" / "churn.pipeline"


def test_concurrent_compiles_restore_the_warning_filters():
    t3qkfp.compile_pipeline(EXAMPLE)  # first import of kfp out of the way
    before = list(warnings.filters)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def compile_many() -> None:
        try:
            start.wait()
            for _ in range(4):
                t3qkfp.compile_pipeline(EXAMPLE)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=compile_many) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="still shown"):
        warnings.warn("still shown", UserWarning)


def test_kfp_imports_in_many_threads_restore_the_warning_filters():
    """kfp_modules() runs outside the compile (every build calls it): hammer it from threads."""
    from t3qkfp.kfp_build import kfp_modules
    kfp_modules()
    before = list(warnings.filters)
    start = threading.Barrier(4)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so unguarded enter/exit pairs interleave

    def many() -> None:
        start.wait()
        for _ in range(3000):
            kfp_modules()

    threads = [threading.Thread(target=many) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(timeout=300)
    finally:
        sys.setswitchinterval(interval)
    assert warnings.filters == before


def test_overlapping_silenced_blocks_nest_instead_of_interleaving():
    """Thread B enters while A is inside; whatever order they leave in, the filters come back."""
    before = list(warnings.filters)
    a_inside, b_started, b_done = threading.Event(), threading.Event(), threading.Event()

    def thread_b() -> None:
        b_started.set()
        with quiet.silenced():
            pass
        b_done.set()

    with quiet.silenced():
        a_inside.set()
        other = threading.Thread(target=thread_b)
        other.start()
        b_started.wait(10)
        assert not b_done.wait(0.2), "B changed the filters while A held them"
    other.join(10)
    assert b_done.is_set()
    assert warnings.filters == before
