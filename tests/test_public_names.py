"""The package's public names stay what they are, whatever was imported before.

Why: importing a submodule sets an attribute of that name on the package. When `submit.py`
existed, `t3qkfp.KfpAuth(...)` imported it and `t3qkfp.submit` became the module ("'module'
object is not callable"). Each check runs in a fresh interpreter, so the order of imports is
the one the test chooses and not whatever the test session did before.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

CHECK = textwrap.dedent("""
    import importlib, pkgutil, sys, types
    import t3qkfp

    def import_every_submodule():
        # Every module of the package; not __main__ (importing it runs the CLI) and not the
        # scripts inside runtime/ (they run in the pod and read its environment on import).
        for info in pkgutil.iter_modules(t3qkfp.__path__, "t3qkfp."):
            if info.name != "t3qkfp.__main__":
                importlib.import_module(info.name)

    def check_every_public_name():
        wrong = []
        for name in t3qkfp.__all__:
            value = getattr(t3qkfp, name)
            if isinstance(value, types.ModuleType):
                wrong.append(f"{name} is the module {value.__name__}")
            elif name in t3qkfp._LAZY:
                module, attr = t3qkfp._LAZY[name]
                if value is not getattr(importlib.import_module(module), attr):
                    wrong.append(f"{name} is not {module}.{attr}")
        assert not wrong, wrong

    ORDER = sys.argv[1]
    if ORDER == "names-first":
        check_every_public_name()
        import_every_submodule()
    elif ORDER == "one-name-then-modules":
        t3qkfp.KfpAuth(token="x")
        import_every_submodule()
    else:
        import_every_submodule()
    check_every_public_name()
    print("ok", len(t3qkfp.__all__))
""")


@pytest.mark.parametrize("order", ["modules-first", "names-first", "one-name-then-modules"])
def test_public_names_survive_every_import(order):
    result = subprocess.run([sys.executable, "-c", CHECK, order], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok ")


def test_the_reported_sequence_submit_after_kfp_auth():
    """The issue's exact steps: build a KfpAuth, then call t3qkfp.submit."""
    code = ("import t3qkfp, types; t3qkfp.KfpAuth(token='x'); "
            "assert callable(t3qkfp.submit) and not isinstance(t3qkfp.submit, types.ModuleType)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]


def test_no_submodule_is_named_like_a_public_name():
    """The cause, checked statically, so a new module cannot bring the bug back."""
    import pkgutil

    import t3qkfp
    submodules = {info.name for info in pkgutil.iter_modules(t3qkfp.__path__)}
    assert not submodules & set(t3qkfp.__all__)
