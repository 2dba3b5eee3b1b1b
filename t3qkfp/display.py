"""Parameter tables, the DAG as text, and what terminals and Jupyter show for a pipeline.

Owns: how a pipeline and its plan look to a person: the run-parameter table (name, type,
default, env var, nodes, note) as text and HTML, the DAG as text, and the rich-display objects
a notebook shows (`PipelineView`, `DagPicture`, the HTML of a Pipeline, a ParameterPlan and a
compiled result). The picture itself is dag_picture.py's. Must not: load, plan or compile:
every function takes the Pipeline and its ParameterPlan (view() and picture(), which load and
plan, live with the facade in compiler.py). The one exception is the repr of a Pipeline alone
(`pipeline_repr_text`/`pipeline_repr_html`, called by model.py's hooks): a bare Pipeline has no
plan, so it is shown with the one `params.plan` makes by default, or with the reason there is none.
"""
from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import params
from .dag_picture import dag_dot, dag_svg, drawn_svg, svg_inline, write_dag
from .display_style import KIND_STYLE, one_line, parameter_kind, readable
from .errors import GraphvizUnavailable, PipelineError, counted

if TYPE_CHECKING:
    from .model import Node, Pipeline
    from .params import ParameterPlan, RunParameter

COLUMNS = ("name", "type", "default", "env var", "nodes", "note")


# --- the run-parameter table ---------------------------------------------------------------------

def plan_rows(pipeline: "Pipeline", plan: "ParameterPlan") -> list[tuple[str, ...]]:
    """One row per run parameter, in the plan's order (sorted by name)."""
    labels = {n.id: n.label for n in pipeline.nodes}
    rows = []
    for p in plan.parameters:
        nodes = ", ".join(labels[n] for n in p.node_ids) or "(no node)"
        rows.append((p.name, p.type.value, p.default, p.env_name, nodes, _note(p)))
    return rows


def _note(parameter: "RunParameter") -> str:
    note = parameter.note or ("Elyra pipeline parameter" if parameter.origin == "elyra" else
                              "shared" if len(parameter.node_ids) > 1 else "")
    if parameter.origin == "env" and parameter.default == "":
        # An env var written without a value ("NAME=" or no "value"): Elyra 2.x passes it as "",
        # so it stays, and the table says the empty default is the file's, not a lost value.
        note = f"{note}; no value in the file" if note else "no value in the file"
    return note


