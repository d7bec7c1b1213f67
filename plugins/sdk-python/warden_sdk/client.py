"""Requests to the MCP client during a call: ask its model for a completion
(sampling), ask the person for input (elicitation), list its roots::

    from warden_sdk import client, tool

    @tool(requires=["sampling"])
    def haiku(topic: str) -> str:
        \"\"\"Writes a haiku about a topic.\"\"\"
        return client.sample(f"A haiku about {topic}", max_tokens=100).text

The plugin requests each feature in its manifest (``client = ["sampling",
"elicitation", "roots"]``) and the operator grants it. When the host gives
no answer, a function raises :class:`~warden_sdk.ClientError` (outside a
component always ``unsupported``). A client that speaks MCP 2026-07-28 gets
the requests by having the call run again from the start with its answers,
so ask before changing anything, and ask the same things in the same order
for the same arguments.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Callable, Iterable, Literal, NamedTuple

from . import _host
from .content import Blob, Content, Message, Text, user
from .convert import convert
from .errors import ClientError, InvalidArguments
from .schema import schema_for
from .typing_support import is_dataclass_type, is_typeddict
from .world import sdk_content, wit_content

#: The property types MCP allows in an elicitation form.
_FORM_TYPES = ("string", "number", "integer", "boolean")
_ERRORS = (
    ("ClientError_Unsupported", "unsupported"),
    ("ClientError_Denied", "denied"),
    ("ClientError_LimitExceeded", "limit_exceeded"),
    ("ClientError_Failed", "failed"),
)


@dataclasses.dataclass
class SamplingResult:
    """The model's answer to :func:`sample`."""

    #: Text, or an image or audio :class:`~warden_sdk.Blob`.
    content: Content
    #: The model that answered.
    model: str
    #: Why it stopped (``endTurn``, ``stopSequence``, ``maxTokens``, ...).
    stop_reason: str | None = None
    role: Literal["user", "assistant"] = "assistant"

    @property
    def text(self) -> str:
        """The answer's text; empty when it is an image or audio."""
        return self.content.text if isinstance(self.content, Text) else ""


@dataclasses.dataclass
class ElicitationResult:
    """The person's answer to :func:`elicit` or :func:`elicit_url`."""

    action: Literal["accept", "decline", "cancel"]
    #: What a form's ``accept`` holds: a dict, or an instance of the
    #: dataclass or TypedDict the form was made from. None otherwise.
    content: Any = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept"


class Root(NamedTuple):
    """A root the client exposes (a folder or project it works in)."""

    #: A ``file://`` URI.
    uri: str
    name: str | None = None


def sample(
    prompt: str | Message | Iterable[str | Message],
    *,
    max_tokens: int = 1024,
    system_prompt: str | None = None,
    temperature: float | None = None,
    stop_sequences: Iterable[str] = (),
    model_hints: str | Iterable[str] = (),
    cost_priority: float | None = None,
    speed_priority: float | None = None,
    intelligence_priority: float | None = None,
) -> SamplingResult:
    """Asks the client's model for a completion of ``prompt``: a str (one
    user message), a :class:`~warden_sdk.Message` (``user(...)``,
    ``assistant(...)``, holding text or an image or audio
    :class:`~warden_sdk.Blob`) or a list of them. ``max_tokens`` counts
    against the plugin's ``max_sampling_tokens``. ``model_hints`` (model
    names or families, most preferred first) and the priorities (each from
    0 to 1) are preferences; the client picks the model."""
    messages = _messages(prompt)
    if type(max_tokens) is not int or not 1 <= max_tokens < 2**32:
        raise ValueError(f"sample: max_tokens must be a positive integer, not {max_tokens!r}")
    if temperature is not None and not math.isfinite(temperature):
        raise ValueError(f"sample: temperature must be a finite number, not {temperature!r}")
    priorities = {
        "cost_priority": cost_priority,
        "speed_priority": speed_priority,
        "intelligence_priority": intelligence_priority,
    }
    for key, value in priorities.items():
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"sample: {key} must be from 0 to 1, not {value!r}")
    hints = _strings(model_hints)
    c, t = _bindings("sample")
    preferences = None
    if hints or any(v is not None for v in priorities.values()):
        preferences = c.ModelPreferences(
            hints=hints, **{k: None if v is None else float(v) for k, v in priorities.items()}
        )
    request = c.SamplingRequest(
        messages=[
            c.Message(
                role=c.Role.ASSISTANT if m.role == "assistant" else c.Role.USER,
                content=wit_content(t, m.content),
            )
            for m in messages
        ],
        system_prompt=system_prompt,
        model_preferences=preferences,
        max_tokens=max_tokens,
        temperature=None if temperature is None else float(temperature),
        stop_sequences=_strings(stop_sequences),
    )
    response = _call(c, "sample", c.sample, request)
    return SamplingResult(
        content=sdk_content(t, response.content),
        model=response.model,
        stop_reason=response.stop_reason,
        role="user" if response.role == c.Role.USER else "assistant",
    )


