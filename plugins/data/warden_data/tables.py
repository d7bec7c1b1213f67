"""CSV files: reading with bounds, per-column summaries and simple queries."""

from __future__ import annotations

import collections
import csv
import dataclasses
import encodings.utf_8_sig  # noqa: F401 - see the note in app.py
import heapq  # noqa: F401 - Counter.most_common imports it when called
import math
import re
import time
from typing import Any, Callable, Iterator, Literal

from warden_sdk import InvalidArguments, progress

from .files import open_data_file, read_bytes

#: What one call may scan.
MAX_BYTES = 16 << 20
MAX_ROWS = 200_000
#: Seconds a scan may take; then it stops and says so (the host's timeout
#: for the whole call is larger, see examples/plugins/data.toml).
TIME_BUDGET = 3.0
#: Distinct values tracked per column; beyond this the count is a floor.
MAX_DISTINCT = 5_000
#: Longest cell kept in results and top values.
MAX_CELL = 200
NULLS = {"", "na", "n/a", "null", "none", "nan", "-"}

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_BOOLS = {"true": True, "false": False, "yes": True, "no": False}


def is_null(cell: str) -> bool:
    return cell.strip().lower() in NULLS


def kind_of_cell(cell: str) -> str:
    """integer, number, boolean, date, datetime or text (for a non-null cell)."""
    text = cell.strip()
    first = text[:1]
    if first.isdigit() or first in ("+", "-", "."):
        if _INT.match(text):
            return "integer"
        if _FLOAT.match(text):
            return "number"
        if _DATE.match(text):
            return "date"
        if _DATETIME.match(text):
            return "datetime"
        return "text"
    if text.lower() in _BOOLS:
        return "boolean"
    return "text"


def as_number(cell: str) -> float | None:
    text = cell.strip()
    if _FLOAT.match(text):
        return float(text)
    return None


