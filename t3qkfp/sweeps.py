"""Sweeps: many runs of one pipeline over combinations of run-parameter values, compared by metrics.

Owns: reading a sweep's values (lists `a,b,c`, inclusive ranges `start:stop:step` for Integer and
Float parameters, Python lists), making the combinations (the full grid, or `random` distinct ones
drawn with a seed), checking every combination against the plan before anything runs, running
them (locally through `local.run_local`, at most `parallel` at a time; or on KFP: one pipeline
version, one experiment, one run per combination with only its overrides), collecting each
run's metrics, and the comparison (`SweepResult`: table, best, CSV/JSON, HTML and a plot).
Why a failed combination is a row and not an exception: a sweep is a comparison; one bad
value must not hide the other results.
Must not: import kfp or matplotlib at module level (`import t3qkfp` stays fast); print (progress
goes to a callback or stream the caller chose).
"""
from __future__ import annotations

import csv
import decimal
import io
import itertools
import json
import math
import os
import random as _random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import RunError, SubmitError, T3qkfpError, UsageError
from .model import ParamType
from .params import ParameterPlan, check_names, check_overrides, parse_assignments

DEFAULT_MAX_RUNS = 100
_RANGE = re.compile(r"([^:]+):([^:]+):([^:]+)")
METRICS_FILE = "mlpipeline-metrics.json"
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---- the values ----------------------------------------------------------------------------
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


