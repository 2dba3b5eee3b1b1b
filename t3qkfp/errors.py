"""The one exception tree of t3qkfp, and the location every user-facing problem carries.

Owns: the message format ("file: node 'label' (id): field: what; hint"), exit codes per class and
"did you mean" suggestions. Must not print: the CLI decides where messages go.
"""
from __future__ import annotations

import difflib
import reprlib
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where a problem is: the pipeline file, the node (id and label) and the field.

    Every problem a user sees names these, so the user can find it in Elyra's editor without
    reading our code or the compiled YAML.
    """

    file: str | None = None
    node_id: str | None = None
    node_label: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(bounded(self.file, MAX_FILE_SHOWN))
        if self.node_id is not None or self.node_label is not None:
            parts.append(f"node '{self.node_label or ''}' ({self.node_id or '?'})")
        if self.field:
            parts.append(self.field)
        return ": ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with the input: where, what, and how to fix it."""

    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return bounded(printable(text), MAX_PROBLEM_SHOWN)


class T3qkfpError(Exception):
    """Root of every error t3qkfp raises on purpose; the CLI maps it to `exit_code`."""

    exit_code = 1

    def format_message(self) -> str:
        """The text a user sees; subclasses with several problems print one per line."""
        return str(self)


class UsageError(T3qkfpError):
    """Bad arguments to the API or the CLI (unknown option value, unknown run parameter)."""

    exit_code = 2


class PipelineError(T3qkfpError):
    """The pipeline cannot be compiled; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.format_message())

    def format_message(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        return "\n".join([head, *(str(p) for p in self.problems)])


class StorageError(T3qkfpError):
    """Object storage could not be reached or refused a request (credentials, bucket, endpoint)."""


class RunError(T3qkfpError):
    """A local run failed; the message names the node."""


class Interrupted(RunError):
    """Ctrl-C stopped a local run: the message lists each node's state and the run folder.

    Exit code 130 (128 + SIGINT), what a shell reports for a program stopped by Ctrl-C.
    """

    exit_code = 130


class SubmitError(T3qkfpError):
    """The Kubeflow Pipelines server could not be reached or refused a request."""


class SubmittedRunError(SubmitError):
    """The run was started but did not succeed, or could not be followed to its end (wait=True).

    Carries what a caller needs to look at the run, which goes on existing on the server:
    `run_id`, `run_url`, `run_name`, and `status`, the last status seen (None if none was).
    """

    def __init__(self, message: str, *, run_id: str, run_url: str, run_name: str | None = None,
                 status: str | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.run_url = run_url
        self.run_name = run_name
        self.status = status


class WaitInterrupted(SubmittedRunError):
    """Ctrl-C while following a submitted run: it goes on on the server (exit code 130)."""

    exit_code = 130


class GraphvizUnavailable(T3qkfpError):
    """Drawing needs the `graphviz` Python package and Graphviz's `dot` program; one is missing.

    A T3qkfpError so the CLI prints it as a one-line problem (exit 1), and so a notebook can
    catch it and still show the table.
    """


class InternalError(T3qkfpError):
    """A bug in t3qkfp: the compiled workflow broke one of our own invariants.

    The CLI shows these with a traceback, because the user's input is not at fault.
    """

    exit_code = 3


_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlevel = 3


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 node`, `3 nodes`: counts in messages and titles read as English."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def shown(value: object) -> str:
    """A short, safe repr of user input for messages: bounded length and depth, no raw escapes.

    A 200 KB value or a list nested 5,000 deep must not flood the terminal or overflow repr.
    """
    try:
        return _REPR.repr(value)
    except RecursionError:
        return f"<deeply nested {type(value).__name__}>"


MAX_FILE_SHOWN = 300  # characters of a file name in a location
MAX_PROBLEM_SHOWN = 2000  # characters of one problem line: every message stays readable


FOREIGN_TEXT = 300  # characters of a server's or library's message quoted in ours


def bounded(text: str, limit: int) -> str:
    """`text`, or its start and end around a note of how much was left out when over `limit`."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 2)
    return f"{text[:keep * 2 // 3]}...({len(text) - keep} characters left out)...{text[len(text) - keep // 3:]}"


def printable(text: str) -> str:
    """Text safe to print on a terminal: control characters (ESC, BEL, ...) shown as escapes."""
    return "".join(ch if ch.isprintable() or ch in "\t" else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' Did you mean ...?' suffix for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""
