"""The `data` plugin: summaries of and queries over the CSV and JSON files
of a directory granted read-only at /data.

Tools: files, summarize_csv, summarize_json, query_csv. Prompt: explore.
Resources: every data file as data:///PATH, and the template data:///{path}.
"""

from __future__ import annotations

# componentize-py runs this module at build time and snapshots the
# interpreter; at run time the standard library's files are not there, so a
# module first imported during a call fails with ImportError (or LookupError
# for a codec). Everything a call needs is imported at module level, here or
# in warden_data (which imports encodings.utf_8_sig and heapq for that).

from typing import Annotated, Literal

from warden_data import files as data_files
from warden_data import shapes, tables
from warden_data.tables import Filter
from warden_sdk import (
    Contents,
    Failed,
    InvalidArguments,
    Resource,
    ToolResult,
    completer,
    log,
    prompt,
    resource_list,
    resource_template,
    serve,
    tool,
)

#: Largest file a resource read returns.
MAX_RESOURCE_BYTES = 512 << 10

Path = Annotated[
    str,
    "A file under /data: relative to it (sales.csv), absolute (/data/sales.csv) "
    "or a data:/// resource URI.",
]


@tool(name="files", title="List data files", read_only=True, idempotent=True, open_world=False)
def list_data_files(
    pattern: Annotated[str | None, "Only paths matching this glob, such as *.csv or sales/*."] = None,
    limit: Annotated[int, "At most this many files.", {"minimum": 1, "maximum": 2000}] = 200,
) -> ToolResult:
    """Lists the CSV, TSV, JSON and JSON Lines files under /data with their
    sizes, sorted by path."""
    found, truncated = data_files.list_files(pattern, max(1, min(limit, 2000)))
    lines = [f"{f.path}\t{f.size} bytes\t{f.kind}" for f in found]
    if not lines:
        lines = [f"no data files under {data_files.ROOT}" + (f" match {pattern!r}" if pattern else "")]
    if truncated:
        lines.append("(more files not listed)")
    return ToolResult.text(
        "\n".join(lines),
        {"root": data_files.ROOT, "files": found, "truncated": truncated},
    )


@tool(title="Summarize a CSV file", read_only=True, idempotent=True, open_world=False)
def summarize_csv(
    path: Path,
    max_rows: Annotated[int, "Rows to scan at most.", {"minimum": 1, "maximum": tables.MAX_ROWS}] = 50_000,
    top: Annotated[int, "Most frequent values shown per text column.", {"minimum": 0, "maximum": 20}] = 5,
    delimiter: Annotated[str | None, "The field separator; detected when absent."] = None,
) -> ToolResult:
    """Summarizes a CSV (or TSV) file: row count and, per column, the
    inferred type (integer, number, boolean, date, datetime, text), the
    number of empty values, min/max/mean of numbers, and the distinct count
    and most frequent values of text. The first row is the header."""
    summary = tables.summarize(path, max(1, min(max_rows, tables.MAX_ROWS)), max(0, min(top, 20)), delimiter)
    log.info("summarized %s: %d rows, %d columns", summary["path"], summary["rows"], len(summary["columns"]))
    return ToolResult.text(tables.render_summary(summary), summary)


@tool(title="Describe a JSON file's structure", read_only=True, idempotent=True, open_world=False)
def summarize_json(
    path: Path,
    max_depth: Annotated[int, "How many levels of nesting to describe.", {"minimum": 1, "maximum": 12}] = 4,
) -> ToolResult:
    """Describes the structure of a JSON or JSON Lines file: the keys of
    objects (and in how many objects each appears), value types, array
    lengths, number ranges and string examples, merged over array items,
    down to max_depth levels."""
    summary = shapes.summarize(path, max(1, min(max_depth, 12)))
    return ToolResult.text(shapes.render(summary), {k: v for k, v in summary.items() if k != "outline"})


