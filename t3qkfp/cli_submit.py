"""`t3qkfp submit`: compile FILE and start it (or schedule it) on a Kubeflow Pipelines 1.2 server.

Owns: the submit options, where credentials are read from (option, else T3QKFP_KFP_* env var,
never the pipeline file), and what is printed: the result lines (pipeline, version,
experiment, run id and dashboard URL) on stdout as soon as the run exists — before --wait follows
it, so they are there however the run ends — then `status: ...` when it succeeded; progress and
run status on stderr.
Exit codes as everywhere: 0 success, 1 a failed submission or a failed run (--wait), 2 usage.
Must not: echo a credential. Prefer the env vars to the options for secrets: options land in
shell history and `ps`.
"""
from __future__ import annotations

from typing import Any

import click

from .cli import pipeline_argument, progress_option, reports_errors, storage_from_options, storage_options
from .cli_runtime import parse_params


@click.command("submit")
@pipeline_argument
@click.option("--host", required=True, envvar="T3QKFP_KFP_HOST", show_envvar=True,
              help="KFP API address, e.g. http://127.0.0.1:8888/pipeline or https://kubeflow.example.com/pipeline")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="override a run parameter (repeatable); the others keep their defaults")
@click.option("--experiment", help="experiment to run in (default: the pipeline name); created if missing")
@click.option("--run-name", help="name of the run or recurring run (default: pipeline name and time)")
@click.option("--pipeline-name", help="name to upload under (default: the pipeline's name); an existing "
                                      "pipeline of that name gets a new version")
@click.option("--namespace", help="your Kubeflow profile namespace on a multi-user cluster ($T3QKFP_KFP_NAMESPACE)")
@click.option("--wait", is_flag=True, help="follow the run to its end; exit 1 if it does not succeed")
@click.option("--timeout", type=click.FloatRange(min=0),
              help="stop following the run after this many seconds (the run goes on); needs --wait")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="with --wait: seconds between status checks")
@click.option("--cron", metavar="EXPR", help="create a recurring run instead: 5-field cron "
                                             "('0 6 * * *') or KFP's 6-field form (seconds first)")
@click.option("--token", help="bearer token ($T3QKFP_KFP_TOKEN, preferred: options show in `ps`)")
@click.option("--cookie", help="authservice_session cookie of a Kubeflow 1.2 cluster ($T3QKFP_KFP_COOKIE)")
@click.option("--username", help="Dex username to log in with ($T3QKFP_KFP_USERNAME)")
@click.option("--password", help="Dex password ($T3QKFP_KFP_PASSWORD, preferred)")
@click.option("--no-upload", "no_upload", is_flag=True,
              help="do not upload node files (they are already in the bucket)")
@progress_option
@storage_options
@reports_errors
def submit(pipeline_file: str, root: str | None, host: str, params: tuple[str, ...], experiment: str | None,
           run_name: str | None, pipeline_name: str | None, namespace: str | None, wait: bool,
           timeout: float | None, poll_interval: float, cron: str | None, token: str | None, cookie: str | None,
           username: str | None, password: str | None, no_upload: bool, **options: Any) -> None:
    """Compile FILE, upload it to KFP (a new version if the pipeline exists) and start a run.

    Prints the run id and its dashboard URL (before --wait follows the run). Credentials: --token,
    --cookie or --username/--password, else the T3QKFP_KFP_TOKEN / _COOKIE / _USERNAME /
    _PASSWORD env vars.
    """
    from .kfp_auth import KfpAuth
    from .kfp_submit import SubmitResult, submit as submit_pipeline

    overrides = parse_params(params)
    storage = storage_from_options(options)
    auth = KfpAuth.resolve(token=token, cookie=cookie, username=username, password=password)

    def status(line: str) -> None:
        click.echo(f"t3qkfp: {line}", err=True)

    def started(result: SubmitResult) -> None:
        for line in result.lines():
            click.echo(line)  # click.echo flushes: the run id is out before --wait follows the run

    result = submit_pipeline(pipeline_file, root_dir=root, host=host, experiment=experiment, run_name=run_name,
                             params=overrides, pipeline_name=pipeline_name, namespace=namespace,
                             auth=auth, wait=wait, timeout=timeout, poll_interval=poll_interval,
                             schedule=cron, storage=storage, upload_files=not no_upload,
                             on_status=status, on_started=started)
    if result.status:
        click.echo(f"status: {result.status}")
