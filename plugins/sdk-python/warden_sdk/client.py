"""Requests to the MCP client during a call: ask its model for a completion
(sampling), ask the person for input (elicitation), list its roots::

    from warden_sdk import client, tool

    @tool(requires=["sampling"])
    def haiku(topic: str) -> str:
        \"\"\"Writes a haiku about a topic.\"\"\"
        return client.sample(f"A haiku about {topic}", max_tokens=100).text

Several requests can go at once with :func:`ask_all`, each made with a
:class:`Request` constructor and sent under a key of the plugin's::

    summary, place = client.ask_all([
        ("summary", client.Request.sample(f"Summarize: {text}", max_tokens=200)),
        ("place", client.Request.elicit("Where to?", Trip)),
    ])
    if isinstance(place, ClientError):  # returned, not raised
        raise place

The plugin requests each feature in its manifest (``client = ["sampling",
"elicitation", "roots"]``) and the operator grants it. When the host gives
no answer, a function raises :class:`~warden_sdk.ClientError` (outside a
component always ``unsupported``); :func:`ask_all` returns it in place of
that request's answer instead. A client that speaks MCP 2026-07-28 gets
the requests by having the call run again from the start with its answers
(a batch is one round), so ask before changing anything, and ask the same
things in the same order for the same arguments.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Callable, Iterable, List, Literal, NamedTuple, Union

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
    request = _sampling(
        prompt,
        max_tokens=max_tokens,
        system_prompt=system_prompt,
        temperature=temperature,
        stop_sequences=stop_sequences,
        model_hints=model_hints,
        cost_priority=cost_priority,
        speed_priority=speed_priority,
        intelligence_priority=intelligence_priority,
    )
    c, t = _bindings("sample")
    return _sampled(c, t, _call(c, "sample", c.sample, _wit_sampling(c, t, request)))


def elicit(message: str, schema: dict[str, Any] | type) -> ElicitationResult:
    """Asks the person to fill in a form; ``message`` says what and why.
    ``schema`` is a JSON Schema dict for an object whose properties are
    strings, numbers, integers, booleans or enums, or a dataclass or
    TypedDict with fields of those types (fields with defaults are
    optional): the accepted content is then an instance of it. An answer
    that does not fit raises :class:`~warden_sdk.ClientError` (failed)."""
    form = _form(message, schema)
    c, _ = _bindings("elicit")
    response = _call(c, "elicit", c.elicit, _wit_form(c, form))
    return _form_answer(c, response, form, "elicit")


def elicit_url(message: str, url: str) -> ElicitationResult:
    """Asks the person to visit ``url`` (an absolute https or http URL: a
    sign-in, a payment); ``message`` says why. ``action`` tells whether they
    agreed to go, not what they did there."""
    c, _ = _bindings("elicit")
    response = _call(c, "elicit", c.elicit, _wit_url(c, message, url))
    return ElicitationResult(_action(c, response))


def list_roots() -> list[Root]:
    """The client's roots (the folders or projects it works in)."""
    c, _ = _bindings("list-roots")
    return _roots(_call(c, "list-roots", c.list_roots))


@dataclasses.dataclass(frozen=True)
class Request:
    """One request of a batch sent with :func:`ask_all`. Make it with
    :meth:`sample`, :meth:`elicit`, :meth:`elicit_url` or
    :meth:`list_roots`: each takes the arguments of the function of the
    same name and checks them at once, raising ValueError or TypeError as
    that function does."""

    #: The function it stands for: ``sample``, ``elicit``, ``elicit_url``
    #: or ``list_roots``.
    kind: Literal["sample", "elicit", "elicit_url", "list_roots"]
    #: Its arguments, checked (internal).
    args: Any = None

    @classmethod
    def sample(
        cls,
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
    ) -> Request:
        """A completion by the client's model; see :func:`sample`. Its
        answer is a :class:`SamplingResult`."""
        return cls(
            "sample",
            _sampling(
                prompt,
                max_tokens=max_tokens,
                system_prompt=system_prompt,
                temperature=temperature,
                stop_sequences=stop_sequences,
                model_hints=model_hints,
                cost_priority=cost_priority,
                speed_priority=speed_priority,
                intelligence_priority=intelligence_priority,
            ),
        )

    @classmethod
    def elicit(cls, message: str, schema: dict[str, Any] | type) -> Request:
        """A form for the person; see :func:`elicit`. Its answer is an
        :class:`ElicitationResult` (an accepted form converted to
        ``schema``'s type, when it is one)."""
        return cls("elicit", _form(message, schema))

    @classmethod
    def elicit_url(cls, message: str, url: str) -> Request:
        """A page for the person to visit; see :func:`elicit_url`. Its
        answer is an :class:`ElicitationResult`."""
        return cls("elicit_url", (message, url))

    @classmethod
    def list_roots(cls) -> Request:
        """The client's roots; see :func:`list_roots`. Its answer is a list
        of :class:`Root`."""
        return cls("list_roots")


