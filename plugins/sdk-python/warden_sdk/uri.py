"""URI templates as the SDKs use them: ``{name}`` (or ``{+name}``) variables
that match any non-empty text up to the literal that follows, ``/``
included, so ``docs://{path}`` matches ``docs://guides/intro.md`` with
``path = "guides/intro.md"``. Values are percent-decoded. (The same rule as
the Rust SDK's.)"""

from __future__ import annotations

import re
import urllib.parse

_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def parse_template(template: str) -> list[tuple[str, str]]:
    """The parts of a template: ``("lit", text)`` and ``("var", name)``.
    Raises ``ValueError`` for unsupported expressions."""
    parts: list[tuple[str, str]] = []
    rest = template
    while "{" in rest:
        open_at = rest.index("{")
        if open_at > 0:
            parts.append(("lit", rest[:open_at]))
        close = rest.find("}", open_at)
        if close < 0:
            raise ValueError(f"URI template {template!r}: '{{' without '}}'")
        name = rest[open_at + 1 : close]
        name = name[1:] if name.startswith("+") else name
        if not _NAME.match(name):
            raise ValueError(
                f"URI template {template!r}: unsupported expression {{{name}}}; "
                "use {name} or {+name}"
            )
        if parts and parts[-1][0] == "var":
            raise ValueError(f"URI template {template!r}: two variables need a literal between them")
        parts.append(("var", name))
        rest = rest[close + 1 :]
    if rest:
        parts.append(("lit", rest))
    return parts


def variables(template: str) -> list[str]:
    return [value for kind, value in parse_template(template) if kind == "var"]


def match(parts: list[tuple[str, str]], uri: str) -> dict[str, str] | None:
    """The variables ``uri`` matches the template with, or None."""
    found: dict[str, str] = {}
    return found if _match(parts, 0, uri, found) else None


def _match(parts: list[tuple[str, str]], i: int, uri: str, found: dict[str, str]) -> bool:
    if i == len(parts):
        return uri == ""
    kind, value = parts[i]
    if kind == "lit":
        return uri.startswith(value) and _match(parts, i + 1, uri[len(value) :], found)
    if i + 1 == len(parts):
        if not uri:
            return False
        found[value] = urllib.parse.unquote(uri)
        return True
    literal = parts[i + 1][1]
    start = 1
    while True:
        end = uri.find(literal, start)
        if end < 0:
            return False
        attempt = dict(found)
        attempt[value] = urllib.parse.unquote(uri[:end])
        if _match(parts, i + 1, uri[end:], attempt):
            found.clear()
            found.update(attempt)
            return True
        start = end + 1
