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


GO_READER_SOURCE = TESTS / "go_reader" / "main.go"


@pytest.fixture(scope="session")
def go_reader(tmp_path_factory):
    """Build tests/go_reader once per session (GOPATH mode, Debian's Go libraries, no module proxy).

    Returns a function: YAML paths -> one dict per file as the KFP API server reads it
    ({"parameters": [...], "bytes": N} or {"error": ...}). Skips locally without Go; under CI a
    missing Go or library fails, because the byte-exact read-back is a release check.
    """
    import shutil
    import subprocess

    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Go for the KFP API server read-back: apt-get install golang-go "
                        "golang-github-ghodss-yaml-dev golang-gopkg-yaml.v2-dev")
        pytest.skip("`go` is not installed: the read-back through the KFP API server's Go YAML "
                    "libraries (golang-go, golang-github-ghodss-yaml-dev) is skipped")
    root = tmp_path_factory.mktemp("go_reader")
    package = root / "src" / "t3qkfpreader"
    package.mkdir(parents=True)
    shutil.copy(GO_READER_SOURCE, package / "main.go")
    binary = root / "reader"
    env = {**os.environ, "GO111MODULE": "off", "GOPROXY": "off", "GOFLAGS": "",
           "GOPATH": f"{root}{os.pathsep}/usr/share/gocode", "GOCACHE": str(root / "cache")}
    built = subprocess.run([go, "build", "-o", str(binary), "."], cwd=package, env=env,
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"building tests/go_reader failed (are golang-github-ghodss-yaml-dev and "
                    f"golang-gopkg-yaml.v2-dev installed?):\n{built.stderr[-3000:]}")

    def read(paths) -> list[dict]:
        import json
        paths = [str(p) for p in paths]
        done = subprocess.run([str(binary), *paths], capture_output=True, text=True, check=True)
        return [json.loads(line) for line in done.stdout.splitlines()]

    return read


# Every credential the tests hand to t3qkfp (or to a node). None may appear in what a test
# prints or logs, whether it passes or not; a test whose captured stdout, stderr or log holds
# one fails (issue 11: "no credential appears in any output of the test suite"). Subprocess
# output a test captures itself is checked by that test.
TEST_CREDENTIALS = (
    "tok-from-env-0123456789", "correct horse battery", "wrong-password-xyz", "wrong-token-value",
    "tok-abcdef-123456", "tok-SECRET-in-a-dict", "s3cr3t-token-value", "pw-SECRET-31",
    "tok-secret-4f1c9a7e2b55", "tok-secr", "4f1c9a7e2b55", "pw-secret", "sk-secret", "minio-password",
    "very-secret-value", "local-secret", "not-the-secret", "token-from-this-shell",
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.passed:
        leaks = sorted({name for name, text in report.sections if name.endswith(report.when)
                        for secret in TEST_CREDENTIALS if secret in text})
        if leaks:  # named by section, never quoted: the report is output too
            report.outcome = "failed"
            report.longrepr = f"a test credential (conftest.TEST_CREDENTIALS) appeared in: {', '.join(leaks)}"