# ---- the result ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRun:
    """One combination: its overrides, how it ended, and the metrics its nodes reported."""

    index: int
    parameters: tuple[tuple[str, str], ...]
    status: str                      # succeeded | failed | error | running | pending | started | not started | unknown
    run_id: str = ""
    metrics: tuple[tuple[str, float], ...] = ()
    error: str = ""
    url: str = ""
    folder: str = ""

    def metric(self, name: str) -> float | None:
        return dict(self.metrics).get(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """The comparison of a sweep: one row per combination, failed ones included."""

    name: str
    swept: tuple[str, ...]
    runs: tuple[SweepRun, ...]
    target: str = "local"            # "local" or the KFP host
    experiment: str = ""
    version_id: str = ""
    interrupted: bool = False

    @property
    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for run in self.runs:
            for name, _ in run.metrics:
                names.setdefault(name)
        return list(names)

    def table(self, sort: str | None = None, *, descending: bool = False) -> list[dict[str, Any]]:
        """Rows of run id, status, swept parameters and every metric; sorted by a metric if asked.

        Rows without the sort metric (failed runs) come last in either direction.
        """
        rows = list(self.runs)
        if sort is not None:
            if sort not in self.metric_names:
                known = ", ".join(self.metric_names) or "none (no run reported metrics)"
                raise UsageError(f"no metric {sort!r} in this sweep; metrics: {known}")
            present = [r for r in rows if r.metric(sort) is not None]
            absent = [r for r in rows if r.metric(sort) is None]
            rows = sorted(present, key=lambda r: r.metric(sort), reverse=descending) + absent  # type: ignore[arg-type, return-value]
        out = []
        for run in rows:
            row: dict[str, Any] = {"run": run.index, "run_id": run.run_id, "status": run.status}
            row.update(dict(run.parameters))
            for name in self.metric_names:
                row[name] = run.metric(name)
            row["error"] = run.error
            out.append(row)
        return out

    def best(self, metric: str, *, maximize: bool = True) -> SweepRun:
        """The run with the highest (or, maximize=False, lowest) value of `metric`."""
        rows = [r for r in self.runs if r.metric(metric) is not None]
        if not rows:
            self.table(metric)  # names the metrics there are, if this one is unknown
            raise UsageError(f"no run of this sweep reported metric {metric!r}")
        pick = max if maximize else min
        return pick(rows, key=lambda r: r.metric(metric))  # type: ignore[arg-type, return-value]

    def columns(self) -> list[str]:
        return ["run", "run_id", "status", *self.swept, *self.metric_names, "error"]

    def to_csv(self, path: str | os.PathLike[str] | None = None, *, sort: str | None = None,
               descending: bool = False) -> str:
        """The table as CSV text (also written to `path` if given)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns(), lineterminator="\n")
        writer.writeheader()
        for row in self.table(sort, descending=descending):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_json(self, path: str | os.PathLike[str] | None = None, *, sort: str | None = None,
                descending: bool = False) -> dict[str, Any]:
        """The sweep as plain JSON (also written to `path` if given)."""
        data = {"sweep": self.name, "target": self.target, "experiment": self.experiment,
                "version_id": self.version_id, "swept": list(self.swept),
                "metrics": self.metric_names, "interrupted": self.interrupted,
                "runs": self.table(sort, descending=descending)}
        if path is not None:
            Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return data

    def text(self, sort: str | None = None, *, descending: bool = False) -> str:
        """The table as aligned text (what `t3qkfp sweep` prints)."""
        columns = [c for c in self.columns() if c != "error" or any(r.error for r in self.runs)]
        rows = [[_cell(row.get(c)) for c in columns] for row in self.table(sort, descending=descending)]
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
        lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        """Jupyter: the table, then a plot of the first metric against the first swept parameter."""
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns())
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in self.columns())
                       + "</tr>" for row in self.table())
        parts = [f"<p><b>sweep {html.escape(self.name)}</b>: {len(self.runs)} runs on "
                 f"{html.escape(self.target)}</p>", f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"]
        if self.metric_names and self.swept:
            try:
                parts.append(self.plot_html(self.metric_names[0], self.swept[0]))
            except ImportError:  # matplotlib is optional (the `notebooks` extra): the table alone
                pass
        return "\n".join(parts)

    def plot(self, metric: str, parameter: str | None = None, *, ax: Any = None) -> Any:
        """A matplotlib Axes: `metric` against one swept `parameter` (one line per other value set)."""
        if ax is None:
            from matplotlib.figure import Figure
            ax = Figure(figsize=(5, 3.2)).add_subplot()
        parameter = parameter or (self.swept[0] if self.swept else None)
        if parameter not in self.swept:
            raise UsageError(f"{parameter!r} is not a swept parameter; swept: {', '.join(self.swept)}")
        self.table(metric)  # an unknown metric is a UsageError naming the known ones
        others = [p for p in self.swept if p != parameter]
        groups: dict[tuple[tuple[str, str], ...], list[tuple[float | str, float]]] = {}
        for run in self.runs:
            value = run.metric(metric)
            if value is None:
                continue
            params = dict(run.parameters)
            key = tuple((p, params[p]) for p in others)
            groups.setdefault(key, []).append((_number(params[parameter]), value))
        for key, points in groups.items():
            points.sort(key=lambda p: (isinstance(p[0], str), p[0]))
            label = ", ".join(f"{k}={v}" for k, v in key) or None
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        ax.set_xlabel(parameter)
        ax.set_ylabel(metric)
        ax.set_title(f"{self.name}: {metric} by {parameter}")
        if others and groups:
            ax.legend(fontsize="small")
        return ax

    def plot_html(self, metric: str, parameter: str) -> str:
        """The plot as an inline PNG <img> (for the HTML view)."""
        import base64

        from matplotlib.figure import Figure

        figure = Figure(figsize=(5, 3.2))
        ax = figure.add_subplot()
        self.plot(metric, parameter, ax=ax)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        return f'<img alt="{metric} by {parameter}" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"/>'


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# ---- metrics -------------------------------------------------------------------------------
def read_metrics_file(path: Path) -> list[tuple[str, float]]:
    """The (name, value) pairs of one KFP metrics file; anything unreadable is left out."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    pairs = []
    for item in (data.get("metrics") if isinstance(data, dict) else None) or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        value = item.get("numberValue")
        if isinstance(value, bool):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            pairs.append((item["name"], number))
    return pairs


def merge_metrics(per_node: Iterable[tuple[str, Iterable[tuple[str, float]]]]) -> tuple[tuple[str, float], ...]:
    """Metrics of all nodes: by name, or `node/name` where two nodes report one name."""
    listed = [(node, list(pairs)) for node, pairs in per_node]
    counts: dict[str, int] = {}
    for _, pairs in listed:
        for name in {n for n, _ in pairs}:
            counts[name] = counts.get(name, 0) + 1
    merged: dict[str, float] = {}
    for node, pairs in listed:
        for name, value in pairs:
            merged.setdefault(name if counts[name] == 1 else f"{node}/{name}", value)
    return tuple(merged.items())


# ---- running locally -----------------------------------------------------------------------
def sweep_local(pipeline_json: Any, grid: Mapping[str, Any], *, random: int | None = None,
                seed: int | None = None, max_runs: int | None = DEFAULT_MAX_RUNS, parallel: int = 1,
                workdir: str | os.PathLike[str] | None = None, base_dir: str | os.PathLike[str] | None = None,
                root_dir: str | os.PathLike[str] | None = None,
                scope: str = "auto", name: str | None = None,
                on_progress: Callable[[str], None] | None = None,
                stop: threading.Event | None = None) -> SweepResult:
    """Run every combination here (local runner), at most `parallel` at a time, and compare them.

    Each run has its own folder under `workdir` (default: a new temporary folder) and writes
    its node output to `<workdir>/run-<n>.log`. Each run has its own private S3 server, as
    `run_local` starts one: moto's server is not safe for concurrent PUTs of one key, and the
    runs of a sweep upload the same content-addressed archives at once.
    Setting `stop` stops launching; runs not started are rows with status "not started".
    """
    from .elyra_reader import load
    from .local import run_local
    from .params import plan as make_plan

    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise UsageError(f"parallel must be a whole number, 1 or more, not {parallel!r}")
    pipeline = load(pipeline_json, base_dir=base_dir, root_dir=root_dir)
    the_plan = make_plan(pipeline, scope=scope)
    combos = combinations(the_plan, normalize_grid(the_plan, grid), random=random, seed=seed, max_runs=max_runs)
    root = Path(workdir) if workdir is not None else Path(__import__("tempfile").mkdtemp(prefix="t3qkfp-sweep-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"workdir {str(root)!r} cannot be used: {exc.strerror or exc}") from None
    report = on_progress or (lambda line: None)
    stop = stop or threading.Event()
    progress = _Progress(len(combos), report)
    results: list[SweepRun | None] = [None] * len(combos)

    def one(index: int, overrides: dict[str, str]) -> SweepRun:
        base = SweepRun(index=index + 1, parameters=tuple(overrides.items()), status="not started")
        if stop.is_set():
            return base
        progress.started()
        log_path = root / f"run-{index + 1}.log"
        with open(log_path, "w", encoding="utf-8") as log:
            try:
                run = run_local(pipeline, params=overrides, workdir=root, scope=scope, out=log)
            except RunError as exc:
                progress.ended(False)
                found = _RUN_ID.search(str(exc))
                run_id = found.group(0) if found else ""
                return replace(base, status="failed", run_id=run_id, error=_first_line(str(exc)),
                               folder=str(root / run_id) if run_id else str(log_path))
            except T3qkfpError as exc:
                progress.ended(False)
                return replace(base, status="error", error=_first_line(str(exc)), folder=str(log_path))
        metrics = merge_metrics(
            (node.task, read_metrics_file(run.workdir / "nodes" / node.task / "metadata" / METRICS_FILE))
            for node in run.nodes)
        progress.ended(run.succeeded)
        return replace(base, status="succeeded" if run.succeeded else "failed", run_id=run.run_id,
                       metrics=metrics, folder=str(run.workdir))

    interrupted = False
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="t3qkfp-sweep") as pool:
        futures = [pool.submit(one, i, c) for i, c in enumerate(combos)]
        try:
            for i, future in enumerate(futures):
                results[i] = future.result()
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for future in futures:
                future.cancel()
            for i, future in enumerate(futures):
                if not future.cancelled():
                    results[i] = future.result()
    rows = tuple(r if r is not None else SweepRun(index=i + 1, parameters=tuple(combos[i].items()),
                                                     status="not started")
                 for i, r in enumerate(results))
    return SweepResult(name=name or pipeline.name, swept=tuple(combos[0]) if combos else (), runs=rows,
                       target="local", interrupted=interrupted or stop.is_set())


class _Progress:
    """One progress line for the whole sweep: done/running/failed of the total."""

    def __init__(self, total: int, report: Callable[[str], None]):
        self.total, self.report = total, report
        self.running = self.done = self.failed = 0
        self._lock = threading.Lock()

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._say()

    def ended(self, ok: bool) -> None:
        with self._lock:
            self.running -= 1
            self.done += 1
            self.failed += 0 if ok else 1
            self._say()

    def set(self, *, done: int, running: int, failed: int) -> None:
        with self._lock:
            if (done, running, failed) != (self.done, self.running, self.failed):
                self.done, self.running, self.failed = done, running, failed
                self._say()

    def _say(self) -> None:
        self.report(f"sweep: {self.done}/{self.total} done, {self.running} running, {self.failed} failed")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# ---- running on KFP ------------------------------------------------------------------------
def sweep(pipeline_json: Any, grid: Mapping[str, Any], *, host: str, random: int | None = None,
          seed: int | None = None, max_runs: int | None = DEFAULT_MAX_RUNS, parallel: int | None = None,
          wait: bool = False, experiment: str | None = None, name: str | None = None,
          pipeline_name: str | None = None, namespace: str | None = None, auth: Any = None,
          storage: Any = None, base_dir: str | os.PathLike[str] | None = None,
          root_dir: str | os.PathLike[str] | None = None, upload_files: bool = True,
          timeout: float | None = None, request_timeout: float = 30.0, poll_interval: float = 5.0,
          on_progress: Callable[[str], None] | None = None,
          on_started: Callable[[SweepRun], None] | None = None) -> SweepResult:
    """Start one KFP run per combination: one pipeline version, one experiment named after the sweep.

    Each run gets only its own overrides (the other parameters keep their defaults). With
    `parallel`, at most that many of the sweep's runs are active at once (launching waits for
    one to end); `wait` follows all runs to their end and collects each run's metrics from the
    KFP run details (what KFP 1.2 reads from the nodes' metrics files). A run that could not be
    started or failed is a row with its status and error. Ctrl-C stops launching; the result
    (interrupted=True) lists the runs already on the server.
    """
    from .compiler import compile_pipeline
    from .kfp_auth import ENV_NAMESPACE, KfpAuth, normalize_host
    from .kfp_client import quiet_kfp
    from .kfp_publish import MAX_NAME_LENGTH, check_arguments, publish

    if parallel is not None and (isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1):
        raise UsageError(f"parallel must be a whole number, 1 or more, not {parallel!r}")
    check_arguments(host=host, auth=auth, experiment=experiment, run_name=name,
                    pipeline_name=pipeline_name, namespace=namespace, schedule=None,
                    timeout=timeout, request_timeout=request_timeout, poll_interval=poll_interval)
    if timeout is not None and not wait:
        raise UsageError("a timeout applies to following the runs: --timeout needs --wait (wait=True)")
    host = normalize_host(host)
    auth = auth if auth is not None else KfpAuth.resolve()
    auth.check()
    namespace = namespace or os.environ.get(ENV_NAMESPACE) or None
    report = on_progress or (lambda line: None)
    compiled = compile_pipeline(pipeline_json, base_dir=base_dir, root_dir=root_dir, storage=storage, deterministic=True)
    combos = combinations(compiled.plan, normalize_grid(compiled.plan, grid), random=random, seed=seed,
                          max_runs=max_runs)
    pipe_name = pipeline_name or compiled.pipeline.name
    if not pipe_name or len(pipe_name) > MAX_NAME_LENGTH:
        raise UsageError(f"pipeline name {pipe_name!r} must be 1 to {MAX_NAME_LENGTH} characters; "
                         "choose one with --pipeline-name")
    import datetime as _dt

    now = _dt.datetime.now(_dt.timezone.utc)
    sweep_name = name or f"{pipe_name} sweep {now:%Y-%m-%d %H-%M-%S}"
    experiment_name = experiment or sweep_name
    rows: list[SweepRun] = [SweepRun(index=i + 1, parameters=tuple(c.items()), status="not started")
                            for i, c in enumerate(combos)]
    progress = _Progress(len(combos), report)
    interrupted = False
    version_id = ""

    with quiet_kfp():
        published = publish(compiled, host=host, auth=auth, request_timeout=request_timeout, name=pipe_name,
                            now=now, experiment=experiment_name, namespace=namespace,
                            upload_files=upload_files, report=report)
        session, client, version_id = published.connection, published.connection.client, published.version_id
        active: set[int] = set()
        try:
            for i, overrides in enumerate(combos):
                while parallel is not None and len(active) >= parallel:
                    _poll(session, client, rows, active, progress, collect=wait)
                    if active and len(active) >= parallel:
                        time.sleep(poll_interval)
                title = f"{sweep_name} #{i + 1}"
                try:
                    run_id = published.start_run("starting a run", title, overrides)
                except SubmitError as exc:
                    rows[i] = replace(rows[i], status="not started", error=str(exc))
                    progress.set(done=progress.done + 1, running=progress.running, failed=progress.failed + 1)
                    continue
                rows[i] = replace(rows[i], run_id=run_id, status="started", url=f"{host}/#/runs/details/{run_id}")
                active.add(i)
                progress.set(done=progress.done, running=len(active), failed=progress.failed)
                if on_started:
                    on_started(rows[i])
            # The timeout counts from here: following the runs, as `submit --timeout` does.
            deadline = None if timeout is None else time.monotonic() + timeout
            while wait and active:
                _poll(session, client, rows, active, progress, collect=True)
                if not active or (deadline is not None and time.monotonic() >= deadline):
                    break
                time.sleep(poll_interval if deadline is None
                           else max(0.0, min(poll_interval, deadline - time.monotonic())))
        except KeyboardInterrupt:
            interrupted = True
    return SweepResult(name=sweep_name, swept=tuple(combos[0]) if combos else (), runs=tuple(rows),
                       target=host, experiment=experiment_name, version_id=version_id, interrupted=interrupted)


def _poll(session: Any, client: Any, rows: list[SweepRun], active: set[int], progress: _Progress, *,
          collect: bool) -> None:
    """One status check of every active run; ended runs leave `active` with their metrics."""
    from .kfp_follow import TERMINAL

    for i in sorted(active):
        try:
            detail = session.call("following a run", client.get_run, rows[i].run_id)
            run = session.need("following a run", detail, "run", f"the run {rows[i].run_id}")
        except SubmitError as exc:
            rows[i] = replace(rows[i], status="unknown", error=str(exc))
            active.discard(i)
            continue
        status = (run.status or "Pending")
        rows[i] = replace(rows[i], status=status.lower())  # as the local rows: succeeded, failed, running
        if status.lower() in TERMINAL:
            active.discard(i)
            rows[i] = replace(rows[i], metrics=_dedupe_kfp(run.metrics or []) if collect else (),
                              error="" if status.lower() == "succeeded" else (run.error or ""))
    done = sum(1 for r in rows if r.status in TERMINAL or r.status in ("unknown",) or
               (r.status == "not started" and r.error))
    failed = sum(1 for r in rows if (r.status in TERMINAL and r.status != "succeeded") or r.status == "unknown"
                 or (r.status == "not started" and r.error))
    progress.set(done=done, running=len(active), failed=failed)


def _dedupe_kfp(metrics: Sequence[Any]) -> tuple[tuple[str, float], ...]:
    """KFP run metrics (name, node_id, number_value) as merge_metrics pairs."""
    per_node: dict[str, list[tuple[str, float]]] = {}
    for m in metrics:
        if m.name and m.number_value is not None:
            per_node.setdefault(str(m.node_id or ""), []).append((str(m.name), float(m.number_value)))
    return merge_metrics(per_node.items())


def still_on_server(result: SweepResult) -> list[SweepRun]:
    """Runs of an interrupted or unfollowed sweep that may still be running on the server."""
    from .kfp_follow import TERMINAL

    return [r for r in result.runs if r.run_id and r.status not in TERMINAL]