def elicit(message: str, schema: dict[str, Any] | type) -> ElicitationResult:
    """Asks the person to fill in a form; ``message`` says what and why.
    ``schema`` is a JSON Schema dict for an object whose properties are
    strings, numbers, integers, booleans or enums, or a dataclass or
    TypedDict with fields of those types (fields with defaults are
    optional): the accepted content is then an instance of it. An answer
    that does not fit raises :class:`~warden_sdk.ClientError` (failed)."""
    requested, hint = _form(schema)
    c, _ = _bindings("elicit")
    form = c.FormRequest(
        message=message,
        requested_schema=json.dumps(requested, ensure_ascii=False, separators=(",", ":")),
    )
    response = _call(c, "elicit", c.elicit, c.ElicitationRequest_Form(form))
    action = _action(c, response)
    if action != "accept":
        return ElicitationResult(action)
    try:
        content = json.loads(response.value) if response.value is not None else {}
        if not isinstance(content, dict):
            raise ValueError("not a JSON object")
        if hint is not None:
            content = convert(content, hint, "")
    except (ValueError, InvalidArguments) as e:
        raise ClientError("failed", f"the answer does not fit the form: {e}", "elicit") from None
    return ElicitationResult(action, content)


def elicit_url(message: str, url: str) -> ElicitationResult:
    """Asks the person to visit ``url`` (an absolute https or http URL: a
    sign-in, a payment); ``message`` says why. ``action`` tells whether they
    agreed to go, not what they did there."""
    c, _ = _bindings("elicit")
    request = c.ElicitationRequest_Url(c.UrlRequest(message=message, url=url))
    return ElicitationResult(_action(c, _call(c, "elicit", c.elicit, request)))


def list_roots() -> list[Root]:
    """The client's roots (the folders or projects it works in)."""
    c, _ = _bindings("list-roots")
    return [Root(root.uri, root.name) for root in _call(c, "list-roots", c.list_roots)]


def _messages(prompt: str | Message | Iterable[str | Message]) -> list[Message]:
    if isinstance(prompt, (str, Message)):
        prompt = [prompt]
    messages = [user(m) if isinstance(m, str) else m for m in prompt]
    if not messages:
        raise ValueError("sample: give a prompt or at least one message")
    for m in messages:
        if not isinstance(m, Message) or not isinstance(m.content, (Text, Blob)):
            raise TypeError(
                "sample: a message is a str or a Message holding Text or an image or audio Blob"
            )
    return messages


def _strings(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _form(schema: dict[str, Any] | type) -> tuple[dict[str, Any], Any]:
    """The form's JSON Schema, and the type to convert the answer to."""
    if isinstance(schema, dict):
        if schema.get("type") != "object":
            raise ValueError('elicit: the schema must describe an object: {"type": "object", ...}')
        return schema, None
    if not (is_dataclass_type(schema) or is_typeddict(schema)):
        raise TypeError("elicit: the schema must be a JSON Schema dict, a dataclass or a TypedDict")
    built = schema_for(schema)
    for name, prop in built["properties"].items():
        if prop.get("type") not in _FORM_TYPES:
            raise TypeError(
                f"elicit: field `{name}` of {schema.__name__} must be a str, int, float, "
                "bool, Literal or Enum (a form holds nothing else; give optional fields a "
                "default, not None)"
            )
    return {k: built[k] for k in ("type", "properties", "required") if k in built}, schema


def _bindings(request: str) -> tuple[Any, Any]:
    if _host.wit_client is None:
        raise ClientError(
            "unsupported",
            "no warden:plugin/client import here (outside a component, or built "
            "against a WIT before 0.2.0)",
            request,
        )
    return _host.wit_client, _host.wit_types


def _call(c: Any, request: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except _host.Err as e:
        error = e.value
        kind = next((k for case, k in _ERRORS if isinstance(error, getattr(c, case))), "failed")
        raise ClientError(kind, error.value, request) from None


def _action(c: Any, response: Any) -> Literal["accept", "decline", "cancel"]:
    if isinstance(response, c.ElicitationResponse_Accept):
        return "accept"
    if isinstance(response, c.ElicitationResponse_Decline):
        return "decline"
    return "cancel"
