"""The compiled workflow's size where it must fit (etcd's request limit): measure, estimate, refuse."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from t3qkfp import workflow_size
from t3qkfp.cli import main
from t3qkfp.compiler import compile_pipeline
from t3qkfp.errors import PipelineError
from t3qkfp.storage_settings import StorageConfig

CASES = Path(__file__).resolve().parent / "cases"
FAN = CASES / "fan_in_fan_out" / "input.pipeline"


def test_measure_is_the_compact_json_and_names_the_biggest_parts() -> None:
    compiled = compile_pipeline(FAN, storage=StorageConfig(), deterministic=True)
    import json
    assert compiled.size.total == len(json.dumps(compiled.workflow, separators=(",", ":")).encode())
    names = [name for name, _ in compiled.size.biggest]
    assert names[0].startswith("template '") and len(names) == 5
    sizes = [size for _, size in compiled.size.biggest]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("templates", [[], [{"name": "a"}], [{"name": "dé", "x": ["😀", 1]}, {"name": "b"}, {"name": ""}]])
def test_measure_adds_up_to_the_whole_workflow_as_utf8_compact_json(templates) -> None:
    import json
    workflow = {"apiVersion": "v", "metadata": {"annotations": {"k": "ü"}},
                "spec": {"entrypoint": "é", "templates": templates, "arguments": {"parameters": []}}}
    text = json.dumps(workflow, separators=(",", ":"), ensure_ascii=False)
    assert workflow_size.measure(workflow).total == len(text.encode("utf-8"))


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if (p / "input.pipeline").is_file()))
def test_estimate_without_kfp_is_close_to_the_measured_size(case: str) -> None:
    compiled = compile_pipeline(CASES / case / "input.pipeline", storage=StorageConfig(), deterministic=True)
    estimate = workflow_size.estimate(compiled.pipeline, compiled.plan).total
    assert abs(estimate - compiled.size.total) <= 0.05 * compiled.size.total, (estimate, compiled.size.total)


def test_above_the_limit_compile_refuses_naming_size_and_parts(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setattr(workflow_size, "MAX_BYTES", 7_000)
    with pytest.raises(PipelineError) as info:
        compile_pipeline(FAN, storage=StorageConfig())
    text = str(info.value)
    assert "workflow size" in text and "KiB" in text and "template '" in text and "--allow-large" in text
    # The CLI: one line, exit 1, nothing written; with --allow-large the file is written.
    out = tmp_path / "fan.yaml"
    result = CliRunner().invoke(main, ["compile", str(FAN), "-o", str(out), "-q"])
    assert result.exit_code == 1 and "workflow size" in result.output and not out.exists()
    result = CliRunner().invoke(main, ["compile", str(FAN), "-o", str(out), "-q", "--allow-large"])
    assert result.exit_code == 0 and out.is_file()
    # validate says so too, from the estimate (no kfp)
    result = CliRunner().invoke(main, ["validate", str(FAN)])
    assert result.exit_code == 1 and "workflow size" in result.output and "valid (" not in result.output


def test_above_one_mib_a_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(workflow_size, "WARN_BYTES", 5_000)
    with caplog.at_level(logging.WARNING, logger="t3qkfp"):
        compiled = compile_pipeline(FAN, storage=StorageConfig())
    assert compiled.workflow
    assert any("the compiled workflow takes" in r.getMessage() for r in caplog.records)


def test_params_and_validate_report_the_size() -> None:
    result = CliRunner().invoke(main, ["validate", str(FAN)])
    assert result.exit_code == 0 and "workflow size: about" in result.output and "KiB" in result.output
    result = CliRunner().invoke(main, ["params", str(FAN)])
    assert result.exit_code == 0 and "workflow size: about" in result.output
    result = CliRunner().invoke(main, ["params", "--json", str(FAN)])
    import json
    assert json.loads(result.output)["workflow_bytes_estimate"] > 5_000


@pytest.mark.parametrize("command", ["validate", "params"])
def test_validate_and_params_never_import_kfp(command: str) -> None:
    code = ("import sys\nfrom t3qkfp.cli import main\n"
            f"try:\n    main([{command!r}, {str(FAN)!r}])\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "assert 'kfp' not in sys.modules, 'kfp was imported'\n"
            "assert 'kubernetes' not in sys.modules, 'kubernetes was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
