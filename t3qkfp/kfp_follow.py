"""Following one KFP run to its end (`submit --wait`): the run's status, each node's phase, a heartbeat.

Owns: polling a started run at `poll_interval` (kfp's own `wait_for_run_completion` sleeps 5 s
between polls and prints nothing), reporting each change of the run's status and of each pod's
phase (read from the Argo workflow status KFP stores with the run), a line after HEARTBEAT
seconds without news, and how following ends: success, SubmittedRunError naming the run and
its link, or WaitInterrupted on Ctrl-C (the run goes on on the server). Also which statuses are
final (TERMINAL), which sweeps reads too. Separate from kfp_submit because following is a loop
with its own state and time, after everything was created. Must not: create anything.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable

from .errors import SubmitError, SubmittedRunError, WaitInterrupted, shown
from .kfp_client import KfpConnection
from .progress import duration

TERMINAL = {"succeeded", "failed", "error", "skipped", "terminated"}
HEARTBEAT = 30.0  # seconds without news after which --wait says the run is still going
ARGO_PHASES = frozenset({"Pending", "Running", "Succeeded", "Skipped", "Failed", "Error", "Omitted"})


def follow(connection: KfpConnection, *, run_id: str, run_url: str, run_name: str | None,
           timeout: float | None, poll_interval: float, report: Callable[[str], None]) -> str:
    """Poll the run until it ends; SubmittedRunError (with the run's id and URL) unless it succeeded.

    Polls every `poll_interval` seconds, but never sleeps past `timeout`: the last poll is at
    the deadline, and a timeout reports the time really spent.
    """
    start = time.monotonic()
    news = _News(run_name=run_name, report=report)

    def failure(message: str) -> SubmittedRunError:
        return SubmittedRunError(message, run_id=run_id, run_url=run_url, run_name=run_name,
                                 status=news.last)

    action = "following the run"
    try:
        while True:
            try:
                detail = connection.call(action, connection.client.get_run, run_id)
                run = connection.need(action, detail, "run", f"the run {run_id}")
            except SubmitError as exc:
                raise failure(f"{exc}; the run goes on on the server: {run_url}") from None
            status = run.status or "Pending"
            elapsed = time.monotonic() - start
            news.tell(status, node_phases(detail), elapsed)
            if status.lower() in TERMINAL:
                if status.lower() != "succeeded":
                    error = run.error or ""
                    raise failure(f"run {shown(run_name)} ({run_id}) ended {status}"
                                  f"{': ' + connection.errors.foreign(error) if error else ''}; see {run_url}")
                return status
            if timeout is not None:
                left = timeout - elapsed
                if left <= 0:
                    raise failure(f"run {shown(run_name)} ({run_id}) is still {status} after "
                                  f"{_seconds(elapsed)} (timeout {timeout:g} s); it goes on on the "
                                  f"server: {run_url}")
                time.sleep(min(poll_interval, left))
            else:
                time.sleep(poll_interval)
    except KeyboardInterrupt:
        raise WaitInterrupted(f"interrupted: run {shown(run_name)} ({run_id}) goes on on the "
                              f"server: {run_url}", run_id=run_id, run_url=run_url, run_name=run_name,
                              status=news.last) from None


class _News:
    """What following has already said, so each poll reports only what changed (or a heartbeat)."""

    def __init__(self, *, run_name: str | None, report: Callable[[str], None]):
        self.run_name = run_name
        self.report = report
        self.last: str | None = None  # the run's status last reported
        self.seen: dict[str, str] = {}  # node phases already reported
        self.said = 0.0  # when the last line was reported (for the heartbeat)

    def tell(self, status: str, nodes: dict[str, str], elapsed: float) -> None:
        """Report new node phases, then a new run status, or a heartbeat after HEARTBEAT s of silence."""
        for task, phase in nodes.items():
            if self.seen.get(task) != phase:
                shown_phase = phase if phase in ARGO_PHASES else shown(phase)
                self.report(f"node {shown(task)}: {shown_phase} ({duration(elapsed)})")
                self.said = elapsed
        self.seen.update(nodes)
        if status != self.last:
            self.report(f"run {shown(self.run_name)}: {status} ({duration(elapsed)})")
            self.last, self.said = status, elapsed
        elif elapsed - self.said >= HEARTBEAT and status.lower() not in TERMINAL:
            running = [shown(task) for task, phase in self.seen.items() if phase == "Running"]
            self.report(f"run {shown(self.run_name)}: still {status} after {duration(elapsed)}"
                        + (f" (running: {', '.join(running)})" if running else ""))
            self.said = elapsed


def node_phases(detail: Any) -> dict[str, str]:
    """Each pod's phase from the run's Argo workflow status, as the KFP dashboard reads it.

    KFP's persistence agent stores the workflow (with `status.nodes`) in the run detail's
    `pipeline_runtime.workflow_manifest`; a manifest that is missing or unreadable just means no
    node lines (the run's own status is still followed).
    """
    try:
        manifest = json.loads(detail.pipeline_runtime.workflow_manifest or "{}")
        nodes = (manifest.get("status") or {}).get("nodes") or {}
        pods = [n for n in nodes.values() if isinstance(n, dict) and n.get("type") == "Pod"]
        pods.sort(key=lambda n: (str(n.get("startedAt") or ""), str(n.get("id") or "")))
        return {str(n.get("displayName") or n.get("name")): str(n.get("phase") or "Pending") for n in pods}
    except (AttributeError, TypeError, ValueError):
        return {}


def _seconds(value: float) -> str:
    """A duration for messages: 0.05 s, 2.3 s, 125 s."""
    if value < 1:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"
