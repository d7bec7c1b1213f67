"""What tools, prompts and resources return, and how Python values become
tool results."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import math
import pathlib
from typing import Any, Iterable, Literal, Union


@dataclasses.dataclass
class Text:
    """A text content block (plain or Markdown)."""

    text: str


@dataclasses.dataclass
class Blob:
    """A binary content block. The host sends ``image/*`` as MCP image
    content, ``audio/*`` as audio and anything else as an embedded blob."""

    data: bytes
    mime_type: str = "application/octet-stream"


def Image(data: bytes, mime_type: str = "image/png") -> Blob:
    """An image content block."""
    return Blob(data, mime_type)


@dataclasses.dataclass
class ResourceLink:
    """A link to a resource, returned instead of its contents. An ``http``
    or ``https`` URI is sent as it is; any other URI names one of the
    plugin's own resources, which the host prefixes so the client can read
    it through the host."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    #: Its size in bytes, when known.
    size: int | None = None


Content = Union[Text, Blob, ResourceLink]
CONTENT_TYPES = (Text, Blob, ResourceLink)


@dataclasses.dataclass
class ToolResult:
    """A tool's result in full: content blocks for the model and an optional
    structured JSON object (``structuredContent``). Return one when a plain
    value does not say enough, for example a readable text summary together
    with the structured data behind it."""

    content: list[Content] = dataclasses.field(default_factory=list)
    structured: dict[str, Any] | None = None

    @classmethod
    def text(cls, text: str, structured: Any = None) -> "ToolResult":
        """One text block, and ``structured`` (a dict or dataclass) if given."""
        return cls([Text(text)], _structured(structured))

    @classmethod
    def json(cls, value: Any) -> "ToolResult":
        """``value`` as JSON text; a JSON object is also the structured result."""
        return result_from(value)


def _structured(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    value = to_jsonable(value)
    if not isinstance(value, dict):
        raise TypeError("structured content must be a JSON object (a dict or a dataclass)")
    return value


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses become dicts, enums their
    values, tuples and sets lists, dates ISO 8601 text, paths strings,
    bytes base64 text, and non-finite floats ``None`` (JSON has no NaN)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, enum.Enum) else str(k.value): to_jsonable(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot turn a {type(value).__name__} into JSON")


def json_text(value: Any, indent: int | None = None) -> str:
    """Compact (or indented) JSON text of a JSON-able value."""
    return json.dumps(
        to_jsonable(value),
        ensure_ascii=False,
        allow_nan=False,
        indent=indent,
        separators=None if indent else (",", ":"),
    )


def result_from(value: Any) -> ToolResult:
    """How a tool function's return value becomes a result:

    - ``None``: no content;
    - ``str``: one text block;
    - ``bytes``: one ``application/octet-stream`` blob;
    - :class:`Text`, :class:`Blob`, :class:`ResourceLink`, or a list of
      them: those blocks;
    - :class:`ToolResult`: as it is;
    - a dict or a dataclass: the structured result, and its JSON as text;
    - anything else JSON-able (a list, a number, ...): its JSON as text
      (MCP's structured content must be an object).
    """
    if isinstance(value, ToolResult):
        return value
    if value is None:
        return ToolResult()
    if isinstance(value, str):
        return ToolResult([Text(value)])
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ToolResult([Blob(bytes(value))])
    if isinstance(value, CONTENT_TYPES):
        return ToolResult([value])
    if isinstance(value, list) and value and all(isinstance(v, CONTENT_TYPES) for v in value):
        return ToolResult(list(value))
    data = to_jsonable(value)
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if isinstance(data, dict):
        return ToolResult([Text(text)], data)
    return ToolResult([Text(text)])


# Prompts ---------------------------------------------------------------


@dataclasses.dataclass
class Message:
    """One message of a prompt."""

    role: Literal["user", "assistant"]
    content: Content


def user(content: str | Content) -> Message:
    """A message from the user (text, a :class:`Blob` or a :class:`ResourceLink`)."""
    return Message("user", Text(content) if isinstance(content, str) else content)


def assistant(content: str | Content) -> Message:
    """A message from the assistant."""
    return Message("assistant", Text(content) if isinstance(content, str) else content)


@dataclasses.dataclass
class PromptResult:
    """A filled-in prompt: messages and an optional description."""

    messages: list[Message]
    description: str | None = None


def prompt_result_from(value: Any) -> PromptResult:
    """``str`` is one user message; a :class:`Message` or a list of messages
    (strings among them are user messages); or a :class:`PromptResult`."""
    if isinstance(value, PromptResult):
        return value
    if isinstance(value, (str, Message)):
        value = [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
        messages = []
        for item in value:
            if isinstance(item, str):
                messages.append(user(item))
            elif isinstance(item, Message):
                messages.append(item)
            else:
                raise TypeError(f"a prompt message must be a str or Message, not {type(item).__name__}")
        return PromptResult(messages)
    raise TypeError(f"a prompt must return str, Message, a list of them or PromptResult, not {type(value).__name__}")


# Resources -------------------------------------------------------------


@dataclasses.dataclass
class Resource:
    """One concrete resource, as listed to clients."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None


@dataclasses.dataclass
class Contents:
    """What reading a resource gives: text or bytes, with a MIME type (the
    resource's or template's when None) and a URI (the one read when None)."""

    body: str | bytes
    mime_type: str | None = None
    uri: str | None = None


@dataclasses.dataclass
class TemplateInfo:
    """A resource template, as listed to clients."""

    uri_template: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None


# Descriptors -----------------------------------------------------------


@dataclasses.dataclass
class ToolInfo:
    """A tool, as ``list-tools`` describes it."""

    name: str
    title: str | None
    description: str
    input_schema: str
    output_schema: str | None
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None
    #: Client features the tool cannot work without (sampling, elicitation, roots).
    requires: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PromptArgumentInfo:
    name: str
    description: str | None
    required: bool
    title: str | None = None


@dataclasses.dataclass
class PromptInfo:
    """A prompt, as ``list-prompts`` describes it."""

    name: str
    title: str | None
    description: str | None
    arguments: list[PromptArgumentInfo]


@dataclasses.dataclass
class Completion:
    """Suggested values for a completion request."""

    values: list[str]
    total: int | None = None
    has_more: bool = False
