"""`t3qkfp graph`: the DAG picture of a pipeline from the command line.

Owns: the `graph` click command, which cli.py adds when this module exists. Must not: draw
anything itself (display.py and dag_picture.py do) or import kfp.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli import pipeline_argument, reports_errors, scope_option


@click.command("graph")
@pipeline_argument
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="where to write the picture (default: FILE's name with the format's suffix in the "
                   "current folder; '-' writes it to stdout)")
@click.option("-f", "--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot"]), default=None,
              help="picture format (default: from the output suffix, else svg; dot = Graphviz source; "
                   "png, pdf and dot need Graphviz, svg is drawn without it)")
@click.option("--text", "as_text", is_flag=True, help="print the DAG and the table as text instead")
@scope_option
@reports_errors
def graph(pipeline_file: str, root: str | None, output: str | None, fmt: str | None, as_text: bool, scope: str) -> None:
    """Draw FILE's DAG: each node with its label, file, image and run parameters.

    SVG is drawn without Graphviz when `dot` is missing (a note on stderr says so); PNG, PDF and
    DOT need Graphviz.
    """
    from .dag_picture import drawn_svg, picture_bytes, write_dag
    from .display import pipeline_text
    from .elyra_reader import load
    from .params import plan

    pipeline = load(pipeline_file, root_dir=root)
    result = plan(pipeline, scope=scope)
    if as_text:
        click.echo(pipeline_text(pipeline, result))
        return
    kind = fmt or (Path(output).suffix.lstrip(".").lower() if output and output != "-" else "svg") or "svg"
    note = ""
    if kind == "svg":
        svg, note = drawn_svg(pipeline, result)
        data = svg.encode("utf-8")
    if output == "-":
        if kind != "svg":
            data = picture_bytes(pipeline, result, kind)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        target = Path(output) if output else Path(_stem(pipeline_file) + "." + kind)
        written = write_dag(pipeline, target, result, fmt=kind, data=data if kind == "svg" else None)
        click.echo(f"wrote {written}")
    if note:
        click.echo(f"t3qkfp: note: {note}", err=True)


def _stem(path: str) -> str:
    name = Path(path).name
    return name[: -len(".pipeline")] if name.endswith(".pipeline") else Path(name).stem
