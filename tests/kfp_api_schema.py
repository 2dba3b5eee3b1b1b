"""The KFP v1beta1 REST API (kubeflow/pipelines 1.2.0) as compact data, and a checker for bodies.

Owns: reading `tests/kfp_api_v1beta1.json` (our own compact form of the message and operation
definitions in kubeflow/pipelines@1.2.0 backend/api/swagger/kfp_api_single_file.swagger.json),
deriving the same compact form from that swagger file when it is present (so a test can prove
the two agree), and checking a decoded JSON body against a message type: field names (unknown
fields refused), JSON types, enum values, int64-as-string and RFC 3339 timestamps.

Why compact data and not the swagger itself: the swagger lives outside the project
(../shared/specs), and a fresh clone must still run every test.

Type notation in the JSON file: "string", "boolean", "int32", "int64", "double", "byte",
"date-time", a message name, an enum name, or a one-element list for a repeated field.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COMPACT_SCHEMA = HERE / "kfp_api_v1beta1.json"
SWAGGER = HERE.parents[1] / "shared" / "specs" / "kfp-api-1.2.0.swagger.json"

# RFC 3339 as protobuf's Timestamp JSON mapping accepts it (jsonpb in KFP 1.2's grpc-gateway).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
_INT = re.compile(r"-?[0-9]+")


def load_compact() -> dict[str, Any]:
    """The compact API definition shipped with the tests."""
    return json.loads(COMPACT_SCHEMA.read_text(encoding="utf-8"))


def _field_type(prop: dict[str, Any]) -> Any:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[1]
    kind = prop.get("type")
    if kind == "array":
        return [_field_type(prop["items"])]
    fmt = prop.get("format")
    if kind == "string":
        return {"int64": "int64", "uint64": "int64", "date-time": "date-time",
                "byte": "byte"}.get(fmt or "", "string")
    if kind == "integer":
        return "int64" if fmt == "int64" else "int32"
    if kind == "number":
        return "double"
    if kind == "boolean":
        return "boolean"
    raise ValueError(f"unsupported swagger property {prop}")


def compact_from_swagger(swagger: dict[str, Any]) -> dict[str, Any]:
    """Derive the compact form from the published swagger (used to check our JSON file)."""
    enums: dict[str, list[str]] = {}
    messages: dict[str, dict[str, Any]] = {}
    for name, definition in swagger["definitions"].items():
        if "enum" in definition:
            enums[name] = list(definition["enum"])
        else:
            messages[name] = {field: _field_type(prop)
                              for field, prop in definition.get("properties", {}).items()}
    operations: dict[str, dict[str, Any]] = {}
    for path, ops in swagger["paths"].items():
        for method, op in ops.items():
            entry: dict[str, Any] = {"method": method.upper(), "path": path, "query": {}}
            for param in op.get("parameters", []):
                where = param["in"]
                if where == "body":
                    entry["body"] = _field_type(param["schema"])
                elif where == "query":
                    entry["query"][param["name"]] = _field_type(param)
                elif where == "formData":
                    entry.setdefault("form", {})[param["name"]] = {
                        "type": param["type"], "required": bool(param.get("required"))}
            operations[op["operationId"]] = entry
    return {"enums": enums, "messages": messages, "operations": operations}


def check_message(value: Any, type_name: Any, schema: dict[str, Any], where: str = "body") -> list[str]:
    """Every way `value` (decoded JSON) breaks `type_name`; empty when it fits.

    Stricter than KFP 1.2's grpc-gateway in one way on purpose: unknown fields are refused
    (the gateway would drop them silently, hiding a misspelt field in the client).
    """
    problems: list[str] = []
    if isinstance(type_name, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        for index, item in enumerate(value):
            problems += check_message(item, type_name[0], schema, f"{where}[{index}]")
        return problems
    if value is None:
        return []  # proto3 JSON: null means "not set" for every field type
    if type_name in schema["enums"]:
        allowed = schema["enums"][type_name]
        if isinstance(value, bool) or not (value in allowed or
                                           (isinstance(value, int) and 0 <= value < len(allowed))):
            problems.append(f"{where}: {value!r} is not a {type_name} (one of {allowed})")
        return problems
    if type_name in schema["messages"]:
        if not isinstance(value, dict):
            return [f"{where}: expected a {type_name} object, got {type(value).__name__}"]
        fields = schema["messages"][type_name]
        for key, item in value.items():
            if key not in fields:
                problems.append(f"{where}: unknown field {key!r} for {type_name} "
                                f"(known: {sorted(fields)})")
            else:
                problems += check_message(item, fields[key], schema, f"{where}.{key}")
        return problems
    return _check_scalar(value, type_name, where)


def _check_scalar(value: Any, type_name: str, where: str) -> list[str]:
    ok: bool
    if type_name == "string":
        ok = isinstance(value, str)
    elif type_name == "boolean":
        ok = isinstance(value, bool)
    elif type_name in ("int32", "int64"):
        # proto3 JSON: int64 travels as a string, both forms are accepted on input.
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INT.fullmatch(value) is not None)
    elif type_name == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif type_name == "date-time":
        ok = isinstance(value, str) and _RFC3339.fullmatch(value) is not None
    elif type_name == "byte":
        try:
            base64.b64decode(value, validate=True)
            ok = isinstance(value, str)
        except (ValueError, TypeError):
            ok = False
    else:
        return [f"{where}: unknown type {type_name!r} in the compact schema"]
    return [] if ok else [f"{where}: {value!r} is not a valid {type_name}"]


def check_query(query: dict[str, list[str]], operation: str, schema: dict[str, Any]) -> list[str]:
    """Unknown or mistyped query parameters of one operation."""
    allowed = schema["operations"][operation]["query"]
    problems = []
    for key, values in query.items():
        if key not in allowed:
            problems.append(f"query: unknown parameter {key!r} for {operation} (known: {sorted(allowed)})")
            continue
        for value in values:
            kind = allowed[key]
            if kind in schema["enums"]:
                if value not in schema["enums"][kind]:
                    problems.append(f"query: {key}={value!r} is not a {kind}")
            elif kind in ("int32", "int64") and not _INT.fullmatch(value):
                problems.append(f"query: {key}={value!r} is not an integer")
    return problems
