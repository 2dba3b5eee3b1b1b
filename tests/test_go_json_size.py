"""The 10,000-byte run-parameter limit, counted as Go's encoding/json counts it (issue 11 point 4).

The KFP 1.2 API server refuses a workflow when len(json.Marshal(spec.arguments.parameters))
exceeds 10,000. t3qkfp (params.go_json_size) and the test stand-in (kfp_standin.go_json_bytes)
re-count that in Python; here both are checked against a real Go program built from the Go
installed on the machine (Go 1.19, which like the server's Go before 1.22 writes \\b and \\f as
\\u0008 / \\u000c), and the limit is checked at exactly 10,000 and 10,001 bytes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp.errors import PipelineError
from t3qkfp.params import MAX_PARAMETER_BYTES, go_json_size, plan
from invalid_helpers import INVALID
from kfp_standin import go_json_bytes

GO_PROGRAM = """package main

import (
\t"encoding/json"
\t"fmt"
\t"io/ioutil"
\t"os"
)

// Reads a JSON array of values and prints, for each, the length of Go's json.Marshal of it.
func main() {
\tdata, _ := ioutil.ReadAll(os.Stdin)
\tvar values []interface{}
\tif err := json.Unmarshal(data, &values); err != nil {
\t\tpanic(err)
\t}
\tfor _, v := range values {
\t\tout, err := json.Marshal(v)
\t\tif err != nil {
\t\t\tpanic(err)
\t\t}
\t\tfmt.Println(len(out))
\t}
}
"""

SAMPLES = ["", "plain", "\u2028", "\u2029", "a\u2028b\u2029c", "<>&", "\b", "\f", "\b\f\n\r\t", "\x00\x01\x1f",
           "\x7f", "\"quoted\" \\slash\\", "Grüße ✓ 😀 日本", "<script>&amp;</script>", "\u2028" * 50 + "<" * 7,
           "line\nbreak", "\u0085\u00a0\ufeff", "{{workflow.name}}", "$(VAR) $$"]


@pytest.fixture(scope="module")
def go_sizes(tmp_path_factory):
    """A function giving Go's json.Marshal length of each value, via a compiled Go program."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("the Go toolchain ('go') is not installed: cannot compare with Go's encoding/json")
    root = tmp_path_factory.mktemp("gojson")
    (root / "main.go").write_text(GO_PROGRAM, encoding="utf-8")
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(root / "gopath"), GOCACHE=str(root / "cache"),
               GOFLAGS="")
    binary = root / "gojson"
    subprocess.run([go, "build", "-o", str(binary), str(root / "main.go")], cwd=root, env=env, check=True,
                   capture_output=True, timeout=300)

    def sizes(values: list) -> list[int]:
        done = subprocess.run([str(binary)], input=json.dumps(values).encode(), capture_output=True,
                              check=True, timeout=60)
        return [int(line) for line in done.stdout.split()]
    return sizes


def test_both_counts_match_go_for_every_special_character(go_sizes):
    values = [[{"name": f"P{i}", "value": text}] for i, text in enumerate(SAMPLES)]
    values += [{"name": "\u2028<", "value": "\b"}, [{"name": "A", "value": "".join(SAMPLES)}]]
    assert [go_json_size(v) for v in values] == go_sizes(values)
    assert [go_json_bytes(v) for v in values] == go_sizes(values)


def _document(value: str) -> dict:
    document = json.loads((INVALID / "ok_odd_but_valid.pipeline").read_text(encoding="utf-8"))
    document["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["env_vars"] = [
        {"env_var": "FILLER", "value": value}]
    return document


def _filler(total: int) -> str:
    """A value of U+2028s (6 Go bytes each) and 'a's making the run parameters `total` Go bytes.

    It starts and ends with 'a': U+2028 is whitespace, which Elyra strips from a value's ends."""
    base = plan(t3qkfp.load(_document(""), base_dir=INVALID)).argument_bytes()
    separators, rest = divmod(total - base - 2, 6)
    return "a" + "\u2028" * separators + "a" * rest + "a"


def test_exactly_10000_go_bytes_is_accepted_and_10001_refused():
    value = _filler(MAX_PARAMETER_BYTES)
    result = plan(t3qkfp.load(_document(value), base_dir=INVALID))
    assert result.argument_bytes() == MAX_PARAMETER_BYTES
    with pytest.raises(PipelineError, match=f"take {MAX_PARAMETER_BYTES + 1} bytes"):
        plan(t3qkfp.load(_document(value + "a"), base_dir=INVALID))


def test_the_boundary_pipeline_is_exactly_10000_bytes_for_go_and_the_stand_in(go_sizes):
    value = _filler(MAX_PARAMETER_BYTES)
    parameters = [{"name": p.name, "value": p.default}
                  for p in plan(t3qkfp.load(_document(value), base_dir=INVALID)).parameters]
    assert go_sizes([parameters]) == [MAX_PARAMETER_BYTES]
    assert go_json_bytes(parameters) == MAX_PARAMETER_BYTES
