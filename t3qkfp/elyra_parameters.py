"""Reading stage: Elyra's own pipeline parameters (Elyra 3.14+, format 8) → ElyraParameter.

Owns: `app_data.properties.pipeline_parameters` entries (name, description, `default_value`
{type, value}, `value`, `required`) and the exact string each typed value becomes in a KFP v1
run parameter. Why separate: these are the pipeline's declared, typed parameters, read once per
document; node env vars (elyra_node) are untyped text read per node.
Must not: infer a type (the plan does that for env vars) or drop a refused parameter from the
model (nodes that use it would also be told it is undefined).
"""
from __future__ import annotations

import math
import re
from typing import Any

from .elyra_document import Findings
from .errors import shown
from .model import ElyraParameter, ParamType

_FITS = {ParamType.INTEGER: re.compile(r"-?[0-9]+"),
         ParamType.FLOAT: re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"),
         ParamType.BOOL: re.compile(r"True|False|true|false")}


def read_parameters(found: Findings, raw: Any) -> tuple[ElyraParameter, ...]:
    """The declared parameters in file order; a refused one stays, as an empty String."""
    if raw in (None, []):
        return ()
    where = "app_data.properties.pipeline_parameters"
    if not isinstance(raw, list):
        found.problem("must be a list", field_=where)
        return ()
    result = []
    for index, entry in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            found.problem("must be an object with name and default_value", field_=at)
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            found.problem("pipeline parameter has no name", field_=f"{at}.name")
            continue
        default = entry.get("default_value") or {}
        if not isinstance(default, dict):
            found.problem("default_value must be an object with type and value", field_=f"{at}.default_value")
            continue
        type_name = default.get("type", "String")
        description = entry.get("description") or ""
        description = description if isinstance(description, str) else ""
        # A parameter refused below still enters the model (as a String), so the nodes that
        # use it are not also told that it is undefined; load() raises the problem anyway.
        refused = ElyraParameter(name=name, type=ParamType.STRING, default="", description=description)
        # only a string is looked up: Enum's own error would repr a nested value (RecursionError)
        ptype = next((t for t in ParamType if t.value == type_name), None) if isinstance(type_name, str) else None
        if ptype is None:
            found.problem(f"parameter {name!r} has unknown type {shown(type_name)}",
                          hint="use String, Integer, Float or Bool", field_=f"{at}.default_value.type")
            result.append(refused)
            continue
        value = entry.get("value")
        if value is None or value == "":
            value = default.get("value")
        if (value is None or value == "") and entry.get("required"):
            found.problem(f"parameter {name!r} is required but has no value",
                          hint="give it a default value in the pipeline properties",
                          field_=f"{at}.default_value.value")
            result.append(refused)
            continue
        text = _typed_text(found, value, ptype, f"{at}.default_value.value")
        if text is None:
            result.append(refused)
            continue
        result.append(ElyraParameter(name=name, type=ptype, default=text, description=description))
    return tuple(result)


def _typed_text(found: Findings, value: Any, ptype: ParamType, at: str) -> str | None:
    """The exact string a typed Elyra value becomes (KFP v1 renders bools as True/False)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if ptype in (ParamType.BOOL, ParamType.STRING):
            return "True" if value else "False"
    elif isinstance(value, int):
        if ptype in (ParamType.INTEGER, ParamType.FLOAT, ParamType.STRING):
            return str(value)
    elif isinstance(value, float):
        if math.isfinite(value) and ptype in (ParamType.FLOAT, ParamType.STRING):
            return repr(value)
    elif isinstance(value, str):
        if ptype is ParamType.STRING or _FITS[ptype].fullmatch(value):
            return value
    found.problem(f"value {shown(value)} does not fit type {ptype.value}", field_=at)
    return None
