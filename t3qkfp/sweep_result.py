"""The comparison of a sweep: one row per combination, and the metrics its nodes reported.

Owns: `SweepRun` and `SweepResult` (table sorted by a metric, best run, aligned text, CSV, JSON,
Jupyter HTML with an inline plot, a matplotlib plot) and reading KFP 1.2's metrics files
(`mlpipeline-metrics.json`) into (name, value) pairs merged across nodes.
Why a failed combination is a row and not an exception: a sweep is a comparison; one bad
value must not hide the other results. Why separate from the runners: a result is plain data
that a notebook shows and saves without kfp, moto or a pipeline.
Must not: import matplotlib at module level (it is optional, the `notebooks` extra), or print.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import UsageError

METRICS_FILE = "mlpipeline-metrics.json"


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
            from matplotlib.figure import Figure  # here: matplotlib is optional and slow to import
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
        from matplotlib.figure import Figure  # here: matplotlib is optional and slow to import

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
