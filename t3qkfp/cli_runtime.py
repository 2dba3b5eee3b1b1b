"""`t3qkfp upload` and `t3qkfp run --local`: the commands that move node files and run nodes.

Owns: parsing `-p NAME=VALUE`, choosing between the private local S3 server and a given
endpoint, and printing where the results are. cli.py adds these commands to the group.
Must not: take credentials as options (they would land in shell history and `ps`): the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY env vars carry them.
"""
from __future__ import annotations

from typing import Any

import click

from .errors import UsageError
from .params import parse_assignments


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` pairs (split at the first '='); a name given twice is a mistake, not an override."""
    return parse_assignments(pairs)


# Imported after parse_params: cli.py imports this module while it loads (to add `upload` and
# `run`), and cli_submit imports parse_params from here, whichever module is imported first.
from .cli import (main, pipeline_argument, progress_option, reports_errors, scope_option,  # noqa: E402
                  storage_from_options, storage_options)


@click.command("upload")
@pipeline_argument
@click.option("--create-bucket", is_flag=True, help="create the bucket if it does not exist")
@progress_option
@storage_options
@reports_errors
def upload(pipeline_file: str, root: str | None, create_bucket: bool, **options: Any) -> None:
    """Upload FILE's node archives to object storage (keys are content hashes: unchanged nodes are skipped).

    Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    """
    from .archive_upload import upload as upload_archives

    config = storage_from_options(options)
    results = upload_archives(pipeline_file, root_dir=root, config=config, create_bucket=create_bucket)
    new = sum(1 for r in results if r.uploaded)
    click.echo(f"{len(results)} node archive(s) in s3://{config.bucket}/{config.key('archives')}/ at "
               f"{config.endpoint}: {new} uploaded, {len(results) - new} already there")


@click.command("run")
@pipeline_argument
@click.option("--local", "local", is_flag=True,
              help="run the compiled workflow on this machine (required; clusters: t3qkfp submit)")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="override a run parameter (repeatable)")
@click.option("--workdir", type=click.Path(file_okay=False),
              help="folder in which each run gets its own folder WORKDIR/<run id>/ with the nodes' "
                   "working folders (nodes/<task>/) and results (results/); default: a new temp folder")
@click.option("--results", "results_dir", type=click.Path(file_okay=False),
              help="where to copy the run's files (executed notebooks, logs, outputs); must be new or "
                   "empty; default: results/ in the run's folder")
@click.option("--parallel", type=click.IntRange(min=1), help="nodes run at once (default: CPU count)")
@click.option("--create-bucket", is_flag=True, help="with --endpoint: create the bucket if missing")
@progress_option
@scope_option
@storage_options
@reports_errors
def run(pipeline_file: str, root: str | None, local: bool, params: tuple[str, ...], workdir: str | None,
        results_dir: str | None, parallel: int | None, create_bucket: bool, scope: str,
        **options: Any) -> None:
    """Run FILE's compiled workflow locally: each node as the process its pod would run.

    Without --endpoint a private S3 server (moto) on 127.0.0.1 holds the node files for the
    run and is stopped afterwards; the run's files are copied to the results folder first.
    Every run gets a new folder (WORKDIR/<run id>/), so reusing --workdir keeps earlier runs.
    With --endpoint the given object storage is used with AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY.
    """
    from .local import run_local
    from .local_exec import NODES_FOLDER

    if not local:
        raise UsageError("`t3qkfp run` runs pipelines on this machine and needs --local; "
                         "to run on a Kubeflow cluster use `t3qkfp submit`")
    overrides = parse_params(params)
    explicit = options.get("storage_endpoint") is not None
    config = storage_from_options(options)
    result = run_local(pipeline_file, root_dir=root, params=overrides, storage=config if explicit else None,
                       workdir=workdir, results_dir=results_dir, scope=scope,
                       create_bucket=create_bucket, max_parallel=parallel)
    from .errors import counted

    click.echo(f"run {result.run_id} succeeded ({counted(len(result.nodes), 'node')})")
    for node in result.nodes:
        click.echo(f"  {node.task:<24} {node.status:<10} {node.seconds:6.1f}s  {node.label}")
    click.echo(f"results: {result.results_dir}")
    click.echo(f"node folders: {result.workdir / NODES_FOLDER}")


# When this module is imported before cli.py, cli's own registration saw it half-loaded.
for _command in (upload, run):
    if _command.name not in main.commands:
        main.add_command(_command)
