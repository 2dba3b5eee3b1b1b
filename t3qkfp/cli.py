"""The `t3qkfp` command: compile, params, validate (and upload, run, submit, graph from their modules).

Owns: argument parsing, where output goes (results to stdout, progress and problems to stderr)
and exit codes: 0 success, 1 invalid pipeline or failed operation (one problem per line on
stderr), 2 usage errors, 3 internal errors (with a traceback: a bug in t3qkfp).
Must not: catch anything but T3qkfpError; import kfp at module level (`--help` stays fast).
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .errors import InternalError, Location, PipelineError, Problem, T3qkfpError

SCOPE_HELP = ("how env vars become run parameters: auto = one shared parameter per env name where "
              "all nodes agree on the default, one per node where they differ; node = always per "
              "node; pipeline = always shared (fails on differing defaults)")


def storage_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--endpoint/--bucket/--prefix/--secret/--config, shared by every command that needs storage."""
    options = [
        click.option("--config", "storage_config_file", type=click.Path(dir_okay=False),
                     help="config file with a [storage] table (default: $T3QKFP_CONFIG or ./t3qkfp.toml)"),
        click.option("--secret", "storage_secret", help="Kubernetes secret the pods read S3 credentials from ($T3QKFP_S3_SECRET)"),
        click.option("--prefix", "storage_prefix", help="object key prefix ($T3QKFP_S3_PREFIX)"),
        click.option("--bucket", "storage_bucket", help="bucket ($T3QKFP_S3_BUCKET)"),
        click.option("--endpoint", "storage_endpoint", help="S3 endpoint URL as the pods see it ($T3QKFP_S3_ENDPOINT)"),
    ]
    for option in options:
        func = option(func)
    return func


def storage_from_options(options: dict[str, Any]) -> Any:
    """The StorageConfig for the storage_options values (flag > env var > config file > default)."""
    from .storage_settings import StorageConfig

    return StorageConfig.resolve(endpoint=options.pop("storage_endpoint", None),
                                 bucket=options.pop("storage_bucket", None),
                                 prefix=options.pop("storage_prefix", None),
                                 secret=options.pop("storage_secret", None),
                                 config_file=options.pop("storage_config_file", None))


def reports_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn T3qkfpError into its message on stderr and its exit code; let bugs show tracebacks."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InternalError:
            raise
        except T3qkfpError as exc:
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C outside a run's nodes (uploads, compiling): no traceback
            click.echo("t3qkfp: interrupted", err=True)
            sys.exit(130)
    return wrapper


def _no_bars(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        from .progress import set_enabled
        set_enabled(False)


progress_option = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_no_bars,
                               help="no live progress bars (a terminal shows them on stderr while "
                                    "files move); the one line per file stays")
scope_option = click.option("--scope", type=click.Choice(["auto", "node", "pipeline"]), default="auto",
                            show_default=True, help=SCOPE_HELP)
ROOT_HELP = ("the workspace root node files and dependencies must stay inside (Elyra's Jupyter root; "
             "default: the current folder when it holds FILE, else FILE's folder)")


def pipeline_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    """FILE and --root, the two things every command that reads a pipeline needs."""
    func = click.option("--root", type=click.Path(file_okay=False), help=ROOT_HELP)(func)
    return click.argument("pipeline_file", metavar="FILE", type=click.Path(dir_okay=False))(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="t3qkfp")
def main() -> None:
    """Compile Elyra pipelines to Kubeflow Pipelines 1.2 workflows whose node parameters are run parameters."""


@main.command("compile")
@pipeline_argument
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="where to write: .yaml/.yml, .zip or .tar.gz (default: FILE's name with .yaml in the "
                   "current folder; '-' prints the YAML)")
@scope_option
@click.option("--list-objects", is_flag=True, help="also list the object keys the workflow expects in the bucket")
@click.option("--quiet", "-q", is_flag=True, help="do not print the run-parameter table")
@click.option("--allow-large", is_flag=True,
              help="write a workflow above the 1.5 MiB Kubernetes stores by default (for a cluster "
                   "whose etcd accepts larger requests)")
