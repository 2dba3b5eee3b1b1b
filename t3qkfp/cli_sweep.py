"""`t3qkfp sweep` and `t3qkfp katib`: many runs over run-parameter values, and Katib experiments.

Owns: the sweep options and what is printed — the comparison table on stdout at the end,
one progress line per change on stderr, the CSV/JSON files if asked; and on Ctrl-C, the runs
still on the server. Exit codes: 0 when every run succeeded (or, without --wait on KFP, every run
started), 1 when any failed, 2 usage (a bad combination fails before anything runs).
Must not: echo a credential (the same options and env vars as `submit`).
"""
from __future__ import annotations

import sys
from typing import Any

import click

from .cli import pipeline_argument, reports_errors, scope_option, storage_from_options, storage_options

_PARAM_HELP = ("values of a run parameter to sweep (repeatable): NAME=a,b,c or, for Integer/Float "
               "parameters, NAME=start:stop:step (stop included)")


@click.command("sweep")
@pipeline_argument
@click.option("-p", "--param", "params", multiple=True, required=True, metavar="NAME=VALUES", help=_PARAM_HELP)
@click.option("--random", "random_count", type=click.IntRange(min=1), metavar="N",
              help="run N combinations drawn from the grid instead of all of them")
@click.option("--seed", type=int, help="with --random: the seed, for the same draw again")
@click.option("--max-runs", type=click.IntRange(min=1), default=100, show_default=True,
              help="refuse a sweep of more combinations than this")
@click.option("--parallel", type=click.IntRange(min=1), help="at most this many runs at a time "
              "(default: 1 with --local, all at once on KFP)")
@click.option("--local", is_flag=True, help="run the combinations on this machine (local runner)")
@click.option("--workdir", type=click.Path(file_okay=False), help="with --local: where the run folders go")
@click.option("--host", envvar="T3QKFP_KFP_HOST", show_envvar=True, help="KFP API address (without --local)")
@click.option("--name", "sweep_name", help="name of the sweep (default: pipeline name and time); "
                                           "the KFP experiment is named after it")
@click.option("--experiment", help="KFP experiment (default: the sweep's name)")
@click.option("--pipeline-name", help="name to upload under (default: the pipeline's name)")
@click.option("--namespace", help="Kubeflow profile namespace ($T3QKFP_KFP_NAMESPACE)")
@click.option("--wait", is_flag=True, help="on KFP: follow the runs to their end and collect their metrics")
@click.option("--timeout", type=click.FloatRange(min=0), help="with --wait: stop following after this many seconds")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="with --wait: seconds between status checks")
@click.option("--sort", metavar="METRIC", help="sort the table by this metric")
@click.option("--desc/--asc", "descending", default=False, help="with --sort: largest first (default: smallest)")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False), help="also write the table as CSV")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="also write the sweep as JSON")
@click.option("--token", help="bearer token ($T3QKFP_KFP_TOKEN, preferred)")
@click.option("--cookie", help="authservice_session cookie ($T3QKFP_KFP_COOKIE)")
@click.option("--username", help="Dex username ($T3QKFP_KFP_USERNAME)")
@click.option("--password", help="Dex password ($T3QKFP_KFP_PASSWORD, preferred)")
@click.option("--no-upload", "no_upload", is_flag=True, help="do not upload node files")
@scope_option
@storage_options
@reports_errors
def sweep(pipeline_file: str, root: str | None, params: tuple[str, ...], random_count: int | None, seed: int | None,
          max_runs: int, parallel: int | None, local: bool, workdir: str | None, host: str | None,
          sweep_name: str | None, experiment: str | None, pipeline_name: str | None,
          namespace: str | None, wait: bool, timeout: float | None, poll_interval: float,
          sort: str | None, descending: bool, csv_file: str | None, json_file: str | None,
          token: str | None, cookie: str | None, username: str | None, password: str | None,
          no_upload: bool, scope: str, **options: Any) -> None:
    """Run FILE once per combination of the given values and compare the runs' metrics.

    Every combination is checked against FILE's run parameters before anything runs. The table
    (run, status, swept parameters, every metric) goes to stdout; a failed run is a row.
    """
    from .elyra_reader import load
    from .errors import UsageError
    from .params import plan
    from .sweep_values import combinations, grid_from_options
    from .sweeps import still_on_server, sweep as sweep_kfp, sweep_local

    def progress(line: str) -> None:
        click.echo(f"t3qkfp: {line}", err=True)

    pipeline = load(pipeline_file, root_dir=root)
    the_plan = plan(pipeline, scope=scope)
    grid = grid_from_options(the_plan, params)
    combinations(the_plan, grid, random=random_count, seed=seed, max_runs=max_runs)  # fail before connecting
    if local:
        for flag, value in (("--wait", wait), ("--timeout", timeout)):
            if value:
                raise UsageError(f"{flag} is for sweeps on KFP; a --local sweep always runs to the end")
        result = sweep_local(pipeline, grid, random=random_count, seed=seed, max_runs=max_runs,
                             parallel=parallel or 1, workdir=workdir, scope=scope, name=sweep_name,
                             on_progress=progress)
    else:
        if not host:
            raise UsageError("a sweep runs on KFP (--host or $T3QKFP_KFP_HOST) or here (--local)")
        if workdir:
            raise UsageError("--workdir is for --local sweeps")
        from .kfp_auth import KfpAuth

        storage = storage_from_options(options)
        auth = KfpAuth.resolve(token=token, cookie=cookie, username=username, password=password)

        def started(run: Any) -> None:
            progress(f"run #{run.index} started: {run.run_id} {run.url}")

        result = sweep_kfp(pipeline, grid, host=host, random=random_count, seed=seed, max_runs=max_runs,
                           parallel=parallel, wait=wait, experiment=experiment, name=sweep_name,
                           pipeline_name=pipeline_name, namespace=namespace, auth=auth, storage=storage,
                           upload_files=not no_upload, timeout=timeout, poll_interval=poll_interval,
                           on_progress=progress, on_started=started)
    if sort and sort not in result.metric_names:
        progress(f"no run reported metric {sort!r}; the table is not sorted")
        sort = None
    click.echo(result.text(sort, descending=descending))
    if csv_file:
        result.to_csv(csv_file, sort=sort, descending=descending)
        progress(f"wrote {csv_file}")
    if json_file:
        result.to_json(json_file, sort=sort, descending=descending)
        progress(f"wrote {json_file}")
    left = still_on_server(result) if not local else []
    if result.interrupted:
        progress("interrupted: no further runs launched"
                 + (f"; still on the server: {', '.join(r.run_id for r in left)}" if left else ""))
        sys.exit(130)
    if wait and left:
        progress(f"stopped following (--timeout); still on the server: {', '.join(r.run_id for r in left)}")
    ok = {"succeeded"} if (local or wait) else {"succeeded", "started"}
    if any(r.status.lower() not in ok for r in result.runs):
        sys.exit(1)