def _width(text: str) -> int:
    """Terminal columns of `text`: East Asian wide characters (Korean, CJK) take two.

    Without this a Korean node label pushes every later column of its row out of line.
    """
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else
               0 if unicodedata.combining(ch) else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def plan_text(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """A fixed-width table for terminals; empty or space-padded defaults are shown quoted."""
    title = (f"pipeline {pipeline.name!r}: {counted(len(plan.parameters), 'run parameter')}, "
             f"{counted(len(pipeline.nodes), 'node')}")
    return _text_table(title, plan_rows(pipeline, plan))


def _text_table(title: str, raw_rows: list[tuple[str, ...]], *, nodes: str = "nodes") -> str:
    columns = tuple(nodes if c == "nodes" else c for c in COLUMNS)
    rows = [tuple(readable(cell) if i == 2 else one_line(cell) for i, cell in enumerate(row))
            for row in raw_rows]
    if not rows:
        return title + "\n(no run parameters)"
    widths = [max(len(columns[i]), *(_width(r[i]) for r in rows)) for i in range(len(columns))]
    line = "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()
    body = ["  ".join(_pad(cell, w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([title, line, *body])


_TABLE_STYLE = ("border-collapse:collapse;font-size:0.9em;margin:0.3em 0 0.8em 0;"
                "text-align:left")
_CELL_STYLE = "padding:2px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


def plan_html(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """The same table as HTML for Jupyter (inline styles only: notebooks drop <style> blocks)."""
    return (f"<p><b>{html.escape(pipeline.name)}</b>: {counted(len(plan.parameters), 'run parameter')}, "
            f"{counted(len(pipeline.nodes), 'node')}</p>" + _html_table(plan.parameters, plan_rows(pipeline, plan)))


def _html_table(parameters: "tuple[RunParameter, ...]", rows: list[tuple[str, ...]], *, nodes: str = "nodes") -> str:
    head = "".join(f'<th style="{_CELL_STYLE}">{html.escape(nodes if c == "nodes" else c)}</th>' for c in COLUMNS)
    body = []
    for parameter, row in zip(parameters, rows):
        colour = KIND_STYLE[parameter_kind(parameter)][0]
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(readable(cell, 80) if i == 2 else cell)
            if i == 0:
                text = f'<code style="color:{colour}">{text}</code>'
            elif i in (2, 3):
                text = f"<code>{text}</code>"
            cells.append(f'<td style="{_CELL_STYLE}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="t3qkfp-params" style="{_TABLE_STYLE}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def parameter_plan_rows(plan: "ParameterPlan") -> list[tuple[str, ...]]:
    """Rows of a plan shown without its pipeline: nodes by task name (a plan knows no labels)."""
    tasks = dict(plan.tasks)
    return [(p.name, p.type.value, p.default, p.env_name,
             ", ".join(tasks.get(n, n) for n in p.node_ids) or "(no node)", _note(p))
            for p in plan.parameters]


def parameter_plan_text(plan: "ParameterPlan") -> str:
    """A ParameterPlan alone as a terminal table (its `__str__`/`_repr_pretty_` can delegate here)."""
    return _text_table(f"plan {plan.pipeline_name!r} (scope {plan.scope}): "
                       f"{counted(len(plan.parameters), 'run parameter')}, {counted(len(plan.tasks), 'task')}",
                       parameter_plan_rows(plan), nodes="tasks")


def parameter_plan_html(plan: "ParameterPlan") -> str:
    """A ParameterPlan alone as HTML (its `_repr_html_` can delegate here); nodes by task name."""
    title = (f"<p><b>{html.escape(plan.pipeline_name)}</b> (scope {html.escape(plan.scope)}): "
             f"{counted(len(plan.parameters), 'run parameter')}, {counted(len(plan.tasks), 'task')}</p>")
    return title + _html_table(plan.parameters, parameter_plan_rows(plan), nodes="tasks")


# --- the DAG as text -----------------------------------------------------------------------------

def dag_order(pipeline: "Pipeline") -> list["Node"]:
    """Nodes parents-first (Kahn's algorithm), ties in file order, so the text reads like the DAG.

    The pipeline is validated (no cycles); a node left over anyway is appended, never dropped.
    """
    remaining = list(pipeline.nodes)
    done: set[str] = set()
    order: list[Node] = []
    while remaining:
        ready = [n for n in remaining if all(p in done for p in n.parents)] or remaining[:1]
        for node in ready:
            order.append(node)
            done.add(node.id)
        remaining = [n for n in remaining if n.id not in done]
    return order


def dag_text(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """The DAG for a terminal: each node parents-first with its file, image, parents and parameters."""
    labels = {n.id: n.label for n in pipeline.nodes}
    by_name = {p.name: p for p in plan.parameters}
    links = sum(len(n.parents) for n in pipeline.nodes)
    lines = [f"DAG: {counted(len(pipeline.nodes), 'node')}, {counted(links, 'link')}"]
    for node in dag_order(pipeline):
        lines.append(f"  {one_line(node.label)}  ({node.kind.short}: {node.filename})")
        lines.append(f"      image   {node.runtime_image}")
        if node.parents:
            lines.append("      after   " + ", ".join(one_line(labels.get(p, p)) for p in node.parents))
        bindings = plan.bindings_of(node.id)
        if bindings:
            shown = []
            for b in bindings:
                default = readable(by_name[b.param].default, 24) if b.param in by_name else "?"
                env = f" (env {b.env_name})" if b.env_name != b.param else ""
                shown.append(f"{b.param}={default}{env}")
            lines.append("      params  " + ", ".join(shown))
    return "\n".join(lines)


def pipeline_text(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """Table and DAG text together: what `print()` shows for a pipeline and its plan in a terminal."""
    return plan_text(pipeline, plan) + "\n\n" + dag_text(pipeline, plan)


# --- rich display: what notebooks and terminals show ---------------------------------------------

def pipeline_html(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """Table and picture as one HTML block; never raises for a missing Graphviz.

    Jupyter calls `_repr_html_` while printing; an exception there would hide everything, so
    a picture that cannot be drawn is replaced by a sentence saying why.
    """
    return plan_html(pipeline, plan) + _picture_html(pipeline, plan)


def pipeline_repr_text(pipeline: "Pipeline") -> str:
    """`print(pipeline)` of a Pipeline alone: table and DAG text with the plan `params.plan` makes by default.

    A repr must not raise, so a pipeline that has no plan is shown with the reason instead.
    """
    try:
        plan = params.plan(pipeline)
    except PipelineError as exc:
        return no_plan_text(pipeline, exc)
    return pipeline_text(pipeline, plan)


def pipeline_repr_html(pipeline: "Pipeline") -> str:
    """A Pipeline alone in Jupyter: pipeline_html with its default plan, or the reason it has none."""
    try:
        plan = params.plan(pipeline)
    except PipelineError as exc:
        return no_plan_html(pipeline, exc)
    return pipeline_html(pipeline, plan)


def no_plan_text(pipeline: "Pipeline", problem: PipelineError) -> str:
    """A pipeline that has no run-parameter plan, with the reason, as text."""
    return f"pipeline {pipeline.name!r}: {counted(len(pipeline.nodes), 'node')}\n{problem.format_message()}"


def no_plan_html(pipeline: "Pipeline", problem: PipelineError) -> str:
    """A pipeline that has no run-parameter plan, with the reason, as HTML."""
    return (f"<p><b>{html.escape(pipeline.name)}</b>: {counted(len(pipeline.nodes), 'node')}; no run-parameter "
            f"plan:</p><pre>{html.escape(problem.format_message())}</pre>")


def _picture_html(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    try:
        svg, note = drawn_svg(pipeline, plan)
    except GraphvizUnavailable as exc:
        return f'<p style="color:#a00"><i>No DAG picture: {html.escape(str(exc))}</i></p>'
    shown = f'<div class="t3qkfp-dag" style="max-width:100%;overflow-x:auto">{svg_inline(svg)}</div>'
    if note:
        shown += f'<p style="color:#777;font-size:0.85em"><i>{html.escape(note)}</i></p>'
    return shown


def compiled_html(pipeline: "Pipeline", plan: "ParameterPlan", workflow: dict[str, Any]) -> str:
    """What a notebook shows for a compiled pipeline: table, picture and the workflow's name."""
    name = workflow.get("metadata", {}).get("generateName", "")
    count = len(workflow.get("spec", {}).get("arguments", {}).get("parameters", []) or [])
    return (pipeline_html(pipeline, plan)
            + f"<p>Argo workflow <code>{html.escape(str(name))}</code> with {counted(count, 'run parameter')} "
              f"in <code>spec.arguments.parameters</code>; <code>.yaml</code> has the text, "
              f"<code>.write(path)</code> writes it.</p>")


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineView:
    """A pipeline with its plan, for display: `t3qkfp.view(...)` returns one.

    Why a separate object: a ParameterPlan alone knows task names but not labels, files or
    images, so the table and the picture need both; this pairs them and gives Jupyter
    (`_repr_html_`), IPython (`_repr_pretty_`) and `print()` what each expects.
    """

    pipeline: "Pipeline"
    plan: "ParameterPlan"

    @property
    def table(self) -> str:
        """The run-parameter table as text."""
        return plan_text(self.pipeline, self.plan)

    @property
    def rows(self) -> list[tuple[str, ...]]:
        """The table's rows (name, type, default, env var, nodes, note)."""
        return plan_rows(self.pipeline, self.plan)

    @property
    def dot(self) -> str:
        """The DOT source of the picture."""
        return dag_dot(self.pipeline, self.plan)

    @property
    def svg(self) -> str:
        """The picture as SVG text."""
        return dag_svg(self.pipeline, self.plan)

    def write(self, path: str | Path, *, fmt: str | None = None) -> Path:
        """Write the picture (.svg, .png, .pdf or .dot)."""
        return write_dag(self.pipeline, path, self.plan, fmt=fmt)

    def _repr_html_(self) -> str:
        return pipeline_html(self.pipeline, self.plan)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def __str__(self) -> str:
        return pipeline_text(self.pipeline, self.plan)


class DagPicture:
    """Only the picture, for `display(...)` in a notebook; `_repr_svg_` so Jupyter draws it as SVG.

    `note` says when it was drawn without Graphviz (empty otherwise).
    """

    def __init__(self, svg: str, note: str = ""):
        self.svg = svg
        self.note = note

    def _repr_svg_(self) -> str:
        return svg_inline(self.svg)

    def __repr__(self) -> str:
        return f"<DAG picture, {len(self.svg)} bytes of SVG>"