def clip(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclasses.dataclass
class Table:
    """An open CSV file: header, delimiter and a bounded row iterator."""

    path: str
    columns: list[str]
    delimiter: str
    rows: Iterator[list[str]]
    state: dict[str, Any]

    @property
    def truncated_bytes(self) -> bool:
        return self.state["truncated"]


def open_table(path: str, delimiter: str | None = None, max_bytes: int = MAX_BYTES) -> Table:
    """Opens a CSV file under the data root; its rows are read as they are
    iterated, at most ``max_bytes`` in all. The first row is the header."""
    absolute, relative, _ = open_data_file(path, kinds=("csv",))
    head, _ = read_bytes(absolute, 64 << 10)
    if delimiter is None:
        delimiter = _sniff(head.decode("utf-8-sig", errors="replace"), relative)
    elif len(delimiter) != 1:
        raise InvalidArguments(f"the delimiter must be one character, not {delimiter!r}")
    state: dict[str, Any] = {"truncated": False}
    reader = csv.reader(_lines(absolute, max_bytes, state), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as e:
        raise InvalidArguments(f"{relative} is not readable as CSV: {e}") from None
    columns = _column_names(header)

    def rows() -> Iterator[list[str]]:
        try:
            yield from reader
        except csv.Error as e:
            state["error"] = f"line {reader.line_num}: {e}"

    return Table(relative, columns, delimiter, rows(), state)


def _lines(absolute: str, max_bytes: int, state: dict[str, Any]) -> Iterator[str]:
    """The file's lines as text (UTF-8, undecodable bytes replaced), until
    ``max_bytes`` have been read; then ``state["truncated"]`` is set."""
    read = 0
    try:
        with open(absolute, "rb") as f:
            first = True
            for raw in f:
                read += len(raw)
                if read > max_bytes:
                    state["truncated"] = True
                    return
                yield raw.decode("utf-8-sig" if first else "utf-8", errors="replace")
                first = False
    except OSError as e:
        state["error"] = f"cannot read {absolute}: {e.strerror or e}"


def _sniff(text: str, path: str) -> str:
    if path.lower().endswith(".tsv"):
        return "\t"
    sample = text[: 64 << 10]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _column_names(header: list[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        name = raw.strip() or f"column_{i + 1}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        names.append(name)
    return names


# Summaries -------------------------------------------------------------


class ColumnStats:
    def __init__(self, name: str) -> None:
        self.name = name
        self.values = 0
        self.nulls = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        self.numbers = 0
        self.total = 0.0
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.first_text: str | None = None
        self.last_text: str | None = None
        self.counts: collections.Counter[str] = collections.Counter()
        self.distinct_capped = False
        self.max_length = 0
        self.kind_cache: dict[str, str] = {}

    def add(self, cell: str) -> None:
        self.values += 1
        text = cell.strip()
        kind = self.kind_cache.get(text)
        if kind is None:
            kind = "null" if text.lower() in NULLS else kind_of_cell(text)
            if len(self.kind_cache) < MAX_DISTINCT:
                self.kind_cache[text] = kind
        if kind == "null":
            self.nulls += 1
            return
        self.kinds[kind] += 1
        if len(text) > self.max_length:
            self.max_length = len(text)
        if kind == "integer" or kind == "number":
            number = float(text)
            if math.isfinite(number):
                self.numbers += 1
                self.total += number
                if self.minimum is None or number < self.minimum:
                    self.minimum = number
                if self.maximum is None or number > self.maximum:
                    self.maximum = number
        else:
            if self.first_text is None or text < self.first_text:
                self.first_text = text
            if self.last_text is None or text > self.last_text:
                self.last_text = text
        counts = self.counts
        if text in counts:
            counts[text] += 1
        elif len(counts) < MAX_DISTINCT:
            counts[text] = 1
        else:
            self.distinct_capped = True

    def inferred_type(self) -> str:
        kinds = set(self.kinds)
        if not kinds:
            return "empty"
        if kinds == {"integer"}:
            return "integer"
        if kinds <= {"integer", "number"}:
            return "number"
        if len(kinds) == 1:
            return kinds.pop()
        if kinds <= {"date", "datetime"}:
            return "datetime"
        return "text"

    def summary(self, top: int) -> dict[str, Any]:
        kind = self.inferred_type()
        out: dict[str, Any] = {
            "name": self.name,
            "type": kind,
            "values": self.values,
            "nulls": self.nulls,
            "distinct": len(self.counts),
        }
        if self.distinct_capped:
            out["distinct_at_least"] = True
        if kind == "text" and len(self.kinds) > 1:
            out["mixed"] = dict(self.kinds.most_common())
        if kind in ("integer", "number") and self.numbers:
            out["min"] = _number(self.minimum)
            out["max"] = _number(self.maximum)
            out["mean"] = round(self.total / self.numbers, 6)
        elif kind in ("date", "datetime"):
            out["min"] = self.first_text
            out["max"] = self.last_text
        repeated = bool(self.counts) and self.counts.most_common(1)[0][1] > 1
        if kind not in ("integer", "number", "empty") and repeated:
            out["top"] = [
                {"value": clip(value, 80), "count": count}
                for value, count in self.counts.most_common(top)
            ]
            out["max_length"] = self.max_length
        return out


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else round(value, 6)


def summarize(path: str, max_rows: int, top: int, delimiter: str | None) -> dict[str, Any]:
    table = open_table(path, delimiter)
    stats = [ColumnStats(name) for name in table.columns]
    rows = 0
    ragged = 0
    more_rows = False
    deadline = time.monotonic() + TIME_BUDGET
    out_of_time = False
    for row in table.rows:
        if rows >= max_rows:
            more_rows = True
            break
        rows += 1
        if rows % 1_000 == 0:
            if time.monotonic() > deadline:
                out_of_time = True
                break
            if rows % 10_000 == 0:
                progress.report(rows, max_rows, f"{rows} rows read")
        if len(row) != len(stats):
            ragged += 1
        for column, cell in zip(stats, row):
            column.add(cell)
        for column in stats[len(row):]:
            column.add("")
    out: dict[str, Any] = {
        "path": table.path,
        "delimiter": table.delimiter,
        "rows": rows,
        "columns": [s.summary(top) for s in stats],
        "complete": not (more_rows or out_of_time or table.truncated_bytes or "error" in table.state),
    }
    if ragged:
        out["ragged_rows"] = ragged
    if out_of_time:
        out["note"] = f"stopped after {TIME_BUDGET:g} s ({rows} rows read); pass a smaller max_rows for a complete sample"
    elif more_rows:
        out["note"] = f"stopped after max_rows={max_rows} rows"
    elif table.truncated_bytes:
        out["note"] = f"stopped after the first {MAX_BYTES >> 20} MiB"
    if "error" in table.state:
        out["error"] = table.state["error"]
    return out


def kind_all_distinct(column: dict[str, Any]) -> bool:
    counted = column["values"] - column["nulls"]
    return counted > 1 and column["distinct"] == counted and "mean" not in column


def render_summary(summary: dict[str, Any]) -> str:
    delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
        summary["delimiter"], repr(summary["delimiter"])
    )
    lines = [
        f"{summary['path']}: {summary['rows']} rows, {len(summary['columns'])} columns "
        f"({delimiter}-separated){'' if summary['complete'] else ', partial'}"
    ]
    for note in ("note", "error"):
        if note in summary:
            lines.append(f"{note}: {summary[note]}")
    if "ragged_rows" in summary:
        lines.append(f"rows with a different number of cells than the header: {summary['ragged_rows']}")
    for column in summary["columns"]:
        parts = [f"{column['nulls']} empty" if column["nulls"] else "no empty"]
        plus = "+" if column.get("distinct_at_least") else ""
        parts.append(f"{column['distinct']}{plus} distinct")
        if "mean" in column:
            parts.append(f"min {column['min']}, max {column['max']}, mean {column['mean']:g}")
        elif "min" in column:
            parts.append(f"from {column['min']} to {column['max']}")
        if kind_all_distinct(column):
            parts.append("every value distinct")
        elif column.get("top"):
            top = ", ".join(f"{t['value']!r} ({t['count']})" for t in column["top"])
            parts.append(f"top: {top}")
        if "mixed" in column:
            parts.append("mixed: " + ", ".join(f"{k} {v}" for k, v in column["mixed"].items()))
        lines.append(f"- {column['name']} ({column['type']}): " + "; ".join(parts))
    return "\n".join(lines)


# Queries ---------------------------------------------------------------

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "contains", "regex"]


@dataclasses.dataclass
class Filter:
    """One condition on a column.

    Args:
        column: The column's name (as in the header).
        op: eq, ne, lt, le, gt, ge (numbers compare as numbers, other text as
            text), contains (case-insensitive substring) or regex (Python `re`
            search).
        value: What to compare with.
    """

    column: str
    op: Op = "eq"
    value: str | int | float | bool = ""


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _predicate(f: Filter, index: int, position: int) -> Callable[[list[str]], bool]:
    value = f.value
    if f.op == "regex":
        try:
            pattern = re.compile(str(value))
        except re.error as e:
            raise InvalidArguments(f"`filters[{index}].value`: invalid regular expression: {e}") from None
        return lambda row: pattern.search(_cell(row, position)) is not None
    if f.op == "contains":
        needle = str(value).casefold()
        return lambda row: needle in _cell(row, position).casefold()
    if isinstance(value, bool):
        wanted = value

        def boolean(row: list[str]) -> bool:
            cell = _BOOLS.get(_cell(row, position).strip().lower())
            return (cell == wanted) == (f.op != "ne") if cell is not None else f.op == "ne"

        return boolean
    number = float(value) if isinstance(value, (int, float)) else as_number(str(value))
    text = str(value)
    if f.op in ("eq", "ne"):
        def equal(row: list[str]) -> bool:
            cell = _cell(row, position)
            cell_number = as_number(cell) if number is not None else None
            same = cell_number == number if cell_number is not None else cell.strip() == text
            return same if f.op == "eq" else not same

        return equal
    compare = _ORDER[f.op]

    def ordered(row: list[str]) -> bool:
        cell = _cell(row, position)
        if is_null(cell):
            return False
        if number is not None:
            cell_number = as_number(cell)
            if cell_number is not None:
                return compare(cell_number, number)
        return compare(cell.strip(), text)

    return ordered


def _cell(row: list[str], position: int) -> str:
    return row[position] if position < len(row) else ""


def _position(table: Table, column: str, what: str) -> int:
    try:
        return table.columns.index(column)
    except ValueError:
        lowered = [c.lower() for c in table.columns]
        if column.lower() in lowered:
            return lowered.index(column.lower())
        raise InvalidArguments(
            f"{what}: no column {column!r} in {table.path} (columns: {', '.join(table.columns)})"
        ) from None


def query(
    path: str,
    columns: list[str] | None,
    filters: list[Filter] | None,
    match: str,
    limit: int,
    max_rows: int,
    delimiter: str | None,
) -> dict[str, Any]:
    table = open_table(path, delimiter)
    selected = columns or table.columns
    positions = [_position(table, c, f"`columns[{i}]`") for i, c in enumerate(selected)]
    predicates = [
        _predicate(f, i, _position(table, f.column, f"`filters[{i}].column`"))
        for i, f in enumerate(filters or [])
    ]
    combine = all if match == "all" else any
    found: list[list[str]] = []
    matched = scanned = 0
    more_rows = False
    deadline = time.monotonic() + TIME_BUDGET
    out_of_time = False
    for row in table.rows:
        if scanned >= max_rows:
            more_rows = True
            break
        scanned += 1
        if scanned % 1_000 == 0 and time.monotonic() > deadline:
            out_of_time = True
            break
        if predicates and not combine(p(row) for p in predicates):
            continue
        matched += 1
        if len(found) < limit:
            found.append([clip(_cell(row, p)) for p in positions])
    return {
        "path": table.path,
        "columns": [table.columns[p] for p in positions],
        "rows": found,
        "matched": matched,
        "scanned": scanned,
        "complete": not (more_rows or out_of_time or table.truncated_bytes or "error" in table.state),
    }


def render_query(result: dict[str, Any]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    head = (
        f"{result['matched']} of {result['scanned']} rows of {result['path']} match"
        f"{'' if result['complete'] else ' (scan stopped early)'}"
    )
    if result["matched"] > len(result["rows"]):
        head += f"; showing the first {len(result['rows'])}"
    lines = [head]
    if result["rows"]:
        lines.append("")
        lines.append("| " + " | ".join(cell(c) for c in result["columns"]) + " |")
        lines.append("|" + "---|" * len(result["columns"]))
        for row in result["rows"]:
            lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines)