@click.command("katib")
@pipeline_argument
@click.option("--objective", required=True, metavar="METRIC", help="the metric to optimize (a name in the node's metrics file)")
@click.option("--goal", type=click.Choice(["maximize", "minimize"]), default="maximize", show_default=True)
@click.option("--objective-goal", type=float, help="stop when the objective reaches this value")
@click.option("--metric", "additional_metrics", multiple=True, metavar="METRIC", help="also record this metric (repeatable)")
@click.option("--param", "params", multiple=True, required=True, metavar="NAME=KIND:...",
              help="search this run parameter (repeatable): NAME=double:MIN:MAX[:STEP], NAME=int:MIN:MAX[:STEP] "
                   "or NAME=categorical:a,b; the others keep their defaults")
@click.option("--algorithm", type=click.Choice(["random", "grid", "bayesianoptimization", "tpe", "hyperband", "cmaes"]),
              default="random", show_default=True)
@click.option("--max-trials", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--parallel", type=click.IntRange(min=1), default=3, show_default=True, help="trials at a time")
@click.option("--max-failed", type=click.IntRange(min=0), help="stop after this many failed trials (default: max trials)")
@click.option("--metrics-node", metavar="TASK", help="the node whose metrics file Katib reads (default: the only last node)")
@click.option("--name", "experiment_name", help="the Experiment's name (default: the pipeline's name)")
@click.option("--namespace", help="the Kubeflow profile namespace to create it in")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="where to write the YAML ('-' prints it)")
@scope_option
@storage_options
@reports_errors
def katib(pipeline_file: str, root: str | None, objective: str, goal: str, objective_goal: float | None,
          additional_metrics: tuple[str, ...], params: tuple[str, ...], algorithm: str, max_trials: int,
          parallel: int, max_failed: int | None, metrics_node: str | None, experiment_name: str | None,
          namespace: str | None, output: str, scope: str, **options: Any) -> None:
    """Write a Katib v1beta1 Experiment (Katib 0.10, Kubeflow 1.2) whose trials run FILE's workflow.

    Apply it with `kubectl apply -f`; the cluster needs Katib allowed to run Argo Workflows
    (--trial-resources=Workflow.v1alpha1.argoproj.io) and the metrics-collector injection label
    on the namespace (see README).
    """
    from pathlib import Path

    from .go_yaml import dump as dump_yaml
    from .katib import katib_experiment

    experiment = katib_experiment(pipeline_file, root_dir=root, objective=objective, goal=goal, params=params,
                                  algorithm=algorithm, max_trials=max_trials, parallel=parallel,
                                  max_failed=max_failed, objective_goal=objective_goal,
                                  additional_metrics=additional_metrics, name=experiment_name,
                                  namespace=namespace, metrics_node=metrics_node,
                                  storage=storage_from_options(options), scope=scope)
    text = dump_yaml(experiment)
    if output == "-":
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output} (Katib Experiment {experiment['metadata']['name']!r}, "
               f"{len(experiment['spec']['parameters'])} searched parameters)")
