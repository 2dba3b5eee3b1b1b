"""Parameter tables and DAG pictures for terminals and Jupyter.

Owns: how a pipeline and its plan look to a person: the run-parameter table (name, type,
default, env var, nodes, note) as text and HTML, the DAG as text and as an SVG picture drawn by
Graphviz (`dot`, through the `graphviz` Python package; without it by dag_layout.py), and the
rich-display objects a notebook shows. Must not: compute anything the model and the plan do not already say, or import kfp.

Why Graphviz: a kept layout engine places the nodes and routes the edges, so big or odd DAGs
never overlap; we only describe what each node box says. Every user text (labels, ids, file
names, defaults) reaches the DOT source either as escaped HTML-like label text or as an escaped
quoted string, so Korean, quotes, `<`, `&`, `\\` and braces draw as written.
"""
from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GraphvizUnavailable, PipelineError, T3qkfpError, counted

if TYPE_CHECKING:
    import graphviz

    from .compiler import Compiled
    from .model import Node, Pipeline
    from .params import ParameterPlan, RunParameter

logger = logging.getLogger("t3qkfp")
COLUMNS = ("name", "type", "default", "env var", "nodes", "note")
# Picture formats `write_dag` and `t3qkfp graph` accept: "dot" is the DOT source itself, the rest
# are rendered by Graphviz.
FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_DOT_HINT = ("install Graphviz: `apt-get install -y --no-install-recommends graphviz` "
                    "(Debian/Ubuntu), `brew install graphviz` (macOS), `conda install graphviz`")
INSTALL_PACKAGE_HINT = "install the Python package: pip install 't3qkfp[notebooks]' (or graphviz>=0.20)"

# How a parameter is coloured in the picture and what the legend calls it (colour-blind safe:
# blue / orange / purple differ in lightness too).
_KIND_STYLE = {
    "shared": ("#1f5fa8", "shared by several nodes"),
    "node": ("#b35900", "per node (defaults differ or scope node)"),
    "elyra": ("#6a3d9a", "Elyra pipeline parameter"),
    "single": ("#222222", "used by one node"),
}
_FONT = "Helvetica,Arial,sans-serif"
_MONO = "Courier,monospace"
_LABEL_LIMIT = 40     # characters of a node label shown in a box (the tooltip has all of it)
_TEXT_LIMIT = 44      # file names and images
_DEFAULT_LIMIT = 24   # parameter defaults inside a box
# Characters XML 1.0 (and so SVG and Graphviz's HTML labels) cannot hold, plus C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


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


def _kind(parameter: "RunParameter") -> str:
    """Which colour a parameter gets in the picture."""
    if parameter.origin == "elyra":
        return "elyra"
    if parameter.scope == "node":
        return "node"
    return "shared" if len(parameter.node_ids) > 1 else "single"


