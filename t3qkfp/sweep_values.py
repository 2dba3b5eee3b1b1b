"""The values of a sweep and its combinations, every one checked against the plan.

Owns: reading a sweep's values (lists `a,b,c`, inclusive ranges `start:stop:step` for Integer and
Float parameters, Python lists), the grid of a CLI's `-p NAME=VALUES` or a Python mapping, and
the combinations to run (the full grid, or `random` distinct ones drawn with a seed), each one
checked by `params.check_overrides` exactly as submit and run check theirs.
Why separate from the runners: choosing and checking what a sweep will run needs only the plan,
so the CLI refuses a bad grid before it loads kfp or connects anywhere.
Must not: run anything, or accept a value the plan would refuse.
"""
from __future__ import annotations

import decimal
import itertools
import math
import random as _random
import re
from typing import Any, Iterable, Mapping, Sequence

from .errors import UsageError
from .model import ParamType
from .params import ParameterPlan, check_names, check_overrides, parse_assignments

DEFAULT_MAX_RUNS = 100
_RANGE = re.compile(r"([^:]+):([^:]+):([^:]+)")


def parse_values(param_type: ParamType, text: str, *, name: str) -> list[str]:
    """The values one `-p NAME=...` means: `start:stop:step` (Integer/Float, stop included) or `a,b,c`.

    A range is computed in decimal so `0.1:0.5:0.1` gives 0.1 0.2 0.3 0.4 0.5 (no 0.30000000000000004).
    """
    match = _RANGE.fullmatch(text.strip())
    kind = ParamType(param_type)
    if match and kind in (ParamType.INTEGER, ParamType.FLOAT):
        try:
            start, stop, step = (decimal.Decimal(part.strip()) for part in match.groups())
        except decimal.InvalidOperation:
            raise UsageError(f"-p {name}={text}: a range is start:stop:step with numbers") from None
        if not all(v.is_finite() for v in (start, stop, step)) or step <= 0:
            raise UsageError(f"-p {name}={text}: the step of a range must be a number above 0")
        if kind is ParamType.INTEGER and any(v != v.to_integral_value() for v in (start, stop, step)):
            raise UsageError(f"-p {name}={text}: {name} is Integer, so start, stop and step must be whole numbers")
        if stop < start:
            raise UsageError(f"-p {name}={text}: the range is empty (stop is below start)")
        count = int((stop - start) / step) + 1
        if count > 10_000:
            raise UsageError(f"-p {name}={text}: the range has {count} values; choose a larger step")
        values = [start + i * step for i in range(count)]
        if kind is ParamType.INTEGER:
            return [str(int(v)) for v in values]
        return [_decimal_text(v) for v in values]
    values = [part.strip() for part in text.split(",")] if kind is not ParamType.STRING else text.split(",")
    if not text or any(v == "" for v in values) and kind is not ParamType.STRING:
        raise UsageError(f"-p {name}={text!r}: give values separated by commas (a,b,c)"
                         + (" or a range start:stop:step" if kind in (ParamType.INTEGER, ParamType.FLOAT) else ""))
    return values


def _decimal_text(value: decimal.Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text or "e" in text.lower() else text + ".0"


def grid_from_options(plan: ParameterPlan, pairs: Iterable[str]) -> dict[str, list[str]]:
    """`NAME=VALUES` options (CLI) as a grid; unknown names fail here, listing the valid ones."""
    raw = parse_assignments(pairs, expected="NAME=VALUES (a,b,c or start:stop:step)")
    check_names({p.name for p in plan.parameters}, raw)
    return {name: parse_values(plan.parameter(name).type, text, name=name) for name, text in raw.items()}


def normalize_grid(plan: ParameterPlan, grid: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """A Python grid ({"LR": [0.1, 0.01], "EPOCHS": "1:5:1"}) as lists of values per parameter."""
    if not grid:
        raise UsageError("a sweep needs at least one parameter with values, e.g. grid={'LR': [0.1, 0.01]}")
    if not isinstance(grid, Mapping):
        raise UsageError(f"grid must be a mapping of run parameter name to values, not {type(grid).__name__}")
    for name in grid:
        if not isinstance(name, str):
            raise UsageError(f"grid names must be str, not {type(name).__name__} ({name!r})")
    check_names({p.name for p in plan.parameters}, grid)
    result: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if isinstance(values, str):
            result[name] = parse_values(plan.parameter(name).type, values, name=name)
        elif isinstance(values, (list, tuple, range)) and len(values) > 0:
            result[name] = list(values)
        else:
            raise UsageError(f"grid[{name!r}] must be a non-empty list of values or a string "
                             f"'a,b,c' / 'start:stop:step', not {values!r}")
    return result


def combinations(plan: ParameterPlan, grid: Mapping[str, Sequence[Any]], *, random: int | None = None,
                 seed: int | None = None, max_runs: int | None = DEFAULT_MAX_RUNS) -> list[dict[str, str]]:
    """Every combination to run, each checked against the plan (UsageError names the first misfit).

    The full grid in the order given (the last parameter varies fastest), or `random` distinct
    combinations drawn from it with `seed` (reproducible). More than `max_runs` is refused up
    front rather than silently cut: a sweep's size should be a decision.
    """
    if random is not None and (isinstance(random, bool) or not isinstance(random, int) or random < 1):
        raise UsageError(f"random must be a whole number of runs, 1 or more, not {random!r}")
    if max_runs is not None and (isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1):
        raise UsageError(f"max_runs must be a whole number, 1 or more, not {max_runs!r}")
    if seed is not None and random is None:
        raise UsageError("a seed chooses random combinations: --seed needs --random N")
    names = list(grid)
    # Each value is checked once, naming the parameter and value; then each combination again,
    # so what is sent is exactly what check_overrides (also used by submit/run) accepts.
    checked = {name: [check_overrides(plan, {name: value})[name] for value in grid[name]] for name in names}
    for name, values in checked.items():
        seen = set()
        for value in values:
            if value in seen:
                raise UsageError(f"-p {name}: value {value!r} is given twice")
            seen.add(value)
    size = math.prod(len(v) for v in checked.values())
    if random is not None and random < size:
        chosen = sorted(_random.Random(seed).sample(range(size), random))
        combos = [_nth(checked, names, index) for index in chosen]
    else:
        combos = [dict(zip(names, values)) for values in itertools.product(*(checked[n] for n in names))]
    if max_runs is not None and len(combos) > max_runs:
        raise UsageError(f"the sweep has {len(combos)} combinations, more than max runs {max_runs}; "
                         f"raise --max-runs or draw some with --random N")
    return [check_overrides(plan, combo) for combo in combos]


def _nth(checked: Mapping[str, list[str]], names: list[str], index: int) -> dict[str, str]:
    """The index-th combination of the grid in itertools.product order."""
    values: dict[str, str] = {}
    for name in reversed(names):
        index, position = divmod(index, len(checked[name]))
        values[name] = checked[name][position]
    return {name: values[name] for name in names}
