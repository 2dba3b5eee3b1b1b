"""The parameter plan: which run parameters a pipeline has, their types and defaults, who uses them.

Owns: the naming policy (one shared parameter per env name where all nodes agree on the default,
one per node where they differ, or a forced `scope`), type inference from the exact default
string, the task names the per-node parameters are named after, and the rules about the set as
a whole: no two parameters with one name, and the KFP 1.2 API server's 10,000-byte limit.
Must not: import kfp. The plan is plain data that tables, kfp_build and submit all read.
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Mapping

from . import naming
from .checks import argo_safe
from .errors import Location, PipelineError, Problem, UsageError, did_you_mean, shown
from .model import ParamType, Pipeline

Scope = Literal["auto", "node", "pipeline"]
SCOPES = ("auto", "node", "pipeline")
# KFP 1.2's API server refuses a workflow whose spec.arguments.parameters marshal to more than
# this many bytes (backend/src/common/util/consts.go MaxParameterBytes, template_util.go).
MAX_PARAMETER_BYTES = 10_000
logger = logging.getLogger("t3qkfp")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
# What an override may say for a typed parameter (what KFP's typed inputs accept): plain decimal
# text only, no spaces, no '_' digit separators, no inf/nan (Python's int()/float() take all).
_OVERRIDE_BOOL = {"true": True, "false": False}
_OVERRIDE_INTEGER = re.compile(r"[-+]?[0-9]+")
_OVERRIDE_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunParameter:
    """One KFP run parameter: what the dashboard lists under "Run parameters".

    `default` is the exact string of the file; `env_name` the env var it fills in each of
    `node_ids`; `scope` is "pipeline" for a shared parameter and "node" for a per-node one,
    `note` says why a parameter is per node.
    """

    name: str
    type: ParamType
    default: str
    env_name: str
    node_ids: tuple[str, ...]
    scope: str
    origin: str  # "env" (a node env var) or "elyra" (an Elyra pipeline parameter)
    description: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Binding:
    """Node `node_id` gets env var `env_name` from run parameter `param`."""

    node_id: str
    env_name: str
    param: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterPlan:
    """The run parameters (sorted by name), the env bindings per node, and the task names."""

    pipeline_name: str
    parameters: tuple[RunParameter, ...]
    bindings: tuple[Binding, ...]
    tasks: tuple[tuple[str, str], ...]  # (node id, task name) in file order
    scope: str
    # Look-up tables built once from the fields above: every stage asks per node, and a scan of
    # all bindings per node made compiling quadratic (7 s of 31 s at 2,000 nodes).
    _by_name: dict[str, RunParameter] = field(init=False, repr=False, compare=False)
    _task_of: dict[str, str] = field(init=False, repr=False, compare=False)
    _bindings_by_node: dict[str, tuple[Binding, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Binding]] = {}
        for binding in self.bindings:
            grouped.setdefault(binding.node_id, []).append(binding)
        object.__setattr__(self, "_by_name", {p.name: p for p in self.parameters})
        object.__setattr__(self, "_task_of", dict(self.tasks))
        object.__setattr__(self, "_bindings_by_node", {k: tuple(v) for k, v in grouped.items()})

    def parameter(self, name: str) -> RunParameter:
        """The parameter called `name` (KeyError if none)."""
        return self._by_name[name]

    def task(self, node_id: str) -> str:
        """The task (and template) name of a node."""
        return self._task_of[node_id]

    def bindings_of(self, node_id: str) -> tuple[Binding, ...]:
        """A node's env bindings, in the order its env vars were written."""
        return self._bindings_by_node.get(node_id, ())

    def argument_bytes(self) -> int:
        """Size of spec.arguments.parameters as the KFP 1.2 API server measures it."""
        return go_json_size([{"name": p.name, "value": p.default} for p in self.parameters])

    def _repr_html_(self) -> str:
        from .display import parameter_plan_html
        return parameter_plan_html(self)

    def __str__(self) -> str:
        from .display import parameter_plan_text
        return parameter_plan_text(self)

    def to_json(self) -> dict[str, object]:
        """A plain-JSON form for `t3qkfp params --json` and the golden plan files."""
        labels = dict(self.tasks)
        return {
            "pipeline": self.pipeline_name,
            "scope": self.scope,
            "argument_bytes": self.argument_bytes(),
            "parameters": [
                {"name": p.name, "type": p.type.value, "default": p.default, "env_var": p.env_name,
                 "scope": p.scope, "origin": p.origin, "tasks": [labels[n] for n in p.node_ids],
                 **({"description": p.description} if p.description else {}),
                 **({"note": p.note} if p.note else {})}
                for p in self.parameters],
            "tasks": [{"node_id": node_id, "task": task,
                       "env": {b.env_name: b.param for b in self.bindings_of(node_id)}}
                      for node_id, task in self.tasks],
        }