def _shown(value: str, limit: int = 40) -> str:
    """A default as a person should read it: empty, padded or multi-line values quoted, long ones cut."""
    text = repr(value) if (value == "" or value != value.strip() or "\n" in value) else value
    return _clip(text, limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    """A label as one terminal line: a tab or newline inside it would break the table's columns."""
    return _CONTROL.sub("\ufffd", text.replace("\t", " ").replace("\n", " "))


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
    rows = [tuple(_shown(cell) if i == 2 else _one_line(cell) for i, cell in enumerate(row))
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
        colour = _KIND_STYLE[_kind(parameter)][0]
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(_shown(cell, 80) if i == 2 else cell)
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
    params = {p.name: p for p in plan.parameters}
    links = sum(len(n.parents) for n in pipeline.nodes)
    lines = [f"DAG: {counted(len(pipeline.nodes), 'node')}, {counted(links, 'link')}"]
    for node in dag_order(pipeline):
        lines.append(f"  {_one_line(node.label)}  ({node.kind.short}: {node.filename})")
        lines.append(f"      image   {node.runtime_image}")
        if node.parents:
            lines.append("      after   " + ", ".join(_one_line(labels.get(p, p)) for p in node.parents))
        bindings = plan.bindings_of(node.id)
        if bindings:
            shown = []
            for b in bindings:
                default = _shown(params[b.param].default, 24) if b.param in params else "?"
                env = f" (env {b.env_name})" if b.env_name != b.param else ""
                shown.append(f"{b.param}={default}{env}")
            lines.append("      params  " + ", ".join(shown))
    return "\n".join(lines)


def pipeline_text(pipeline: "Pipeline", plan: "ParameterPlan | None" = None, *, scope: str = "auto") -> str:
    """Table and DAG text together: what `print(pipeline)` shows in a terminal."""
    plan, problem = _plan_or_problem(pipeline, plan, scope)
    if plan is None:
        return f"pipeline {pipeline.name!r}: {counted(len(pipeline.nodes), 'node')}\n{problem}"
    return plan_text(pipeline, plan) + "\n\n" + dag_text(pipeline, plan)


def _plan_or_problem(pipeline: "Pipeline", plan: "ParameterPlan | None", scope: str
                     ) -> tuple["ParameterPlan | None", str]:
    """The plan, made here if not given; a display must show why there is none, not raise."""
    if plan is not None:
        return plan, ""
    from .params import plan as make_plan
    try:
        return make_plan(pipeline, scope=scope), ""
    except PipelineError as exc:
        return None, exc.format_message()


# --- the DAG as a Graphviz picture ---------------------------------------------------------------

def _xml_text(text: str) -> str:
    """Text for an HTML-like label cell: XML-escaped, backslashes doubled, no XML-illegal characters.

    Graphviz parses HTML-like labels with an XML parser, so `&`, `<`, `>` must be entities and
    control characters must go (shown as U+FFFD). Graphviz then still expands `\\N` (node
    name) and `\\G` (graph name) in label text and turns `\\\\` into one backslash, so every
    backslash is doubled (measured with dot 2.43; tests/test_display.py checks the round trip).
    """
    text = _CONTROL.sub("\ufffd", text.replace("\t", " ").replace("\n", " "))
    return html.escape(text, quote=False).replace("\\", "\\\\")


def _quoted(text: str) -> Any:
    """Text for a quoted DOT attribute (tooltips), so it reaches the SVG exactly as written.

    A tooltip is unescaped twice on its way into the SVG (escString substitution of `\\N`,
    `\\l`..., then the SVG writer's own unescaping), so a literal backslash needs four
    (measured with dot 2.43; tests/test_display.py checks the round trip). The SVG writer keeps
    anything that looks like an entity (`&amp;`), so `&` becomes `&amp;` first. `nohtml` keeps
    a text like `<x>` from being read as an HTML label; the package's quoting escapes `"`.
    """
    import graphviz

    text = _CONTROL.sub("\ufffd", text).replace("\\", "\\" * 4)
    return graphviz.nohtml(text.replace("&", "&amp;"))


def _node_label(node: "Node", plan: "ParameterPlan", params: dict[str, "RunParameter"]) -> str:
    """The HTML-like label of one node box: label, kind and file, image, then its parameters."""
    rows = [
        f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="13"><B>{_xml_text(_clip(node.label, _LABEL_LIMIT))}</B></FONT></TD></TR>',
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="10">{_xml_text(node.kind.short)}: '
        f'<FONT FACE="{_MONO}">{_xml_text(_clip(node.filename, _TEXT_LIMIT))}</FONT></FONT></TD></TR>',
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#555555">image: '
        f'{_xml_text(_clip_middle(node.runtime_image, _TEXT_LIMIT))}</FONT></TD></TR>',
    ]
    bindings = plan.bindings_of(node.id)
    if bindings:
        # One cell per parameter, names padded in a monospace font: Graphviz spreads spare width
        # over the columns of a nested table, which tore names and values apart.
        width = max(len(b.param) for b in bindings)
        rows.append("<HR/>")
        for b in bindings:
            parameter = params.get(b.param)
            colour = _KIND_STYLE[_kind(parameter)][0] if parameter else "#222222"
            default = _shown(parameter.default, _DEFAULT_LIMIT) if parameter else "?"
            padding = "\u00a0" * (width - len(b.param))
            env = (f'<FONT FACE="{_FONT}" POINT-SIZE="9" COLOR="#555555">  (env {_xml_text(b.env_name)})</FONT>'
                   if b.env_name != b.param else "")
            rows.append(
                f'<TR><TD ALIGN="LEFT"><FONT FACE="{_MONO}" POINT-SIZE="10"><FONT COLOR="{colour}"><B>{_xml_text(b.param)}</B></FONT>'
                f'{padding} = {_xml_text(default)}</FONT>{env}</TD></TR>')
    else:
        rows.append('<HR/><TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#777777">no run parameters</FONT></TD></TR>')
    return ('<<TABLE BORDER="1" COLOR="#8a8a8a" STYLE="ROUNDED" BGCOLOR="#f7f9fc" CELLBORDER="0" '
            'CELLSPACING="0" CELLPADDING="4">' + "".join(rows) + "</TABLE>>")


def _clip_middle(text: str, limit: int) -> str:
    """Long image names keep their registry start and their tag, which is what people check."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def _legend(plan: "ParameterPlan") -> str:
    kinds = sorted({_kind(p) for p in plan.parameters}, key=list(_KIND_STYLE).index)
    if not kinds:
        return ""
    cells = "".join(
        f'<TD><FONT POINT-SIZE="9" COLOR="{_KIND_STYLE[k][0]}"><B>■</B> {html.escape(_KIND_STYLE[k][1])}</FONT></TD>'
        for k in kinds)
    return f'<<TABLE BORDER="0" CELLSPACING="6"><TR>{cells}</TR></TABLE>>'


def dag_graph(pipeline: "Pipeline", plan: "ParameterPlan") -> "graphviz.Digraph":
    """The DAG as a `graphviz.Digraph`: one box per node, one arrow per Elyra link.

    DOT node names are generated (`n0`, `n1`, ...) so Elyra's ids, which may hold anything, never
    enter DOT syntax; the id and full label go into the tooltip as escaped strings.
    """
    graphviz = _graphviz_module()
    params = {p.name: p for p in plan.parameters}
    names = {node.id: f"n{i}" for i, node in enumerate(pipeline.nodes)}
    graph = graphviz.Digraph(name="t3qkfp", graph_attr={
        "rankdir": "LR", "nodesep": "0.35", "ranksep": "0.55", "fontname": _FONT,
        "bgcolor": "white", "pad": "0.2", "labelloc": "b", "labeljust": "l",
        "tooltip": _quoted(pipeline.name)},
        node_attr={"shape": "plain", "fontname": _FONT},
        edge_attr={"color": "#555555", "arrowsize": "0.8", "penwidth": "1.2"})
    legend = _legend(plan)
    if legend:
        graph.attr(label=legend)
    for node in pipeline.nodes:
        graph.node(names[node.id], label=_node_label(node, plan, params),
                   tooltip=_quoted(f"{node.label} (node id {node.id})"))
    for node in pipeline.nodes:
        for parent in node.parents:
            if parent in names:
                graph.edge(names[parent], names[node.id])
    return graph


def dag_dot(pipeline: "Pipeline", plan: "ParameterPlan | None" = None, *, scope: str = "auto") -> str:
    """The DOT source of the picture (needs the graphviz Python package, not the `dot` program)."""
    return dag_graph(pipeline, _require_plan(pipeline, plan, scope)).source


def dag_svg(pipeline: "Pipeline", plan: "ParameterPlan | None" = None, *, scope: str = "auto") -> str:
    """The DAG picture as SVG text: laid out by Graphviz's `dot`, else by the pure-Python layout.

    Without Graphviz the note that it gives a better layout goes to the `t3qkfp` logger.
    """
    svg, note = drawn_svg(pipeline, _require_plan(pipeline, plan, scope))
    if note:
        logger.info("%s", note)
    return svg


def drawn_svg(pipeline: "Pipeline", plan: "ParameterPlan") -> tuple[str, str]:
    """The SVG and a one-line note, empty when Graphviz drew it.

    Why a fallback rather than an error: a JupyterHub user cannot install Graphviz, and the
    picture is how people check the DAG; dag_layout.py draws the same boxes in layers.
    """
    try:
        return render_graph(dag_graph(pipeline, plan), "svg").decode("utf-8"), ""
    except GraphvizUnavailable as unavailable:
        try:
            from .dag_layout import NOTE, layered_svg
        except ModuleNotFoundError as exc:
            if exc.name != "grandalf":
                raise
            raise GraphvizUnavailable(f"{unavailable}; or pip install grandalf for a picture without "
                                      "Graphviz") from None
        return layered_svg(pipeline, plan), NOTE


def write_dag(pipeline: "Pipeline", path: str | Path, plan: "ParameterPlan | None" = None, *,
              scope: str = "auto", fmt: str | None = None, data: bytes | None = None) -> Path:
    """Write the picture to `path`; the format comes from `fmt` or the suffix (.svg .png .pdf .dot)."""
    from .errors import UsageError

    target = Path(path)
    kind = (fmt or target.suffix.lstrip(".") or "svg").lower()
    if kind == "gv":
        kind = "dot"
    if kind not in FORMATS:
        raise UsageError(f"cannot draw a {kind!r} picture: use one of {', '.join(FORMATS)} "
                         f"(from -f/--format or the file suffix)")
    if data is None:  # `data`: the picture already drawn (t3qkfp graph reports its note itself)
        data = picture_bytes(pipeline, _require_plan(pipeline, plan, scope), kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)  # a reader never sees half a picture
    return target


def picture_bytes(pipeline: "Pipeline", plan: "ParameterPlan", kind: str) -> bytes:
    """The picture in one of FORMATS; SVG needs no Graphviz (the note is logged), PNG/PDF/DOT do."""
    if kind == "svg":
        svg, note = drawn_svg(pipeline, plan)
        if note:
            logger.info("%s", note)
        return svg.encode("utf-8")
    try:
        graph = dag_graph(pipeline, plan)
        return graph.source.encode("utf-8") if kind == "dot" else render_graph(graph, kind)
    except GraphvizUnavailable as exc:
        raise GraphvizUnavailable(f"{exc}; an .svg picture is drawn without it") from None


def _require_plan(pipeline: "Pipeline", plan: "ParameterPlan | None", scope: str) -> "ParameterPlan":
    if plan is not None:
        return plan
    from .params import plan as make_plan
    return make_plan(pipeline, scope=scope)


def _graphviz_module() -> Any:
    try:
        import graphviz
    except ModuleNotFoundError as exc:
        if exc.name != "graphviz":
            raise
        raise GraphvizUnavailable("drawing the DAG needs the `graphviz` Python package, which is not "
                                  f"installed; {INSTALL_PACKAGE_HINT}") from None
    return graphviz


def render_graph(graph: "graphviz.Digraph", fmt: str) -> bytes:
    """Run `dot`; a missing program becomes one clear GraphvizUnavailable, not a traceback."""
    graphviz = _graphviz_module()
    try:
        return graph.pipe(format=fmt, encoding=None)
    except graphviz.ExecutableNotFound:
        raise GraphvizUnavailable("drawing the DAG needs Graphviz's `dot` program, which is not on "
                                  f"PATH; {INSTALL_DOT_HINT}") from None
    except graphviz.CalledProcessError as exc:
        # Our DOT is generated and escaped, so this is a bug in t3qkfp or in Graphviz.
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise T3qkfpError(f"Graphviz's `dot` failed to draw the DAG: {detail}") from None


def svg_inline(svg: str) -> str:
    """SVG text ready to sit inside HTML: without the XML prolog and DOCTYPE `dot` writes."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


# --- rich display: what notebooks and terminals show ---------------------------------------------

def pipeline_html(pipeline: "Pipeline", plan: "ParameterPlan | None" = None, *, scope: str = "auto") -> str:
    """Table and picture as one HTML block; never raises for a missing Graphviz or a bad plan.

    Jupyter calls `_repr_html_` while printing; an exception there would hide everything, so
    what cannot be shown is replaced by a sentence saying why.
    """
    plan, problem = _plan_or_problem(pipeline, plan, scope)
    if plan is None:
        return (f"<p><b>{html.escape(pipeline.name)}</b>: {counted(len(pipeline.nodes), 'node')}; no run-parameter "
                f"plan:</p><pre>{html.escape(problem)}</pre>")
    return plan_html(pipeline, plan) + _picture_html(pipeline, plan)


def _picture_html(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    try:
        svg, note = drawn_svg(pipeline, plan)
    except GraphvizUnavailable as exc:
        return f'<p style="color:#a00"><i>No DAG picture: {html.escape(str(exc))}</i></p>'
    shown = f'<div class="t3qkfp-dag" style="max-width:100%;overflow-x:auto">{svg_inline(svg)}</div>'
    if note:
        shown += f'<p style="color:#777;font-size:0.85em"><i>{html.escape(note)}</i></p>'
    return shown


def compiled_html(compiled: "Compiled") -> str:
    """What a notebook shows for a compiled pipeline: table, picture and the workflow's name."""
    name = compiled.workflow.get("metadata", {}).get("generateName", "")
    count = len(compiled.workflow.get("spec", {}).get("arguments", {}).get("parameters", []) or [])
    return (pipeline_html(compiled.pipeline, compiled.plan)
            + f"<p>Argo workflow <code>{html.escape(str(name))}</code> with {counted(count, 'run parameter')} "
              f"in <code>spec.arguments.parameters</code>; <code>.yaml</code> has the text, "
              f"<code>.write(path)</code> writes it.</p>")


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineView:
    """A pipeline with its plan, for display: `view(...)` returns one.

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


def view(source: Any, plan: "ParameterPlan | None" = None, *, scope: str = "auto") -> PipelineView:
    """Table and picture of a Pipeline (plus its plan), a Compiled result, or a pipeline file/JSON.

    Use it for a plan you made yourself (`view(pipeline, t3qkfp.plan(pipeline, scope="node"))`).
    """
    if hasattr(source, "pipeline") and hasattr(source, "plan") and plan is None:
        return PipelineView(pipeline=source.pipeline, plan=source.plan)  # a Compiled result
    from .elyra_reader import load
    source = load(source)  # a loaded model comes back as it is
    return PipelineView(pipeline=source, plan=_require_plan(source, plan, scope))


def picture(source: Any, plan: "ParameterPlan | None" = None, *, scope: str = "auto") -> DagPicture:
    """Only the DAG picture, as an object Jupyter shows as an image."""
    shown = view(source, plan, scope=scope)
    return DagPicture(*drawn_svg(shown.pipeline, shown.plan))


def svg_texts(svg: str) -> list[str]:
    """Every text run of an SVG, as a reader sees them (for tests and for checking a picture)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg.encode("utf-8"))
    return ["".join(element.itertext()) for element in root.iter("{http://www.w3.org/2000/svg}text")]