#: What :func:`ask_all` gives for one request: what the function of the same
#: name returns, or the ClientError it would raise.
Reply = Union[SamplingResult, ElicitationResult, List[Root], ClientError]


def ask_all(requests: Iterable[tuple[str, Request]]) -> list[Reply]:
    """Asks several things at once: ``requests`` are ``(key, request)``
    pairs, each key of your choosing (1 to 64 letters, digits, ``_``, ``-``
    or ``.``, unique in the batch) and each request made with a
    :class:`Request` constructor. Returns one item per request, in order:
    what the function of the same name returns (a :class:`SamplingResult`,
    an :class:`ElicitationResult`, a list of :class:`Root`), or the
    :class:`~warden_sdk.ClientError` it would raise, returned rather than
    raised so that one refusal does not lose the other answers (its
    ``request`` is the key; ``raise`` it to fail the call). A malformed or
    repeated key gets ``failed``. Each request counts against the call's
    limits as if asked alone. On MCP 2026-07-28 the batch is one
    ``input_required`` round: the call runs again from the start with the
    answers, so ask before acting, and ask the same things for the same
    arguments. Raises TypeError when an item is not a ``(str, Request)``
    pair, before anything is asked."""
    batch = list(requests)
    for item in batch:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Request)
        ):
            raise TypeError(
                f"ask_all: each request is a (key, Request) pair, such as "
                f'("summary", Request.sample(...)); not {item!r}'
            )
    if _host.wit_client is None:
        return [_unsupported(key) for key, _ in batch]
    c, t = _host.wit_client, _host.wit_types
    results = c.ask([(key, _wit_request(c, t, request)) for key, request in batch])
    return [
        _reply(c, t, key, request, result) for (key, request), result in zip(batch, results)
    ]


@dataclasses.dataclass(frozen=True)
class _Sampling:
    """A checked sampling request, as the bindings' record needs it."""

    messages: tuple[Message, ...]
    max_tokens: int
    system_prompt: str | None
    temperature: float | None
    stop_sequences: tuple[str, ...]
    model_hints: tuple[str, ...]
    #: cost, speed and intelligence, each None or from 0 to 1.
    priorities: tuple[tuple[str, float | None], ...]


@dataclasses.dataclass(frozen=True)
class _Form:
    """A checked form: its message, JSON Schema document, and the type to
    convert an accepted answer to (None: a dict)."""

    message: str
    schema: str
    hint: Any


def _sampling(
    prompt: str | Message | Iterable[str | Message],
    *,
    max_tokens: int,
    system_prompt: str | None,
    temperature: float | None,
    stop_sequences: Iterable[str],
    model_hints: str | Iterable[str],
    cost_priority: float | None,
    speed_priority: float | None,
    intelligence_priority: float | None,
) -> _Sampling:
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
    return _Sampling(
        messages=tuple(messages),
        max_tokens=max_tokens,
        system_prompt=system_prompt,
        temperature=None if temperature is None else float(temperature),
        stop_sequences=tuple(_strings(stop_sequences)),
        model_hints=tuple(_strings(model_hints)),
        priorities=tuple((k, None if v is None else float(v)) for k, v in priorities.items()),
    )


def _wit_sampling(c: Any, t: Any, request: _Sampling) -> Any:
    preferences = None
    if request.model_hints or any(v is not None for _, v in request.priorities):
        preferences = c.ModelPreferences(
            hints=list(request.model_hints), **dict(request.priorities)
        )
    return c.SamplingRequest(
        messages=[
            c.Message(
                role=c.Role.ASSISTANT if m.role == "assistant" else c.Role.USER,
                content=wit_content(t, m.content),
            )
            for m in request.messages
        ],
        system_prompt=request.system_prompt,
        model_preferences=preferences,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        stop_sequences=list(request.stop_sequences),
    )


