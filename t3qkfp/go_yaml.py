"""Go-safe YAML text: what PyYAML and Go's YAML 1.1 reader (ghodss/yaml on go-yaml v2) both read
back unchanged, written byte for byte as libyaml's block emitter writes it.

Owns: the string style rule (double quotes wherever go-yaml could read a number, bool or null,
literal blocks for multi-line text; kfp 1.2's own dump_yaml leaves `1e3`, `08`, `y`, `on` plain:
research/reliability.md §2.1) and the one function that turns a workflow dict into that text.
Must not: change the document; import kfp.

Why a writer of our own beside libyaml: PyYAML's C emitter still represents, resolves and
serializes every node in Python (about a third of a 2,000-node compile went there). A workflow is
plain nested dicts, lists and strings, so this module writes the block layout itself and asks
libyaml (through the same dumper) only how each distinct scalar is written, once per scalar; the
strings that make up nearly all of a workflow (names, base64, `{{inputs.parameters.X}}`) are
classified by rules that give libyaml's own answer. Anything outside the layout it knows (non-str
keys, long or multi-line keys, shared sub-objects that would become anchors, `|+` blocks, other
types) is handed whole to libyaml, so the text is always the reference dumper's.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

# YAML 1.1 words go-yaml v2 resolves to bool/null (resolve.go), compared case-insensitively.
_GO_SPECIAL = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "", "<<",
                         ".nan", ".inf", "-.inf", "+.inf"})


class _GoSafeDumper(yaml.CSafeDumper):
    """libyaml's C emitter with a string representer that quotes what Go would misread."""


def _style(text: str) -> str | None:
    # Literal blocks for multi-line text (libyaml falls back to double quotes where a block
    # cannot hold it exactly); double quotes wherever go-yaml could read a number, bool or null.
    style = "|" if "\n" in text else None
    if text.lower() in _GO_SPECIAL or text[:1] in "0123456789+-." or text != text.strip():
        style = '"'
    return style


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=_style(text))


_GoSafeDumper.add_representer(str, _represent_str)


def reference_dump(document: Any) -> str:
    """The reference text: PyYAML over libyaml with the Go-safe string styles."""
    return yaml.dump(document, Dumper=_GoSafeDumper, default_flow_style=False, sort_keys=False,
                     allow_unicode=False, width=1 << 30)


# Strings libyaml writes plain in block context, without asking it: a first character that is
# no indicator and starts no number (those are quoted by _style), then no ': ', ' #', flow
# indicators, quotes, escapes or non-ASCII. Words in _GO_SPECIAL are double-quoted by _style.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./=+ -]*")
# Printable ASCII without quote or backslash: double quotes hold it as it is.
_QUOTABLE = re.compile(r"[ !#-\[\]-~]*")
# A KFP template reference: its `{` makes libyaml choose single quotes, which hold it as it is.
_TEMPLATE_REF = re.compile(r"\{\{[A-Za-z0-9_.-]+\}\}")
_SIMPLE_KEY_MAX = 127  # libyaml writes a longer key as a complex `? ` key: left to libyaml


class _Unsupported(Exception):
    """A part of the document this writer does not lay out; libyaml writes the whole of it."""


def dump(document: Any) -> str:
    """The document as Go-safe YAML text, identical to reference_dump(document)."""
    if type(document) is not dict or not document:
        return reference_dump(document)
    try:
        out: list[str] = []
        _Writer(out).mapping(document, 0)
        return "".join(out)
    except _Unsupported:
        return reference_dump(document)


