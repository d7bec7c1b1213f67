"""Paths under the data root, and listing the data files."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import posixpath
import stat as stat_module

from warden_sdk import Failed, InvalidArguments

#: Where the granted directory is mounted (the manifest's `guest`).
ROOT = "/data"
#: File kinds by extension.
KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
MIME_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".ndjson": "application/jsonl",
}
#: Directory entries looked at when listing, and how deep.
MAX_ENTRIES = 10_000
MAX_DEPTH = 8
URI_PREFIX = "data:///"


@dataclasses.dataclass
class DataFile:
    """A data file: its path relative to the root, size and kind."""

    path: str
    size: int
    kind: str


def kind_of(path: str) -> str | None:
    return KINDS.get(posixpath.splitext(path)[1].lower())


def mime_type_of(path: str) -> str | None:
    return MIME_TYPES.get(posixpath.splitext(path)[1].lower())


def resolve(path: str) -> tuple[str, str]:
    """The absolute path and the path relative to the root of ``path``,
    which is relative to the root, absolute under it, or a ``data:///`` URI.
    Refuses ``..`` and paths outside the root with InvalidArguments."""
    text = path.strip()
    if text.startswith(URI_PREFIX):
        text = text[len(URI_PREFIX):]
    if not text:
        raise InvalidArguments(f"the path is empty: give a file under {ROOT}, such as sales.csv")
    if "\x00" in text:
        raise InvalidArguments("the path contains a NUL character")
    if ".." in text.replace("\\", "/").split("/"):
        raise InvalidArguments(
            f"{path!r}: '..' is not allowed; give a path under {ROOT} (relative to it or absolute)"
        )
    if text.startswith("/"):
        normal = posixpath.normpath(text)
        if normal != ROOT and not normal.startswith(ROOT + "/"):
            raise InvalidArguments(
                f"{path!r} is outside {ROOT}: this plugin only reads files under {ROOT}"
            )
        relative = normal[len(ROOT):].lstrip("/")
    else:
        relative = posixpath.normpath(text)
        relative = "" if relative == "." else relative
    return (posixpath.join(ROOT, relative) if relative else ROOT), relative


def _os_failure(action: str, where: str, e: OSError) -> Failed:
    reason = e.strerror or str(e)
    hint = ""
    if where == ROOT and isinstance(e, (FileNotFoundError, PermissionError)):
        hint = f" (is a directory granted to the plugin at {ROOT}?)"
    return Failed(f"cannot {action} {where}: {reason}{hint}")


def list_files(pattern: str | None = None, limit: int | None = None) -> tuple[list[DataFile], bool]:
    """The data files under the root (sorted by path; at most ``limit``),
    and whether the listing stopped early. ``pattern`` is a glob on the
    relative path (``*.csv``, ``sales/*``)."""
    found: list[DataFile] = []
    truncated = False
    seen = 0
    stack: list[tuple[str, int]] = [("", 0)]
    while stack:
        relative_dir, depth = stack.pop()
        absolute_dir = posixpath.join(ROOT, relative_dir) if relative_dir else ROOT
        try:
            with os.scandir(absolute_dir) as entries:
                children = sorted(entries, key=lambda e: e.name)
        except OSError as e:
            if absolute_dir == ROOT:
                raise _os_failure("list", ROOT, e) from None
            continue  # an unreadable subdirectory is skipped
        subdirs = []
        for entry in children:
            seen += 1
            if seen > MAX_ENTRIES:
                return sorted(found, key=lambda f: f.path), True
            if entry.name.startswith("."):
                continue
            relative = posixpath.join(relative_dir, entry.name) if relative_dir else entry.name
            try:
                if entry.is_dir():
                    if depth + 1 < MAX_DEPTH:
                        subdirs.append(relative)
                    else:
                        truncated = True
                    continue
                kind = kind_of(entry.name)
                if kind is None or not entry.is_file():
                    continue
                if pattern and not (
                    fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(entry.name, pattern)
                ):
                    continue
                found.append(DataFile(relative, entry.stat().st_size, kind))
            except OSError:
                continue
        stack.extend((d, depth + 1) for d in reversed(subdirs))
    found.sort(key=lambda f: f.path)
    if limit is not None and len(found) > limit:
        return found[:limit], True
    return found, truncated


def known_files_hint(limit: int = 20) -> str:
    """"files under /data: a.csv, b.json" for messages (never fails)."""
    try:
        files, more = list_files(limit=limit)
    except Exception:
        return f"{ROOT} cannot be listed"
    if not files:
        return f"no data files under {ROOT}"
    names = ", ".join(f.path for f in files)
    return f"files under {ROOT}: {names}{', ...' if more else ''}"


def open_data_file(path: str, kinds: tuple[str, ...] | None = None) -> tuple[str, str, int]:
    """Checks that ``path`` names a readable data file; returns its absolute
    path, relative path and size. Missing files and directories are
    InvalidArguments with the files that do exist; other OS errors Failed."""
    absolute, relative = resolve(path)
    try:
        st = os.stat(absolute)
    except FileNotFoundError as e:
        if not os.path.isdir(ROOT):
            raise _os_failure("read", ROOT, e) from None
        raise InvalidArguments(f"no such file: {relative or absolute} ({known_files_hint()})") from None
    except NotADirectoryError:
        raise InvalidArguments(f"no such file: {relative} ({known_files_hint()})") from None
    except OSError as e:
        raise _os_failure("read", absolute, e) from None
    if stat_module.S_ISDIR(st.st_mode):
        raise InvalidArguments(f"{absolute} is a directory, not a file ({known_files_hint()})")
    kind = kind_of(relative)
    if kinds is not None and kind not in kinds:
        wanted = " or ".join(sorted(set(kinds)))
        raise InvalidArguments(
            f"{relative} is not a {wanted} file (by its extension); {known_files_hint()}"
        )
    return absolute, relative, st.st_size


def read_bytes(absolute: str, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a file, and whether there was more."""
    try:
        with open(absolute, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise _os_failure("read", absolute, e) from None
    return data[:limit], len(data) > limit
