"""The suite-wide credential check in conftest really catches a credential in each kind of output."""
from __future__ import annotations

import click
from click.testing import CliRunner

import conftest
from conftest import TEST_CREDENTIALS, leaked_credentials

pytest_plugins = ["pytester"]


def test_leaked_credentials_names_them_without_showing_them():
    found = leaked_credentials(f"error: Bearer {TEST_CREDENTIALS[5]}\n")
    assert found == [f"{TEST_CREDENTIALS[5][:3]}… (TEST_CREDENTIALS[5])"]
    assert TEST_CREDENTIALS[5] not in found[0] and leaked_credentials("nothing here") == []


def test_outputs_read_by_tests_are_recorded(capsys):
    before = len(conftest._OUTPUT_SEEN)
    print("harmless")
    capsys.readouterr()

    @click.command()
    def cli():
        click.echo("also harmless")

    CliRunner().invoke(cli)
    seen = [text for _, text in conftest._OUTPUT_SEEN[before:]]
    assert any("harmless" in t for t in seen) and any("also harmless" in t for t in seen)


def test_a_printed_or_logged_credential_fails_the_test(pytester):
    pytester.makeconftest(f"import importlib.util\n"
                          f"_s = importlib.util.spec_from_file_location('t3_conftest', {conftest.__file__!r})\n"
                          "_c = importlib.util.module_from_spec(_s)\n_s.loader.exec_module(_c)\n"
                          "pytest_runtest_makereport = _c.pytest_runtest_makereport\n")
    secret = TEST_CREDENTIALS[0]
    pytester.makepyfile(f"""
import logging
from click.testing import CliRunner
import click

def test_input_only():
    assert len({secret!r}) > 3          # a credential given as input is fine

def test_prints():
    print('token is ' + {secret!r})

def test_logs():
    logging.getLogger('t3qkfp').warning('token %s', {secret!r})

def test_reads_back(capsys):
    print({secret!r})
    capsys.readouterr()

def test_cli():
    @click.command()
    def cli():
        click.echo({secret!r})
    CliRunner().invoke(cli)
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=1, failed=4)
    assert secret not in "\n".join(line for line in result.outlines if "a test credential appears" in line)
