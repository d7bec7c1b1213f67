"""Reads descriptions out of docstrings.

Google style (``Args:`` / ``Arguments:`` / ``Parameters:`` sections with
``name: text`` or ``name (type): text`` lines, continued on more-indented
lines) and reST/Sphinx style (``:param name: text``) are understood.
"""

from __future__ import annotations

import inspect
import re

_SECTION = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
_SECTIONS = {
    "args", "arguments", "parameters", "params", "attributes", "fields",
    "returns", "return", "yields", "yield", "raises", "exceptions", "examples",
    "example", "note", "notes", "warning", "warnings", "see also", "todo",
    "references", "other parameters", "keyword arguments", "kwargs",
}
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "attributes", "fields"}
_ARG_LINE = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")


def parse(doc: str | None) -> tuple[str, dict[str, str]]:
    """Splits a docstring into its description (the text before the first
    section, paragraphs kept) and a map of argument name to description."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    base_indent = 0
    for line in lines:
        stripped = line.strip()
        header = _SECTION.match(line)
        if header and not line.startswith(" ") and header.group(1).strip().lower() in _SECTIONS:
            section = header.group(1).strip().lower()
            current = None
            continue
        rest = _REST_PARAM.match(stripped)
        if rest:
            section, current = "rest", rest.group(1)
            args[current] = rest.group(2).strip()
            continue
        if stripped.startswith(":") and section in (None, "rest"):
            # Other reST fields (:returns:, :raises ...:) end the description.
            section, current = "rest", None
            continue
        if section is None:
            summary.append(line)
            continue
        if section == "rest":
            if current and stripped:
                args[current] = (args[current] + " " + stripped).strip()
            continue
        if section not in _ARG_SECTIONS:
            continue
        if not stripped:
            current = None
            continue
        indent = len(line) - len(line.lstrip())
        match = _ARG_LINE.match(stripped)
        if match and (current is None or indent <= base_indent):
            current = match.group(1)
            base_indent = indent
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = (args[current] + " " + stripped).strip()
    return _unwrap(summary), args


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def _unwrap(lines: list[str]) -> str:
    """Joins the lines of each paragraph (docstrings wrap at ~80 columns;
    descriptions should not), keeping blank lines, list items and indented
    lines as they are."""
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        joinable = (
            out
            and out[-1]
            and stripped
            and not _LIST_ITEM.match(line)
            and not line.startswith((" ", "\t"))
            and not out[-1].startswith((" ", "\t"))
        )
        if joinable:
            out[-1] = out[-1] + " " + stripped
        else:
            out.append(line.rstrip() if stripped else "")
    return "\n".join(out).strip()
