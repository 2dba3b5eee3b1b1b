"""Reading stage 1, the document envelope: a path, JSON text, bytes or a dict → one parsed document.

Owns: the input forms `load()` accepts and the name each gives in problems, the file's size
limit and read errors, UTF-8 (a BOM is not part of the document) and strict JSON (NaN, Infinity
and duplicate keys refused, which Python's json accepts silently); and `Findings`, where every
later stage reports what it met in that document. Why separate: nothing here knows Elyra's
field names, and nothing in the later stages knows files or text.
Must not: look inside the document beyond parsing it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import Location, Problem, shown
from .user_files import NotRegularFile, TooLarge, read_regular

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Findings:
    """What reading one document met, each located in its file: problems refuse the pipeline,
    notes are warnings (input read the way Elyra reads it, which is not as written), `refused`
    holds the ids of nodes refused with a problem (links to them are not also dangling).

    Why one collector for every stage: the user sees every problem of a file at once, in the
    order reading met them, so the stages report here instead of raising.
    """

    source: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def problem(self, message: str, *, hint: str = "", node_id: str | None = None,
                label: str | None = None, field_: str | None = None) -> None:
        self.problems.append(Problem(
            location=Location(file=self.source, node_id=node_id, node_label=label, field=field_),
            message=message, hint=hint))

    def note(self, message: str, *, node_id: str | None = None, label: str | None = None,
             field_: str | None = None) -> None:
        """A warning, not a problem: the text was read as Elyra reads it, which is not as written.

        Pipeline defaults are read once per node; their warning names no node and is kept once.
        """
        if field_ and field_.startswith("pipeline_defaults."):
            node_id = label = None
        note = Problem(location=Location(file=self.source, node_id=node_id, node_label=label, field=field_),
                       message=message)
        if note not in self.notes:
            self.notes.append(note)


class _JsonProblem(ValueError):
    """Raised inside the strict JSON hooks; turned into a Problem by _parse_json."""


def document(pipeline_json: Any, name: str | None = None) -> tuple[Any, Findings, Path]:
    """The parsed JSON (None when the input is unusable), the findings so far (named as the
    input's problems will be) and the folder node files are found in unless the caller says."""
    named, parsed, problems, default_base = _document(pipeline_json, name)
    return parsed, Findings(source=named, problems=problems), default_base


def _document(pipeline_json: Any, name: str | None = None) -> tuple[str, Any, list[Problem], Path]:
    """Turn the accepted input forms into (source name, parsed JSON, problems, default base dir)."""
    cwd = Path.cwd()
    if isinstance(pipeline_json, Mapping):
        return name or "<dict>", dict(pipeline_json), [], cwd
    if isinstance(pipeline_json, (bytes, bytearray)):
        name = name or "<bytes>"
        try:
            text = bytes(pipeline_json).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return name, None, [_file_problem(name, f"not UTF-8 text: {exc}")], cwd
        return (name, *_parse_json(name, text), cwd)
    if isinstance(pipeline_json, str) and pipeline_json.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        name = name or "<string>"
        # a BOM (JSON text read with encoding="utf-8") is not part of the document, as for bytes
        text = pipeline_json.lstrip(" \t\r\n")
        return (name, *_parse_json(name, text[1:] if text.startswith("\ufeff") else text), cwd)
    if isinstance(pipeline_json, str) and ("\n" in pipeline_json or len(pipeline_json) > 4096):
        # no file name holds a newline or is that long: text that is not JSON, not a path
        return "<string>", None, [_file_problem(
            "<string>", f"neither JSON text nor a file path: text of {len(pipeline_json)} characters "
                        f"starting {shown(pipeline_json[:40])}",
            "pass the pipeline's path, or its JSON text starting with '{'")], cwd
    if isinstance(pipeline_json, (str, os.PathLike)):
        path = Path(pipeline_json)
        source = str(path)
        try:
            raw = read_regular(path, MAX_FILE_BYTES)
        except TooLarge:
            return source, None, [_file_problem(source, f"file is larger than {MAX_FILE_BYTES} bytes")], cwd
        except NotRegularFile as exc:
            return source, None, [_file_problem(source, f"cannot read file: it is {exc}")], cwd
        except FileNotFoundError:
            return source, None, [_file_problem(source, "file not found")], cwd
        except OSError as exc:
            return source, None, [_file_problem(source, f"cannot read file: {exc.strerror or exc}")], cwd
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return source, None, [_file_problem(source, f"not UTF-8 text: {exc}")], cwd
        return (source, *_parse_json(source, text), path.parent)
    kind = type(pipeline_json).__name__
    return "<input>", None, [_file_problem(
        "<input>", f"cannot read a pipeline from a {kind}",
        "pass a path, JSON text, bytes or a dict")], cwd


def _file_problem(source: str, message: str, hint: str = "") -> Problem:
    return Problem(location=Location(file=source), message=message, hint=hint)


def _parse_json(source: str, text: str) -> tuple[Any, list[Problem]]:
    """Strict JSON: NaN/Infinity and duplicate keys are errors, not silently accepted as Python does."""
    def reject_constant(name: str) -> Any:
        raise _JsonProblem(f"{name} is not valid JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise _JsonProblem(f"duplicate key {key!r} in one object")
            result[key] = value
        return result

    try:
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=no_duplicates), []
    except json.JSONDecodeError as exc:
        return None, [_file_problem(source, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                    "a .pipeline file is the JSON Elyra's pipeline editor saves")]
    except _JsonProblem as exc:
        return None, [_file_problem(source, f"invalid JSON: {exc}")]
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        return None, [_file_problem(source, f"invalid JSON: {exc}")]
    except RecursionError:
        return None, [_file_problem(source, "invalid JSON: nested too deeply")]