class _Writer:
    """libyaml's block layout: keys at the mapping's column, a sequence under a key at the key's
    column, a mapping or sequence in a sequence item starting on the dash's line, scalars written
    as libyaml writes them (block scalars' lines two columns right of their mapping or dash)."""

    __slots__ = ("out", "seen", "scalars")

    def __init__(self, out: list[str]) -> None:
        self.out = out
        self.seen: set[int] = set()  # ids of containers: one met twice would be a YAML anchor
        self.scalars: dict[Any, tuple[str, tuple[str, ...] | None]] = {}

    def _enter(self, container: Any) -> None:
        key = id(container)
        if key in self.seen:
            raise _Unsupported
        self.seen.add(key)

    def mapping(self, mapping: dict[Any, Any], column: int) -> None:
        """Every key of a non-empty mapping at `column`; the first one where the caller left off."""
        self._enter(mapping)
        out = self.out
        pad = " " * column
        first = True
        for key, value in mapping.items():
            if type(key) is not str or len(key) > _SIMPLE_KEY_MAX or not (key.isascii() and key.isprintable()):
                raise _Unsupported  # libyaml's complex `? ` keys (long, or with any line break)
            text, block = self.scalar(key)
            if block is not None:
                raise _Unsupported
            if not first:
                out.append(pad)
            first = False
            out.append(text)
            out.append(":")
            self.value(value, column, after_key=True)

    def sequence(self, items: list[Any], column: int) -> None:
        """Every item of a non-empty sequence as `- item` at `column`; the first where the caller left off."""
        self._enter(items)
        out = self.out
        pad = " " * column
        first = True
        for item in items:
            if not first:
                out.append(pad)
            first = False
            out.append("- ")
            self.value(item, column, after_key=False)

    def value(self, value: Any, column: int, *, after_key: bool) -> None:
        """A value after `key:` or `- ` written at `column`. Under a key a mapping goes on the next
        line two columns right, a sequence on the next line at the key's column; after a dash both
        start on the dash's line, two columns right. Block scalars' lines: two columns right."""
        out = self.out
        inner = column + 2
        kind = type(value)
        if kind is dict or kind is list:
            if not value:
                self._enter(value)
                out.append((" " if after_key else "") + ("{}\n" if kind is dict else "[]\n"))
            elif kind is dict:
                if after_key:
                    out.append("\n" + " " * inner)
                self.mapping(value, inner)
            elif after_key:
                out.append("\n" + " " * column)
                self.sequence(value, column)
            else:
                self.sequence(value, inner)
            return
        text, block = self.scalar(value)
        out.append(" " + text if after_key else text)
        if block is not None:
            pad = " " * inner
            for line in block:
                out.append("\n" + pad + line if line else "\n")
        out.append("\n")

    def scalar(self, value: Any) -> tuple[str, tuple[str, ...] | None]:
        """(first line, None) for a one-line scalar; (block header, lines) for a literal block."""
        kind = type(value)
        if kind is str:
            cached = self.scalars.get(value)
            if cached is not None:
                return cached
            key: Any = value
            result = _classify(value) or _ask_libyaml(value)
        elif kind is bool or kind is int or kind is float or value is None:
            key = (kind, value)
            cached = self.scalars.get(key)
            if cached is not None:
                return cached
            result = _ask_libyaml(value)
        else:
            raise _Unsupported
        self.scalars[key] = result
        return result


def _classify(text: str) -> tuple[str, None] | None:
    """libyaml's rendering of the strings that make up nearly all of a workflow, or None to ask it."""
    style = _style(text)
    if style is None and _PLAIN.fullmatch(text) and text[-1] != " ":
        return text, None
    if style == '"' and _QUOTABLE.fullmatch(text):
        return '"' + text + '"', None
    if style is None and _TEMPLATE_REF.fullmatch(text):
        return "'" + text + "'", None
    return None


def _ask_libyaml(value: Any) -> tuple[str, tuple[str, ...] | None]:
    """How libyaml writes one scalar as a mapping value, told apart into first line and block lines."""
    text = reference_dump({"k": value})
    if not text.startswith("k: ") or not text.endswith("\n"):
        raise _Unsupported
    lines = text[3:-1].split("\n")
    head = lines[0]
    if head[:1] in "|>":
        if "+" in head:  # a kept final line break can make libyaml end the document with '...'
            raise _Unsupported
        if any(line and not line.startswith("  ") for line in lines[1:]):
            raise _Unsupported
        return head, tuple(line[2:] for line in lines[1:])
    if len(lines) != 1:
        raise _Unsupported
    return head, None
