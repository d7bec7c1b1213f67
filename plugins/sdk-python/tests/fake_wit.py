"""Stand-ins for the bindings componentize-py generates (``wit_world``,
``componentize_py_types``), with the names and shapes of the real ones, so
that the adapters of :mod:`warden_sdk.world` and :mod:`warden_sdk.client`
run under plain CPython."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import sys
import types as pytypes
from typing import Any, Iterator
from unittest import mock

from warden_sdk import _host


@dataclasses.dataclass
class Ok:
    value: Any


@dataclasses.dataclass
class Err(Exception):
    value: Any


def _class(name: str, *fields: str) -> type:
    return dataclasses.make_dataclass(name, list(fields))


def _module(name: str, *classes: type, **attrs: Any) -> pytypes.ModuleType:
    module = pytypes.ModuleType(name)
    for cls in classes:
        setattr(module, cls.__name__, cls)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


types = _module(
    "wit_world.imports.types",
    _class("Annotations", "read_only", "destructive", "idempotent", "open_world"),
    _class(
        "ToolDescriptor", "name", "title", "description", "input_schema", "output_schema",
        "annotations", "requires",
    ),
    enum.Enum("ClientFeature", [("SAMPLING", 0), ("ELICITATION", 1), ("ROOTS", 2)]),
    _class("Blob", "data", "mime_type"),
    _class("ResourceLink", "uri", "name", "title", "description", "mime_type", "size"),
    _class("Content_Text", "value"),
    _class("Content_Blob", "value"),
    _class("Content_ResourceLink", "value"),
    _class("ToolOutput", "content", "structured"),
    _class("ToolError_InvalidArguments", "value"),
    _class("ToolError_Failed", "value"),
    _class("ToolError_UnknownTool", "value"),
)

client = _module(
    "wit_world.imports.client",
    enum.Enum("Role", [("USER", 0), ("ASSISTANT", 1)]),
    _class("Message", "role", "content"),
    _class("ModelPreferences", "hints", "cost_priority", "speed_priority", "intelligence_priority"),
    _class(
        "SamplingRequest", "messages", "system_prompt", "model_preferences", "max_tokens",
        "temperature", "stop_sequences",
    ),
    _class("SamplingResponse", "role", "content", "model", "stop_reason"),
    _class("FormRequest", "message", "requested_schema"),
    _class("UrlRequest", "message", "url"),
    _class("ElicitationRequest_Form", "value"),
    _class("ElicitationRequest_Url", "value"),
    _class("ElicitationResponse_Accept", "value"),
    _class("ElicitationResponse_Decline"),
    _class("ElicitationResponse_Cancel"),
    _class("Root", "uri", "name"),
    _class("ClientError_Unsupported", "value"),
    _class("ClientError_Denied", "value"),
    _class("ClientError_LimitExceeded", "value"),
    _class("ClientError_Failed", "value"),
    _class("Request_Sample", "value"),
    _class("Request_Elicit", "value"),
    _class("Request_ListRoots"),
    _class("Answer_Sampled", "value"),
    _class("Answer_Elicited", "value"),
    _class("Answer_Roots", "value"),
)


class Tools:
    """The export protocol ``serve()`` subclasses."""


class Host:
    """Answers the client functions: each call is recorded in ``requests``
    and answered with the next of ``answers`` (an :class:`Err` is raised;
    ``ask`` answers with a list of :class:`Ok` and :class:`Err`)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, tuple[Any, ...]]] = []

    def answer(self, name: str, *args: Any) -> Any:
        self.requests.append((name, args))
        answer = self.answers.pop(0)
        if isinstance(answer, Err):
            raise answer
        return answer


@contextlib.contextmanager
def installed(host: Host | None = None) -> Iterator[Host]:
    """The fake bindings in ``sys.modules`` and :mod:`warden_sdk._host`, the
    client functions answered by ``host``."""
    host = host or Host()
    functions = {
        "sample": lambda request: host.answer("sample", request),
        "elicit": lambda request: host.answer("elicit", request),
        "list_roots": lambda: host.answer("list_roots"),
        "ask": lambda requests: host.answer("ask", requests),
    }
    imports = _module("wit_world.imports", types=types, client=client)
    exports = _module("wit_world.exports", Tools)
    modules = {
        "wit_world": _module("wit_world", imports=imports, exports=exports),
        "wit_world.imports": imports,
        "wit_world.imports.types": types,
        "wit_world.imports.client": client,
        "wit_world.exports": exports,
        "componentize_py_types": _module("componentize_py_types", Ok, Err),
    }
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(sys.modules, modules))
        for name, fn in functions.items():
            stack.enter_context(mock.patch.object(client, name, fn, create=True))
        stack.enter_context(mock.patch.object(_host, "wit_client", client))
        stack.enter_context(mock.patch.object(_host, "wit_types", types))
        stack.enter_context(mock.patch.object(_host, "Err", Err))
        yield host