@tool(title="Query a CSV file", read_only=True, idempotent=True, open_world=False)
def query_csv(
    path: Path,
    columns: Annotated[list[str] | None, "Columns to return, in order (default: all)."] = None,
    filters: Annotated[list[Filter] | None, "Conditions a row must meet."] = None,
    match: Annotated[Literal["all", "any"], "Whether a row must meet all filters or any."] = "all",
    limit: Annotated[int, "Rows to return at most.", {"minimum": 1, "maximum": 500}] = 20,
    max_rows: Annotated[int, "Rows to scan at most.", {"minimum": 1, "maximum": tables.MAX_ROWS}] = 100_000,
    delimiter: Annotated[str | None, "The field separator; detected when absent."] = None,
) -> ToolResult:
    """Selects rows of a CSV file that meet simple conditions and returns the
    chosen columns, with the number of matching rows. Numbers compare as
    numbers (lt, le, gt, ge, eq, ne), other values as text; contains is a
    case-insensitive substring test and regex a Python regular expression
    search."""
    result = tables.query(
        path,
        columns,
        filters,
        match,
        max(1, min(limit, 500)),
        max(1, min(max_rows, tables.MAX_ROWS)),
        delimiter,
    )
    return ToolResult.text(tables.render_query(result), result)


def _summary_text(path: str) -> tuple[str, str]:
    """A data file's summary as text, and its path relative to /data."""
    _, relative = data_files.resolve(path)
    kind = data_files.kind_of(relative)
    if kind == "csv":
        return tables.render_summary(tables.summarize(path, 50_000, 5, None)), relative
    if kind in ("json", "jsonl"):
        return shapes.render(shapes.summarize(path, 4)), relative
    data_files.open_data_file(path)  # a clear error for missing files
    raise InvalidArguments(f"{relative} is not a CSV or JSON file ({data_files.known_files_hint()})")


@prompt(title="Explore a data file")
def explore(path: Path, focus: Annotated[str | None, "What to look at in particular."] = None) -> str:
    """Asks the model to explore a data file, starting from its summary."""
    summary, relative = _summary_text(path)
    kind = data_files.kind_of(relative)
    tools = (
        "`data_query_csv` (filters, selected columns) and `data_summarize_csv`"
        if kind == "csv"
        else "`data_summarize_json` (with a larger max_depth if needed)"
    )
    ask = f"\n\nFocus on: {focus}" if focus else ""
    return (
        f"Explore the data file `/data/{relative}`. Here is its summary:\n\n"
        f"```\n{summary}\n```\n\n"
        "Describe what the data holds and how it is organized, point out data quality "
        "problems (empty values, mixed types, outliers), and suggest three questions "
        f"worth answering. Use {tools} to check anything before you state it.{ask}"
    )


@completer(prompt="explore", argument="path")
def complete_path(typed: str) -> list[str]:
    return [f.path for f in data_files.list_files(limit=1000)[0]]


@resource_list
def data_resources() -> list[Resource]:
    found, _ = data_files.list_files(limit=1000)
    return [
        Resource(
            uri=data_files.URI_PREFIX + f.path,
            name=f.path,
            description=f"{f.kind.upper()} file, {f.size} bytes",
            mime_type=data_files.mime_type_of(f.path),
            size=f.size,
        )
        for f in found
    ]


@resource_template(
    "data:///{path}",
    name="data file",
    title="A data file",
    description="A CSV or JSON file under /data, by its path relative to /data.",
    complete={"path": complete_path},
)
def read_data_file(path: str) -> Contents:
    absolute, relative, size = data_files.open_data_file(path)
    if size > MAX_RESOURCE_BYTES:
        raise Failed(
            f"{relative} is {size} bytes, more than the {MAX_RESOURCE_BYTES >> 10} KiB a "
            "resource read returns; use the summarize and query tools instead"
        )
    data, _ = data_files.read_bytes(absolute, MAX_RESOURCE_BYTES)
    mime_type = data_files.mime_type_of(relative)
    try:
        return Contents(data.decode("utf-8"), mime_type)
    except UnicodeDecodeError:
        return Contents(data, mime_type or "application/octet-stream")


Tools, Resources, Prompts, Completions = serve()
