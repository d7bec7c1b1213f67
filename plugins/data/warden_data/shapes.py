"""The shape of JSON documents: keys, types, array lengths, bounded in depth
and size."""

from __future__ import annotations

import collections
import encodings.utf_8_sig  # noqa: F401 - see the note in app.py
import heapq  # noqa: F401 - Counter.most_common imports it when called
import json
from typing import Any

from warden_sdk import InvalidArguments

from .files import open_data_file, read_bytes

#: Largest document parsed (JSON Lines: bytes read).
MAX_BYTES = 8 << 20
#: Array items looked at, per array.
MAX_ITEMS = 1_000
#: Shape nodes in all (each distinct key path is one).
MAX_NODES = 2_000
#: Values looked at in all (nested arrays multiply).
MAX_VALUES = 200_000
#: Lines in the text outline.
MAX_LINES = 200


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Budget:
    def __init__(self) -> None:
        self.nodes = 0
        self.values = 0
        self.exhausted = False

    def visit(self) -> bool:
        self.values += 1
        if self.values > MAX_VALUES:
            self.exhausted = True
            return False
        return True

    def take(self) -> bool:
        if self.nodes >= MAX_NODES:
            self.exhausted = True
            return False
        self.nodes += 1
        return True


class Shape:
    """What was seen at one path of a document (merged over array items)."""

    def __init__(self) -> None:
        self.count = 0
        self.types: collections.Counter[str] = collections.Counter()
        self.objects = 0
        self.keys: dict[str, Shape] = {}
        self.key_counts: collections.Counter[str] = collections.Counter()
        self.keys_dropped = False
        self.items: Shape | None = None
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.items_sampled = False
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.examples: list[str] = []
        self.cut = False

    def observe(self, value: Any, depth: int, max_depth: int, budget: Budget) -> None:
        if not budget.visit():
            return
        self.count += 1
        kind = json_type(value)
        self.types[kind] += 1
        if kind == "object":
            self.objects += 1
            if depth >= max_depth:
                self.cut = True
                return
            for key, item in value.items():
                child = self.keys.get(key)
                if child is None:
                    if not budget.take():
                        self.keys_dropped = True
                        continue
                    child = self.keys[key] = Shape()
                self.key_counts[key] += 1
                child.observe(item, depth + 1, max_depth, budget)
        elif kind == "array":
            length = len(value)
            self.min_length = length if self.min_length is None else min(self.min_length, length)
            self.max_length = length if self.max_length is None else max(self.max_length, length)
            if depth >= max_depth:
                self.cut = bool(value) or self.cut
                return
            if length > MAX_ITEMS:
                self.items_sampled = True
            for item in value[:MAX_ITEMS]:
                if self.items is None:
                    if not budget.take():
                        break
                    self.items = Shape()
                self.items.observe(item, depth + 1, max_depth, budget)
        elif kind in ("integer", "number"):
            self.minimum = value if self.minimum is None else min(self.minimum, value)
            self.maximum = value if self.maximum is None else max(self.maximum, value)
        elif kind == "string" and len(self.examples) < 3:
            example = value if len(value) <= 40 else value[:39] + "…"
            if example not in self.examples:
                self.examples.append(example)

    def type_name(self) -> str | list[str]:
        names = [t for t, _ in self.types.most_common()]
        return names[0] if len(names) == 1 else names

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type_name(), "count": self.count}
        if self.objects:
            out["keys"] = {
                key: {**child.to_json(), "present": self.key_counts[key]}
                for key, child in self.keys.items()
            }
            if self.keys_dropped:
                out["more_keys"] = True
        if self.max_length is not None:
            out["length"] = {"min": self.min_length, "max": self.max_length}
            if self.items is not None:
                out["items"] = self.items.to_json()
            if self.items_sampled:
                out["items_sampled"] = MAX_ITEMS
        if self.minimum is not None:
            out["min"], out["max"] = self.minimum, self.maximum
        if self.examples:
            out["examples"] = self.examples
        if self.cut:
            out["depth_limit_reached"] = True
        return out

    def outline(self, path: str, lines: list[str], parent_objects: int | None = None,
                present: int | None = None) -> None:
        if len(lines) >= MAX_LINES:
            return
        kinds = "|".join(t for t, _ in self.types.most_common())
        details = []
        if present is not None and parent_objects is not None and present < parent_objects:
            details.append(f"in {present} of {parent_objects}")
        if self.objects and (self.keys or not self.cut):
            details.append(f"{len(self.keys)}{'+' if self.keys_dropped else ''} keys")
        if self.max_length is not None:
            span = (
                str(self.max_length)
                if self.min_length == self.max_length
                else f"{self.min_length}..{self.max_length}"
            )
            details.append(f"length {span}")
        if self.minimum is not None:
            details.append(
                f"{self.minimum}" if self.minimum == self.maximum else f"{self.minimum}..{self.maximum}"
            )
        if self.examples:
            details.append("e.g. " + ", ".join(json.dumps(e, ensure_ascii=False) for e in self.examples))
        if self.cut:
            details.append("deeper levels not shown")
        lines.append(f"{path}: {kinds}" + (f" ({'; '.join(details)})" if details else ""))
        for key, child in self.keys.items():
            name = key if key.isidentifier() else json.dumps(key, ensure_ascii=False)
            child.outline(f"{path}.{name}", lines, self.objects, self.key_counts[key])
        if self.items is not None:
            self.items.outline(f"{path}[]", lines)