@storage_options
@reports_errors
def compile_command(pipeline_file: str, root: str | None, output: str | None, scope: str, list_objects: bool,
                    quiet: bool, allow_large: bool, **options: Any) -> None:
    """Compile FILE to an Argo Workflow for KFP 1.2 (byte-identical for the same input)."""
    from .compiler import compile_pipeline
    from .display import plan_text

    storage = storage_from_options(options)
    compiled = compile_pipeline(pipeline_file, root_dir=root, scope=scope, storage=storage, deterministic=True,
                                allow_large=allow_large)
    if output == "-":
        click.echo(compiled.yaml, nl=False)
        return
    target = Path(output) if output else Path(_stem(pipeline_file) + ".yaml")
    compiled.write(target)
    if not quiet:
        click.echo(plan_text(compiled.pipeline, compiled.plan))
    if list_objects:
        click.echo(f"objects expected in bucket {storage.bucket!r} at {storage.endpoint}:")
        for key in compiled.object_keys():
            click.echo(f"  {key}")
    click.echo(f"wrote {target} (workflow {compiled.size.text()})")


@main.command("params")
@pipeline_argument
@click.option("--json", "as_json", is_flag=True, help="print the plan as JSON")
@scope_option
@reports_errors
def params_command(pipeline_file: str, root: str | None, as_json: bool, scope: str) -> None:
    """Print FILE's run parameters: name, type, default, env var and the nodes that use it."""
    from .display import plan_text
    from .elyra_reader import load
    from .params import plan

    pipeline = load(pipeline_file, root_dir=root)
    result = plan(pipeline, scope=scope)
    from .workflow_size import estimate

    size = estimate(pipeline, result)
    if as_json:
        click.echo(json.dumps({**result.to_json(), "workflow_bytes_estimate": size.total},
                              indent=2, ensure_ascii=False))
    else:
        click.echo(plan_text(pipeline, result))
        click.echo(f"workflow size: about {size.text()}")


@main.command("validate")
@pipeline_argument
@scope_option
@reports_errors
def validate_command(pipeline_file: str, root: str | None, scope: str) -> None:
    """Check FILE and report every problem at once (exit 1 if there is any)."""
    from .elyra_reader import load
    from .params import plan

    pipeline = load(pipeline_file, root_dir=root)
    result = plan(pipeline, scope=scope)
    from .workflow_size import MAX_BYTES, estimate

    size = estimate(pipeline, result)
    if size.total > MAX_BYTES:
        # As compile would refuse it: a run of it could not be created on a default cluster.
        raise PipelineError([Problem(location=Location(file=pipeline.source, field="workflow size"),
                                     message=f"the compiled workflow would take about {size.text()}, "
                                             f"so KFP could not start a run of it; biggest parts: "
                                             + ", ".join(f"{n} {b} bytes" for n, b in size.biggest),
                                     hint="split the pipeline, or compile with --allow-large if your "
                                          "cluster's etcd accepts larger requests")])
    from .errors import counted

    click.echo(f"{pipeline_file}: valid ({counted(len(pipeline.nodes), 'node')}, "
               f"{counted(len(result.parameters), 'run parameter')})")
    click.echo(f"workflow size: about {size.text()}")


def _stem(path: str) -> str:
    name = Path(path).name
    return name[: -len(".pipeline")] if name.endswith(".pipeline") else Path(name).stem


def _add_optional_commands() -> None:
    """Commands that live beside the modules they drive (upload/run, submit, graph, sweep/katib)."""
    import importlib

    for module_name, names in (("t3qkfp.cli_runtime", ("upload", "run")),
                               ("t3qkfp.cli_submit", ("submit",)),
                               ("t3qkfp.cli_display", ("graph",)),
                               ("t3qkfp.cli_sweep", ("sweep", "katib"))):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for name in names:
            command = getattr(module, name, None)
            if command is not None:
                main.add_command(command, name)


_add_optional_commands()
