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


def pytest_terminal_summary(terminalreporter):
    """Print how many hypothesis examples the property suite ran (the CI log keeps the counts)."""
    import sys
    module = sys.modules.get("test_properties")
    counts = getattr(module, "COUNTS", None)
    if counts:
        terminalreporter.write_sep("-", "property suite examples")
        for key in sorted(counts):
            terminalreporter.write_line(f"{key}: {counts[key]}")
        terminalreporter.write_line(f"total examples: {sum(v for k, v in counts.items() if k.endswith(': examples'))}")


# The credentials the tests hand to t3qkfp (tokens, passwords, cookies, secret keys). None of them
# may appear in anything the suite's code under test prints or logs: captured stdout/stderr/log of
# each test, what a test reads back with capsys/capfd, and a CLI run's output. Only outputs are
# checked, never the test's own source or assertion text, so passing one in as input is fine.
# Add a new test credential here; keep them distinctive (no "pw" or "anything").
TEST_CREDENTIALS = (
    "my-cos-secret", "dex-pw", "hunter2", "tok-secret", "tok-from-env-0123456789",
    "correct horse battery", "wrong-password-xyz", "wrong-token-value", "tok-abcdef-123456",
    "tok-SECRET-in-a-dict", "s3cr3t-token-value", "pw-SECRET-31", "tok-secret-4f1c9a7e2b55", "tok-secr",
    "4f1c9a7e2b55", "pw-secret", "sk-secret", "minio-password", "very-secret-value", "local-secret",
    "not-the-secret", "token-from-this-shell",
)


def leaked_credentials(text: str) -> list[str]:
    """The test credentials found in `text`, each shown only by its first 3 characters."""
    return [f"{c[:3]}… (TEST_CREDENTIALS[{i}])" for i, c in enumerate(TEST_CREDENTIALS) if c in text]


def _watch_outputs() -> list[tuple[str, str]]:
    """Record what capsys/capfd and click's CliRunner hand to a test, to check it for credentials.

    Returns the list of (where, text) read during the current test; patched once per process
    (a pytester run inside a test shares it).
    """
    from _pytest.capture import CaptureFixture
    from click.testing import CliRunner

    if hasattr(CaptureFixture, "_t3qkfp_seen"):
        return CaptureFixture._t3qkfp_seen
    seen: list[tuple[str, str]] = []
    read = CaptureFixture.readouterr
    invoke = CliRunner.invoke

    def readouterr(self):
        result = read(self)
        seen.append(("captured output read by the test", f"{result.out}\n{result.err}"))
        return result

    def cli_invoke(self, *args, **kwargs):
        result = invoke(self, *args, **kwargs)
        texts = [b.decode("utf-8", "replace") for b in (result.stdout_bytes, result.stderr_bytes) if b]
        seen.append(("CLI output", "\n".join(texts)))
        return result

    CaptureFixture.readouterr = readouterr
    CliRunner.invoke = cli_invoke
    CaptureFixture._t3qkfp_seen = seen
    return seen


_OUTPUT_SEEN = _watch_outputs()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Fail a test whose outputs contain a test credential (issue 11: nothing secret is printed)."""
    outcome = yield
    report = outcome.get_result()
    sources = [(title, text) for title, text in report.sections
               if title.startswith("Captured") and title.endswith(call.when)]
    if call.when != "setup":
        sources += _OUTPUT_SEEN
        _OUTPUT_SEEN.clear()
    leaks = [f"{where}: {', '.join(found)}" for where, text in sources if (found := leaked_credentials(text))]
    if leaks:  # the report itself must not show it either
        report.sections = [(title, _redacted(text)) for title, text in report.sections]
        if report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = "a test credential appears in the output of this test:\n" + "\n".join(leaks)


def _redacted(text: str) -> str:
    for credential in sorted(TEST_CREDENTIALS, key=len, reverse=True):
        text = text.replace(credential, "<test credential>")
    return text


@pytest.fixture
def no_user_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own KFP env vars must not leak into tests that submit."""
    for var in ("T3QKFP_KFP_TOKEN", "T3QKFP_KFP_COOKIE", "T3QKFP_KFP_USERNAME",
                "T3QKFP_KFP_PASSWORD", "T3QKFP_KFP_NAMESPACE", "T3QKFP_KFP_HOST"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def kfp():
    """The KFP 1.2 API stand-in on loopback; every request it saw must fit KFP's API definitions."""
    from kfp_standin import KfpStandin

    with KfpStandin() as server:
        yield server
        assert server.violations == []