def _sampled(c: Any, t: Any, response: Any) -> SamplingResult:
    return SamplingResult(
        content=sdk_content(t, response.content),
        model=response.model,
        stop_reason=response.stop_reason,
        role="user" if response.role == c.Role.USER else "assistant",
    )


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


def _form(message: str, schema: dict[str, Any] | type) -> _Form:
    """The form of ``elicit(message, schema)``."""
    requested, hint = _form_schema(schema)
    return _Form(message, json.dumps(requested, ensure_ascii=False, separators=(",", ":")), hint)


def _form_schema(schema: dict[str, Any] | type) -> tuple[dict[str, Any], Any]:
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


def _wit_form(c: Any, form: _Form) -> Any:
    return c.ElicitationRequest_Form(
        c.FormRequest(message=form.message, requested_schema=form.schema)
    )


def _wit_url(c: Any, message: str, url: str) -> Any:
    return c.ElicitationRequest_Url(c.UrlRequest(message=message, url=url))


def _form_answer(c: Any, response: Any, form: _Form, request: str) -> ElicitationResult:
    """The person's answer to ``form``; raises ClientError (failed, named
    ``request``) when it does not fit."""
    action = _action(c, response)
    if action != "accept":
        return ElicitationResult(action)
    try:
        content = json.loads(response.value) if response.value is not None else {}
        if not isinstance(content, dict):
            raise ValueError("not a JSON object")
        if form.hint is not None:
            content = convert(content, form.hint, "")
    except (ValueError, InvalidArguments) as e:
        raise ClientError("failed", f"the answer does not fit the form: {e}", request) from None
    return ElicitationResult(action, content)


def _roots(roots: Any) -> list[Root]:
    return [Root(root.uri, root.name) for root in roots]


def _wit_request(c: Any, t: Any, request: Request) -> Any:
    """``request`` as the bindings' ``request`` variant."""
    if request.kind == "sample":
        return c.Request_Sample(_wit_sampling(c, t, request.args))
    if request.kind == "elicit":
        return c.Request_Elicit(_wit_form(c, request.args))
    if request.kind == "elicit_url":
        return c.Request_Elicit(_wit_url(c, *request.args))
    return c.Request_ListRoots()


def _reply(c: Any, t: Any, key: str, request: Request, result: Any) -> Any:
    """The answer to ``request`` (asked under ``key``) in ``result``, the
    bindings' ``result<answer, client-error>``, or its ClientError."""
    if isinstance(result, _host.Err):
        return _client_error(c, result.value, key)
    answer = result.value
    try:
        if request.kind == "sample" and isinstance(answer, c.Answer_Sampled):
            return _sampled(c, t, answer.value)
        if request.kind == "elicit" and isinstance(answer, c.Answer_Elicited):
            return _form_answer(c, answer.value, request.args, key)
        if request.kind == "elicit_url" and isinstance(answer, c.Answer_Elicited):
            return ElicitationResult(_action(c, answer.value))
        if request.kind == "list_roots" and isinstance(answer, c.Answer_Roots):
            return _roots(answer.value)
    except ClientError as e:
        return e
    return ClientError(
        "failed", f"the host answered a {request.kind} request with {type(answer).__name__}", key
    )


def _unsupported(request: str) -> ClientError:
    return ClientError(
        "unsupported",
        "no warden:plugin/client import here (outside a component, or built "
        "against a WIT before 0.2.0)",
        request,
    )


def _bindings(request: str) -> tuple[Any, Any]:
    if _host.wit_client is None:
        raise _unsupported(request)
    return _host.wit_client, _host.wit_types


def _call(c: Any, request: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except _host.Err as e:
        raise _client_error(c, e.value, request) from None


def _client_error(c: Any, error: Any, request: str) -> ClientError:
    """The bindings' ``client-error`` as a ClientError naming ``request``."""
    kind = next((k for case, k in _ERRORS if isinstance(error, getattr(c, case))), "failed")
    return ClientError(kind, error.value, request)


def _action(c: Any, response: Any) -> Literal["accept", "decline", "cancel"]:
    if isinstance(response, c.ElicitationResponse_Accept):
        return "accept"
    if isinstance(response, c.ElicitationResponse_Decline):
        return "decline"
    return "cancel"
