"""Odd input gets one bounded line, never a RecursionError or a megabyte echo (issue 11 point 12)."""
from __future__ import annotations

import json

import pytest

import t3qkfp
from t3qkfp.errors import MAX_PROBLEM_SHOWN, Location, PipelineError, Problem
from t3qkfp.params import plan
from invalid_helpers import INVALID

BASE = (INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8")


def _refused(source: object) -> str:
    with pytest.raises(PipelineError) as caught:
        plan(t3qkfp.load(source, base_dir=INVALID))
    return str(caught.value)


@pytest.mark.parametrize("depth", [10, 5000, 100000])
def test_a_deeply_nested_parameter_type_is_one_problem(depth):
    nested: object = "String"
    for _ in range(depth):
        nested = [nested]
    document = json.loads(BASE)
    document["pipelines"][0]["app_data"]["properties"]["pipeline_parameters"] = [
        {"name": "P", "default_value": {"type": nested, "value": "x"}}]
    text = _refused(document)
    assert "pipeline_parameters[0].default_value.type: parameter 'P' has unknown type" in text
    assert len(text) < 400


def test_json_text_with_a_bom_is_read_as_json():
    document = json.loads(BASE)
    plain = plan(t3qkfp.load(json.dumps(document), base_dir=INVALID))
    with_bom = plan(t3qkfp.load("\ufeff" + json.dumps(document), base_dir=INVALID))
    assert with_bom.parameters == plain.parameters


@pytest.mark.parametrize("text", ["\ufeff" + "x" * 1_000_000, "not json\n" * 100_000, "y" * 5000])
def test_long_text_that_is_not_json_is_not_echoed(text):
    message = _refused(text)
    assert "neither JSON text nor a file path" in message
    assert len(message) < 400


def test_a_long_missing_path_is_shortened():
    message = _refused("/no/such/" + "d" * 3000 + ".pipeline")
    assert "file not found" in message and "characters left out" in message and len(message) < 500


def test_every_problem_line_is_bounded_even_of_control_characters():
    line = str(Problem(location=Location(file="f"), message="\x1b" * 10_000))
    assert len(line) <= MAX_PROBLEM_SHOWN and "\x1b" not in line


def test_object_storage_answers_are_bounded():
    """A 2 MB S3 error message or connection reason is clipped like submit's server text."""
    import urllib3
    from minio.error import S3Error

    from t3qkfp.errors import FOREIGN_TEXT
    from t3qkfp.object_storage import storage_error
    from t3qkfp.storage_settings import StorageConfig

    config = StorageConfig()
    huge = "x" * 2_000_000
    answer = S3Error(response=urllib3.HTTPResponse(status=500), code="InternalError", message=huge,
                     resource="/mlpipeline", request_id="req", host_id="host")
    unreachable = urllib3.exceptions.MaxRetryError(None, "/mlpipeline", reason=OSError(huge))
    for exc in (answer, unreachable):
        text = str(storage_error(exc, config, "uploading"))
        assert text.startswith("uploading: ")
        assert "characters left out" in text
        assert len(text) < FOREIGN_TEXT + 300
