"""Parameter tables (and later DAG pictures) for terminals and Jupyter.

Owns: how a plan looks to a person: the run-parameter table (name, type, default, env var,
nodes, note) as text and as HTML. Must not: compute anything the plan does not already say.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compiler import Compiled
    from .model import Pipeline
    from .params import ParameterPlan

COLUMNS = ("name", "type", "default", "env var", "nodes", "note")


def plan_rows(pipeline: "Pipeline", plan: "ParameterPlan") -> list[tuple[str, ...]]:
    """One row per run parameter, in the plan's order (sorted by name)."""
    labels = {n.id: n.label for n in pipeline.nodes}
    rows = []
    for p in plan.parameters:
        nodes = ", ".join(labels[n] for n in p.node_ids) or "(no node)"
        note = p.note or ("Elyra pipeline parameter" if p.origin == "elyra" else
                          "shared" if len(p.node_ids) > 1 else "")
        rows.append((p.name, p.type.value, p.default, p.env_name, nodes, note))
    return rows


def _shown(value: str, limit: int = 40) -> str:
    text = repr(value) if (value == "" or value != value.strip() or "\n" in value) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plan_text(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """A fixed-width table for terminals; empty or space-padded defaults are shown quoted."""
    rows = [tuple(_shown(cell) if i == 2 else cell for i, cell in enumerate(row))
            for row in plan_rows(pipeline, plan)]
    title = f"pipeline {pipeline.name!r}: {len(plan.parameters)} run parameters, {len(pipeline.nodes)} nodes"
    if not rows:
        return title + "\n(no run parameters)"
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
    line = "  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()
    body = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join([title, line, *body])


def plan_html(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """The same table as HTML for Jupyter."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in plan_rows(pipeline, plan))
    return (f"<p><b>{html.escape(pipeline.name)}</b>: {len(plan.parameters)} run parameters, "
            f"{len(pipeline.nodes)} nodes</p><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def compiled_html(compiled: "Compiled") -> str:
    """What a notebook shows for a compiled pipeline."""
    return plan_html(compiled.pipeline, compiled.plan)