def infer_type(default: str) -> ParamType:
    """Integer / Float / Bool only where the default reads back as exactly the same text.

    `007`, `1e3`, `+1`, `.5`, `yes` stay String: a typed UI or client would rewrite them.
    """
    if _INTEGER.fullmatch(default):
        # '-0' would come back as '0'; beyond 64 bits a typed client cannot hold the number.
        return ParamType.INTEGER if default != "-0" and _fits_int64(default) else ParamType.STRING
    if default in ("True", "False", "true", "false"):
        return ParamType.BOOL
    try:
        number = float(default)
    except ValueError:
        return ParamType.STRING
    if math.isfinite(number) and repr(number) == default:
        return ParamType.FLOAT
    return ParamType.STRING


def _fits_int64(text: str) -> bool:
    """Whole-number text within 64 bits (length first: int() refuses over 4300 digits)."""
    return len(text.lstrip("+-")) <= 19 and -2**63 <= int(text) < 2**63


def go_json_size(value: object) -> int:
    """Bytes of Go's json.Marshal of `value`: UTF-8, with <, >, &, U+2028/9 escaped to 6 bytes.

    Python (ensure_ascii off) writes <, >, & as 1 byte (Go: 6, so 5 more) and U+2028/U+2029 raw
    as 3 UTF-8 bytes (Go: `\\u2028`, 6, so 3 more). It writes backspace and form feed as 2-byte
    escapes; the Go of KFP 1.2's server (< 1.22) writes them as 6-byte \\u0008 / \\u000c, so
    they count 4 bytes more. tests/test_go_json_size.py checks this against Go itself.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    extra = sum(text.count(ch) for ch in "<>&") * 5 + sum(text.count(ch) for ch in "\u2028\u2029") * 3
    extra += sum(s.count("\b") + s.count("\f") for s in _strings(value)) * 4
    return len(text.encode("utf-8", "surrogatepass")) + extra


def _strings(value: object) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


@dataclass(frozen=True, slots=True)
class _Use:
    node_id: str
    env_name: str
    default: str


def warn_trimmed_defaults(plan: ParameterPlan, source: str) -> None:
    """Warn about defaults with leading/trailing whitespace, naming their parameters.

    The KFP 1.0-1.2 dashboard trims every parameter value when a run is started from it
    (frontend NewRun.tsx), so such a default reaches the pod changed; the API, `t3qkfp submit`
    and the local runner keep it. A warning, not an error: the value is legal and may be meant.
    """
    padded = [p.name for p in plan.parameters if p.default != p.default.strip()]
    if padded:
        logger.warning("%s: run parameter%s %s %s leading or trailing whitespace in the default; the "
                       "KFP dashboard trims it when a run is started there (submit and the API keep it)",
                       source, "s" if len(padded) > 1 else "", ", ".join(repr(n) for n in padded),
                       "have" if len(padded) > 1 else "has")


def kubelet_mangles(text: str) -> bool:
    """True when the kubelet's `$(VAR)` expansion turns `text` into invalid UTF-8: a `$` (not
    itself escaped by `$$`) followed by a non-ASCII character, which Go reads as one byte."""
    i = 0
    while i < len(text) - 1:
        if text[i] == "$":
            if ord(text[i + 1]) > 127:
                return True
            if text[i + 1] in "$":
                i += 2
                continue
            if text[i + 1] == "(":
                close = text.find(")", i + 2)
                i = close + 1 if close >= 0 else i + 2
                continue
        i += 1
    return False


def warn_kubelet_mangled(plan: ParameterPlan, source: str) -> None:
    """Warn about defaults the kubelet would turn into invalid UTF-8 (`5$€`); Kubernetes 1.34
    then refuses the pod, older ones pass the broken bytes on. The local runner shows the same."""
    mangled = [p.name for p in plan.parameters if kubelet_mangles(p.default)]
    if mangled:
        logger.warning("%s: run parameter%s %s: a '$' followed by a non-ASCII character in the default becomes "
                       "invalid UTF-8 in the pod (the kubelet's $(VAR) expansion works on bytes); write '$$' "
                       "for a literal '$'", source, "s" if len(mangled) > 1 else "",
                       ", ".join(repr(n) for n in mangled))


def plan(pipeline: Pipeline, *, scope: str = "auto") -> ParameterPlan:
    """Decide every run parameter of a validated pipeline; PipelineError for conflicts and limits."""
    if scope not in SCOPES:
        raise UsageError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    k8s_name = naming.pipeline_name(pipeline.name)
    tasks = naming.task_names([(n.id, n.label) for n in pipeline.nodes], reserved={k8s_name})
    labels = {n.id: n.label for n in pipeline.nodes}
    problems: list[Problem] = []
    params: list[RunParameter] = []
    bindings: list[Binding] = []

    elyra = {p.name: p for p in pipeline.parameters}
    for parameter in pipeline.parameters:
        users = tuple(n.id for n in pipeline.nodes if parameter.name in n.pipeline_parameters)
        if not users:
            # As in Elyra, a parameter no node receives is not rendered (it could change nothing).
            logger.warning("%s: pipeline parameter %r is not used by any node; it is not a run parameter",
                           pipeline.source, parameter.name)
            continue
        params.append(RunParameter(name=parameter.name, type=parameter.type, default=parameter.default,
                                   env_name=parameter.name, node_ids=users, scope="pipeline",
                                   origin="elyra", description=parameter.description))

    chosen: dict[tuple[str, str], str] = {}
    uses: dict[str, list[_Use]] = {}
    for node in pipeline.nodes:
        for env in node.env:
            uses.setdefault(env.name, []).append(_Use(node.id, env.name, env.value))
    for env_name, group in uses.items():
        defaults = {use.default for use in group}
        shared_name = naming.param_name_for_env(env_name)
        taken = shared_name in elyra
        if scope == "pipeline" and (len(defaults) > 1 or taken):
            detail = ", ".join(f"'{labels[u.node_id]}' = {u.default!r}" for u in group)
            why = (f"an Elyra pipeline parameter is already called {shared_name!r}" if taken
                   else f"its defaults differ: {detail}")
            problems.append(Problem(location=Location(file=pipeline.source, field=f"env var {env_name}"),
                                    message=f"scope 'pipeline' needs one shared run parameter {shared_name!r}, but {why}",
                                    hint="make the defaults equal, or use scope 'auto' or 'node'"))
            continue
        if scope == "pipeline" or (scope == "auto" and len(defaults) == 1 and not taken):
            node_ids = tuple(u.node_id for u in group)
            params.append(RunParameter(name=shared_name, type=infer_type(group[0].default),
                                       default=group[0].default, env_name=env_name, node_ids=node_ids,
                                       scope="pipeline", origin="env"))
            chosen.update({(u.node_id, env_name): shared_name for u in group})
            continue
        note = ("forced per node" if scope == "node" else
                "name taken by an Elyra pipeline parameter" if taken else
                f"defaults differ between {len(group)} nodes")
        for use in group:
            name = naming.node_param_name(tasks[use.node_id], env_name)
            params.append(RunParameter(name=name, type=infer_type(use.default), default=use.default,
                                       env_name=env_name, node_ids=(use.node_id,), scope="node",
                                       origin="env", note=note))
            chosen[(use.node_id, env_name)] = name
    # Bindings in file order (node by node, env vars as written), so containers list their env
    # vars in the order the user wrote them.
    for node in pipeline.nodes:
        bindings.extend(Binding(node_id=node.id, env_name=e.name, param=chosen[(node.id, e.name)])
                        for e in node.env if (node.id, e.name) in chosen)
        bindings.extend(Binding(node_id=node.id, env_name=name, param=name)
                        for name in node.pipeline_parameters if name in elyra)

    problems.extend(_too_long(pipeline, params, labels))
    problems.extend(_collisions(pipeline, params, labels))
    params.sort(key=lambda p: p.name)
    result = ParameterPlan(pipeline_name=k8s_name, parameters=tuple(params), bindings=tuple(bindings),
                           tasks=tuple((n.id, tasks[n.id]) for n in pipeline.nodes), scope=scope)
    if not problems:
        problems.extend(_size(pipeline, result, labels))
    if problems:
        raise PipelineError(problems)
    return result


def _too_long(pipeline: Pipeline, params: list[RunParameter], labels: dict[str, str]) -> list[Problem]:
    """Env names are checked on their own; a prefix ('P', the node's name) can still push one past
    what kfp.Client and Argo keep unchanged."""
    return [Problem(location=Location(file=pipeline.source, node_id=p.node_ids[0] if len(p.node_ids) == 1 else None,
                                      node_label=labels[p.node_ids[0]] if len(p.node_ids) == 1 else None,
                                      field=f"env var {p.env_name}"),
                    message=f"its run parameter would be called {p.name!r}, longer than the "
                            f"{naming.PARAM_NAME_MAX} characters a run parameter name may have",
                    hint="shorten the env var name" + ("; or give the nodes the same default so they share one "
                                                       "parameter" if p.scope == "node" else ""))
            for p in params if p.origin == "env" and not naming.is_param_name(p.name)]


def _collisions(pipeline: Pipeline, params: list[RunParameter], labels: dict[str, str]) -> list[Problem]:
    by_name: dict[str, list[RunParameter]] = {}
    for parameter in params:
        by_name.setdefault(parameter.name, []).append(parameter)
    problems = []
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        sources = "; ".join(
            (f"Elyra pipeline parameter {p.env_name!r}" if p.origin == "elyra" else
             f"env var {p.env_name!r} of " + ", ".join(f"'{labels[n]}'" for n in p.node_ids))
            for p in group)
        problems.append(Problem(location=Location(file=pipeline.source, field=f"run parameter {name}"),
                                message=f"{len(group)} run parameters would be called {name!r}: {sources}",
                                hint="rename one of the env vars or nodes"))
    return problems


def _size(pipeline: Pipeline, result: ParameterPlan, labels: dict[str, str]) -> list[Problem]:
    size = result.argument_bytes()
    if size <= MAX_PARAMETER_BYTES:
        return []
    biggest = sorted(result.parameters, key=lambda p: -go_json_size({"name": p.name, "value": p.default}))[:5]
    listed = ", ".join(f"{p.name} ({go_json_size({'name': p.name, 'value': p.default})} bytes)" for p in biggest)
    return [Problem(location=Location(file=pipeline.source, field="run parameters"),
                    message=f"the run parameters take {size} bytes, more than the {MAX_PARAMETER_BYTES} "
                            f"the KFP 1.2 API server accepts; biggest: {listed}",
                    hint="shorten long defaults, or give nodes the same defaults so they share parameters")]


def check_names(names: set[str], given: Iterable[str]) -> None:
    """UsageError for the first name that is not a run parameter, with the likely one and all."""
    for name in given:
        if name not in names:
            valid = ", ".join(sorted(names)) or "(none)"
            raise UsageError(f"unknown run parameter {name!r}.{did_you_mean(name, names)} "
                             f"Valid run parameters: {valid}")


def check_overrides(plan: ParameterPlan, params: Mapping[str, Any] | None) -> dict[str, str]:
    """Overrides as the exact strings to send, checked against the plan; UsageError otherwise.

    An unknown name lists the valid ones; a value that does not fit an Integer/Float/Bool
    parameter names the parameter and its type; a value Argo cannot carry (check_override_value)
    is refused. Python bools become the spelling of the parameter's default ("True"/"true"), so
    code comparing the env var keeps working. The one check for `submit`, `run --local` and
    sweeps: a green local run means the same overrides start on KFP.
    """
    if not params:
        return {}
    if not isinstance(params, Mapping):
        raise UsageError(f"run parameters must be a mapping of name to value such as "
                         f"{{'EPOCHS': 3}}, not {type(params).__name__}")
    for name in params:
        if not isinstance(name, str):
            raise UsageError(f"run parameter names must be str, not {type(name).__name__} ({shown(name)})")
    known = {p.name: p for p in plan.parameters}
    check_names(set(known), params)
    values = {name: _fit(known[name], value) for name, value in params.items()}
    for name, text in values.items():
        check_override_value(name, text)
    return values


def check_override_value(name: str, text: str) -> None:
    """UsageError for an override Argo 2.7 cannot carry into the containers (checks.argo_safe).

    Argo substitutes run parameters into the workflow as text: `{{workflow.name}}` in a value
    would be expanded, `a}}b` breaks the template, control characters break its JSON round trip.
    The KFP server accepts all of them and the run then fails or runs with another value, so
    they are refused before anything is sent. Used by check_overrides (with a plan) and by the
    local runner for a compiled workflow given without its pipeline.
    """
    problem = argo_safe(text)
    if problem:
        raise UsageError(f"value of run parameter {name!r} {problem}")


def _fit(param: RunParameter, value: Any) -> str:
    kind = ParamType(param.type)
    type_name = kind.value

    def bad(why: str = "") -> UsageError:
        return UsageError(f"run parameter {param.name!r} is {type_name}: {shown(value)} does not fit{why}")

    if isinstance(value, bool):
        if kind is ParamType.BOOL:
            default = str(param.default)
            return str(value).lower() if default.islower() else str(value)
        if kind is not ParamType.STRING:
            raise bad()
        return str(value)
    if isinstance(value, (int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise UsageError(f"run parameter {param.name!r}: values must be str, int, float or bool, "
                         f"not {type(value).__name__}")
    if kind is ParamType.INTEGER and not _OVERRIDE_INTEGER.fullmatch(text):
        raise bad(" (expected a whole number such as 42)")
    if kind is ParamType.INTEGER and not _fits_int64(text):
        raise bad(" (a whole number of at most 64 bits, as a typed client holds it)")
    if kind is ParamType.FLOAT:
        if not _OVERRIDE_FLOAT.fullmatch(text):
            raise bad(" (expected a number such as 0.5 or 1e-3)")
        if not math.isfinite(float(text)):
            raise bad(" (expected a finite number)")
    if kind is ParamType.BOOL and text.lower() not in _OVERRIDE_BOOL:
        raise bad(" (expected true or false)")
    return text


def parse_assignments(pairs: Iterable[str], *, expected: str = "NAME=VALUE") -> dict[str, str]:
    """`-p NAME=VALUE` options as a mapping, split at the first '='.

    One reader for `run`, `submit` and `sweep`: a name given twice is a mistake rather than
    a silent last-one-wins, and every command says the same about it.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-p {pair!r}: expected {expected}")
        if name in values:
            raise UsageError(f"-p {name}: given twice")
        values[name] = value
    return values
