"""The golden workflows read back byte-exactly through the KFP API server's own Go YAML path.

tests/go_reader/main.go unmarshals each YAML with github.com/ghodss/yaml (gopkg.in/yaml.v2 then
encoding/json) into Argo's string-typed parameter fields, as KFP 1.0.x's ValidateWorkflow does,
and counts the parameters as json.Marshal writes them (the 10,000-byte check). Every name and
value must equal what the plan says, and the plan's byte count must equal Go's.
"""
from __future__ import annotations

import json

from test_golden import CASES


def plan_parameters(case) -> list[dict[str, str]]:
    plan = json.loads((case / "expected.plan.json").read_text(encoding="utf-8"))
    return sorted(({"name": p["name"], "value": p["default"]} for p in plan["parameters"]),
                  key=lambda p: p["name"])


def test_goldens_read_back_exactly_through_go(go_reader):
    results = go_reader([case / "expected.yaml" for case in CASES])
    assert len(results) == len(CASES)
    for case, result in zip(CASES, results):
        assert "error" not in result, f"{case.name}: {result.get('error')}"
        assert sorted(result["parameters"], key=lambda p: p["name"]) == plan_parameters(case), case.name
        plan = json.loads((case / "expected.plan.json").read_text(encoding="utf-8"))
        assert result["bytes"] == plan["argument_bytes"], case.name


def test_go_reader_changes_what_go_yaml_reads_as_no_string(go_reader, tmp_path):
    """The reader behaves like the server: plain `on`, `08`, `~` silently become "true", "8", no value.

    That silent change is why every value must read back exactly; quoted, they stay as written.
    """
    plain = "".join(f"    - name: {n}\n      value: {v}\n" for n, v in [("A", "on"), ("B", "08"), ("C", "~")])
    quoted = "".join(f"    - name: {n}\n      value: '{v}'\n" for n, v in [("A", "on"), ("B", "08"), ("C", "~")])
    (tmp_path / "plain.yaml").write_text("spec:\n  arguments:\n    parameters:\n" + plain)
    (tmp_path / "quoted.yaml").write_text("spec:\n  arguments:\n    parameters:\n" + quoted)
    changed, kept = go_reader([tmp_path / "plain.yaml", tmp_path / "quoted.yaml"])
    assert changed["parameters"] == [{"name": "A", "value": "true"}, {"name": "B", "value": "8"}, {"name": "C"}]
    assert kept["parameters"] == [{"name": "A", "value": "on"}, {"name": "B", "value": "08"}, {"name": "C", "value": "~"}]
    assert kept["bytes"] == len(json.dumps(kept["parameters"], separators=(",", ":")))