def summarize(path: str, max_depth: int) -> dict[str, Any]:
    absolute, relative, size = open_data_file(path, kinds=("json", "jsonl"))
    data, truncated = read_bytes(absolute, MAX_BYTES)
    lines_mode = relative.lower().endswith((".jsonl", ".ndjson"))
    budget = Budget()
    root = Shape()
    out: dict[str, Any] = {"path": relative, "bytes": size}
    if lines_mode:
        records = bad = 0
        first_error = None
        text = data.decode("utf-8-sig", errors="replace")
        if truncated:
            text = text[: text.rfind("\n") + 1]
        items = Shape()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as e:
                bad += 1
                first_error = first_error or f"line {number}: {e}"
                continue
            records += 1
            if records <= MAX_ITEMS * 10:
                items.observe(value, 1, max_depth, budget)
        root.count, root.types["array"] = 1, 1
        root.min_length = root.max_length = records
        root.items = items if records else None
        out["format"] = "jsonl"
        out["records"] = records
        if bad:
            out["invalid_lines"] = bad
            out["first_error"] = first_error
    else:
        if truncated:
            raise InvalidArguments(
                f"{relative} is {size} bytes; summarize_json parses JSON documents of at most "
                f"{MAX_BYTES >> 20} MiB"
            )
        try:
            document = json.loads(data.decode("utf-8-sig", errors="replace"))
        except ValueError as e:
            raise InvalidArguments(f"{relative} is not valid JSON: {e}") from None
        root.observe(document, 0, max_depth, budget)
        out["format"] = "json"
    out["shape"] = root.to_json()
    out["complete"] = not (truncated or budget.exhausted)
    lines: list[str] = []
    root.outline("$", lines)
    out["outline"] = lines
    if len(lines) >= MAX_LINES or budget.exhausted:
        out["note"] = (
            f"the shape is cut short: more than {MAX_VALUES} values or {MAX_NODES} distinct keys"
        )
    return out


def render(summary: dict[str, Any]) -> str:
    head = f"{summary['path']}: {summary['format'].upper()}, {summary['bytes']} bytes"
    if "records" in summary:
        head += f", {summary['records']} records"
        if summary.get("invalid_lines"):
            head += f" ({summary['invalid_lines']} invalid lines; first: {summary['first_error']})"
    lines = [head, *summary["outline"]]
    if "note" in summary:
        lines.append(summary["note"])
    return "\n".join(lines)
