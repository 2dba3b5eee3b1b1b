"""Helpers for tests/test_invalid.py and tests/test_fuzz_invalid.py (no fixtures: conftest.py is the lead's)."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path


from conftest import regenerating  # noqa: F401  (one regeneration switch for every golden)

INVALID = Path(__file__).resolve().parent / "invalid"
# Messages that name the absolute test folder (a known bug, see test_messages_name_no_absolute_paths)
# are compared with the folder replaced by this token, so the goldens do not depend on the checkout.
DIR_TOKEN = "<tests/invalid>"


def invalid_cases() -> list[str]:
    """Names (file stems) of every tests/invalid/*.pipeline that must be refused."""
    return sorted(p.stem for p in INVALID.glob("*.pipeline") if not p.stem.startswith("ok_"))


def ok_cases() -> list[str]:
    """tests/invalid/ok_*.pipeline: odd-looking pipelines that must be accepted."""
    return sorted(p.stem for p in INVALID.glob("ok_*.pipeline"))


def extra_args(name: str, folder: Path = INVALID) -> list[str]:
    """CLI options of a case from <name>.args (e.g. `--scope pipeline`), or none."""
    path = folder / f"{name}.args"
    return shlex.split(path.read_text(encoding="utf-8")) if path.is_file() else []


def scope_of(args: list[str]) -> str:
    """The scope the CLI options ask for, to call the API the same way."""
    return args[args.index("--scope") + 1] if "--scope" in args else "auto"


def run_validate(file_name: str, cwd: Path, args: list[str] = ()) -> subprocess.CompletedProcess[bytes]:
    """`python -m t3qkfp validate [args] FILE` in `cwd`, as a user would run it; bytes out."""
    env = dict(os.environ, PYTHONUTF8="1", PYTHONIOENCODING="utf-8:backslashreplace")
    env.pop("T3QKFP_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "t3qkfp", "validate", *args, file_name],
                          cwd=cwd, env=env, capture_output=True, timeout=120)


def normalized(stderr: bytes, folder: Path = INVALID) -> str:
    """stderr as text with the absolute case folder replaced by DIR_TOKEN."""
    return stderr.decode("utf-8").replace(str(folder.resolve()), DIR_TOKEN)
