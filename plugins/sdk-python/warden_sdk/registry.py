"""What a plugin offers (tools, resources, templates, prompts, completers)
and how calls are dispatched to them, in plain Python: no bindings needed,
so this is what the unit tests exercise. :mod:`warden_sdk.world` adapts it
to the component's exports."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import traceback
from typing import Any, Callable, Iterable, Literal, get_args

from . import log
from .content import (
    Blob,
    Completion,
    Contents,
    PromptArgumentInfo,
    PromptInfo,
    PromptResult,
    Resource,
    ResourceLink,
    TemplateInfo,
    Text,
    ToolInfo,
    ToolResult,
    prompt_result_from,
    result_from,
)
from .convert import convert, convert_arguments
from .errors import ClientError, Failed, InvalidArguments, NotFound, ToolError
from .schema import Param, dumps, function_params, object_schema, output_schema_for, schema_for
from .typing_support import NoneType, is_literal, is_union, type_hints, unwrap_annotated
from . import uri as uri_templates

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: The host sends at most this many completion values.
MAX_COMPLETIONS = 100
#: What a tool may declare in ``requires``.
CLIENT_FEATURES = ("sampling", "elicitation", "roots")

Completer = Callable[..., Iterable[str]]


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r}: use 1 to 64 of [A-Za-z0-9_-]")
    return name


def _failure(e: BaseException, what: str) -> ToolError:
    """Any exception as a ToolError: ToolErrors stay, a ClientError becomes
    Failed with its request, kind and message, others Failed with the
    exception's type and message (the traceback goes to the log)."""
    if isinstance(e, ToolError):
        return e
    if isinstance(e, ClientError):
        return Failed(": ".join(filter(None, [e.request, e.kind, e.message])))
    if isinstance(e, MemoryError):
        message = "out of memory: the call needed more memory than the plugin's limit allows"
    else:
        message = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    try:
        log.error("%s raised %s", what, "".join(traceback.format_exception(e)).strip())
    except Exception:  # pragma: no cover
        pass
    return Failed(message)


@dataclasses.dataclass
class ToolDef:
    fn: Callable[..., Any]
    info: ToolInfo
    params: list[Param]


@dataclasses.dataclass
class StaticResource:
    resource: Resource
    fn: Callable[[], Any]


@dataclasses.dataclass
class TemplateDef:
    info: TemplateInfo
    parts: list[tuple[str, str]]
    fn: Callable[..., Any]
    wants_uri: bool
    completers: dict[str, tuple[Completer, bool]]


@dataclasses.dataclass
class PromptDef:
    fn: Callable[..., Any]
    info: PromptInfo
    params: list[Param]
    completers: dict[str, tuple[Completer, bool]]


def _completer_entry(fn: Completer, filter: bool) -> tuple[Completer, bool]:
    return fn, filter


class Registry:
    """Everything one plugin offers. The decorators of :mod:`warden_sdk`
    fill the default registry, :data:`REGISTRY`."""

    def __init__(self) -> None:
        self.tools: dict[str, ToolDef] = {}
        self.resources: dict[str, StaticResource] = {}
        self.listers: list[Callable[[], Iterable[Resource]]] = []
        self.templates: list[TemplateDef] = []
        self.prompts: dict[str, PromptDef] = {}

    # Registration ------------------------------------------------------

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        read_only: bool | None = None,
        destructive: bool | None = None,
        idempotent: bool | None = None,
        open_world: bool | None = None,
        output_schema: bool | dict[str, Any] | type | None = None,
        requires: str | Iterable[str] = (),
    ) -> ToolDef:
        name = _check_name("tool", name or fn.__name__)
        if name in self.tools:
            raise ValueError(f"two tools are named {name!r}")
        features = [requires] if isinstance(requires, str) else list(requires)
        for feature in features:
            if feature not in CLIENT_FEATURES:
                raise ValueError(
                    f"tool {name!r} requires unknown client feature {feature!r} "
                    f"(use {', '.join(CLIENT_FEATURES)})"
                )
        doc_description, params = function_params(fn)
        description = description or doc_description
        if not description:
            raise ValueError(f"tool {name!r} needs a description (description= or a docstring)")
        try:
            input_schema = object_schema(params)
        except TypeError as e:
            raise TypeError(f"tool {name!r}: {e}") from e
        out_schema: dict[str, Any] | None
        if output_schema is None or output_schema is True:
            returns = type_hints(fn).get("return")
            if returns is None or unwrap_annotated(returns)[0] in (
                ToolResult, Text, Blob, ResourceLink
            ):
                out_schema = None
            else:
                try:
                    out_schema = output_schema_for(returns)
                except TypeError as e:
                    raise TypeError(
                        f"tool {name!r}: no output schema for its return type ({e}); "
                        "pass output_schema=False to declare none"
                    ) from e
            if output_schema is True and out_schema is None:
                raise TypeError(
                    f"tool {name!r}: output_schema=True needs a dataclass or TypedDict return hint"
                )
        elif output_schema is False:
            out_schema = None
        elif isinstance(output_schema, dict):
            out_schema = output_schema
        else:
            out_schema = output_schema_for(output_schema) or schema_for(output_schema)
        if out_schema is not None and out_schema.get("type") != "object":
            raise TypeError(f"tool {name!r}: an output schema must describe an object")
        info = ToolInfo(
            name=name,
            title=title,
            description=description,
            input_schema=dumps(input_schema),
            output_schema=dumps(out_schema) if out_schema is not None else None,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
            open_world=open_world,
            requires=list(dict.fromkeys(features)),
        )
        tool = ToolDef(fn, info, params)
        self.tools[name] = tool
        return tool

    def add_resource(
        self,
        fn: Callable[[], Any],
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> None:
        if uri in self.resources:
            raise ValueError(f"two resources have the URI {uri!r}")
        if "://" not in uri and ":" not in uri:
            raise ValueError(f"resource URI {uri!r} must be absolute (scheme:...)")
        doc_description, _ = function_params(fn)
        self.resources[uri] = StaticResource(
            Resource(
                uri=uri,
                name=name or fn.__name__,
                title=title,
                description=description or doc_description or None,
                mime_type=mime_type,
                size=size,
            ),
            fn,
        )

    def add_lister(self, fn: Callable[[], Iterable[Resource]]) -> None:
        self.listers.append(fn)

    def add_template(
        self,
        fn: Callable[..., Any],
        uri_template: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        complete: dict[str, Completer] | None = None,
    ) -> None:
        parts = uri_templates.parse_template(uri_template)
        names = [v for k, v in parts if k == "var"]
        doc_description, params = function_params(fn)
        wants_uri = any(p.name == "uri" for p in params)
        for param in params:
            if param.name != "uri" and param.name not in names and param.required:
                raise TypeError(
                    f"resource template {uri_template!r}: {fn.__name__}() argument "
                    f"`{param.name}` is not a variable of the template ({', '.join(names)})"
                )
        template = TemplateDef(
            TemplateInfo(
                uri_template=uri_template,
                name=name or fn.__name__,
                title=title,
                description=description or doc_description or None,
                mime_type=mime_type,
            ),
            parts,
            fn,
            wants_uri,
            {},
        )
        self.templates.append(template)
        for argument, completer in (complete or {}).items():
            self.add_completer(completer, template=uri_template, argument=argument)

    def add_prompt(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        complete: dict[str, Completer] | None = None,
    ) -> None:
        name = _check_name("prompt", name or fn.__name__)
        if name in self.prompts:
            raise ValueError(f"two prompts are named {name!r}")
        doc_description, params = function_params(fn)
        for param in params:
            _check_prompt_hint(name, param)
        info = PromptInfo(
            name=name,
            title=title,
            description=description or doc_description or None,
            arguments=[
                PromptArgumentInfo(p.name, p.description, p.required) for p in params
            ],
        )
        self.prompts[name] = PromptDef(fn, info, params, {})
        for argument, completer in (complete or {}).items():
            self.add_completer(completer, prompt=name, argument=argument)

    def add_completer(
        self,
        fn: Completer,
        *,
        argument: str,
        prompt: str | None = None,
        template: str | None = None,
        filter: bool = True,
    ) -> None:
        if (prompt is None) == (template is None):
            raise ValueError("a completer needs exactly one of prompt= and template=")
        if prompt is not None:
            if prompt not in self.prompts:
                raise ValueError(f"completer for unknown prompt {prompt!r} (declare the prompt first)")
            target = self.prompts[prompt]
            names = [p.name for p in target.params]
        else:
            found = [t for t in self.templates if t.info.uri_template == template]
            if not found:
                raise ValueError(f"completer for unknown template {template!r} (declare it first)")
            target = found[0]
            names = [v for k, v in target.parts if k == "var"]
        if argument not in names:
            raise ValueError(f"completer for unknown argument {argument!r} (known: {', '.join(names)})")
        target.completers[argument] = _completer_entry(fn, filter)

    # Tools -------------------------------------------------------------

    def list_tools(self) -> list[ToolInfo]:
        return [tool.info for tool in self.tools.values()]

    def call_tool(self, name: str, arguments: str) -> ToolResult:
        """Runs a tool. Raises :class:`ToolError` (``kind`` tells which),
        never anything else."""
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            error = ToolError(f"no tool named {name!r} (tools: {known})")
            error.kind = "unknown-tool"
            raise error
        try:
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except ValueError as e:
                raise InvalidArguments(f"the arguments are not valid JSON: {e}") from e
            kwargs = convert_arguments(tool.params, parsed)
            return result_from(tool.fn(**kwargs))
        except BaseException as e:  # noqa: BLE001 - nothing may trap the instance
            raise _failure(e, f"tool {name!r}") from None

    # Resources ---------------------------------------------------------

    def list_resources(self) -> list[Resource]:
        found = [static.resource for static in self.resources.values()]
        for lister in self.listers:
            try:
                found.extend(lister())
            except BaseException as e:  # noqa: BLE001
                log.warn("listing resources with %s failed: %s", getattr(lister, "__name__", lister), _failure(e, "resource list"))
        return found

    def list_templates(self) -> list[TemplateInfo]:
        return [t.info for t in self.templates]

    def read_resource(self, uri: str) -> list[Contents]:
        """Reads a resource: a fixed one by its URI, else through the first
        template that matches. Raises :class:`NotFound` or :class:`Failed`."""
        try:
            static = self.resources.get(uri)
            if static is not None:
                return _contents(static.fn(), uri, static.resource.mime_type)
            for template in self.templates:
                values = uri_templates.match(template.parts, uri)
                if values is None:
                    continue
                kwargs = _template_kwargs(template, values, uri)
                return _contents(template.fn(**kwargs), uri, template.info.mime_type)
            raise NotFound(f"no resource has the URI {uri!r}")
        except NotFound:
            raise
        except InvalidArguments as e:
            raise NotFound(e.message) from None
        except FileNotFoundError as e:
            raise NotFound(f"{uri}: {e.strerror or e}") from None
        except BaseException as e:  # noqa: BLE001
            failure = _failure(e, f"resource {uri!r}")
            raise Failed(failure.message) from None

    # Prompts -----------------------------------------------------------

    def list_prompts(self) -> list[PromptInfo]:
        return [p.info for p in self.prompts.values()]

    def get_prompt(self, name: str, arguments: Iterable[tuple[str, str]]) -> PromptResult:
        """Fills in a prompt. Raises :class:`ToolError` whose ``kind`` is
        ``invalid-arguments``, ``failed`` or ``unknown-prompt``."""
        prompt = self.prompts.get(name)
        if prompt is None:
            known = ", ".join(self.prompts) or "none"
            error = ToolError(f"no prompt named {name!r} (prompts: {known})")
            error.kind = "unknown-prompt"
            raise error
        try:
            given = dict(arguments)
            kwargs: dict[str, Any] = {}
            names = [p.name for p in prompt.params]
            for key in given:
                if key not in names:
                    raise InvalidArguments(
                        f"unknown argument `{key}` (arguments: {', '.join(names) or 'none'})"
                    )
            for param in prompt.params:
                if param.name in given:
                    kwargs[param.name] = _prompt_value(given[param.name], param)
                elif param.required:
                    raise InvalidArguments(f"missing required argument `{param.name}`")
            return prompt_result_from(prompt.fn(**kwargs))
        except BaseException as e:  # noqa: BLE001
            raise _failure(e, f"prompt {name!r}") from None

    # Completions -------------------------------------------------------

    def complete(
        self,
        kind: Literal["prompt", "resource-template"],
        ref: str,
        argument: str,
        value: str,
        context: Iterable[tuple[str, str]] = (),
    ) -> Completion:
        """Suggestions for ``argument`` of a prompt or template variable;
        empty when no completer is declared. Raises :class:`ToolError` when
        the completer fails."""
        if kind == "prompt":
            target = self.prompts.get(ref)
        else:
            target = next((t for t in self.templates if t.info.uri_template == ref), None)
        if target is None or argument not in target.completers:
            return Completion([])
        fn, filter_values = target.completers[argument]
        try:
            context_map = dict(context)
            try:
                wants_context = len(inspect.signature(fn).parameters) >= 2
            except (TypeError, ValueError):
                wants_context = False
            found = fn(value, context_map) if wants_context else fn(value)
            values = [str(v) for v in (found or [])]
        except BaseException as e:  # noqa: BLE001
            raise _failure(e, f"completer for {argument!r}") from None
        if filter_values:
            typed = value.casefold()
            values = [v for v in values if v.casefold().startswith(typed)]
        values = list(dict.fromkeys(values))
        total = len(values)
        return Completion(values[:MAX_COMPLETIONS], total, total > MAX_COMPLETIONS)


def _template_kwargs(template: TemplateDef, values: dict[str, str], uri: str) -> dict[str, Any]:
    _, params = function_params(template.fn)
    names = {p.name for p in params}
    kwargs: dict[str, Any] = {k: v for k, v in values.items() if k in names}
    if template.wants_uri:
        kwargs["uri"] = uri
    return kwargs


def _contents(value: Any, uri: str, mime_type: str | None) -> list[Contents]:
    if isinstance(value, (str, bytes, bytearray, memoryview, Contents)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(
            f"a resource reader must return str, bytes, Contents or a list of them, "
            f"not {type(value).__name__}"
        )
    out = []
    for item in value:
        if isinstance(item, Contents):
            out.append(Contents(item.body, item.mime_type or mime_type, item.uri or uri))
        elif isinstance(item, str):
            out.append(Contents(item, mime_type, uri))
        elif isinstance(item, (bytes, bytearray, memoryview)):
            out.append(Contents(bytes(item), mime_type, uri))
        else:
            raise TypeError(f"a resource reader returned a {type(item).__name__}")
    return out


_PROMPT_TYPES = (str, int, float, bool)


def _check_prompt_hint(prompt: str, param: Param) -> None:
    hint, _ = unwrap_annotated(param.hint)
    members = get_args(hint) if is_union(hint) else (hint,)
    for member in members:
        member, _ = unwrap_annotated(member)
        if member in _PROMPT_TYPES or member in (NoneType, None) or member is Any:
            continue
        if is_literal(member) and all(isinstance(v, str) for v in get_args(member)):
            continue
        raise TypeError(
            f"prompt {prompt!r}: argument `{param.name}` has type {member!r}; prompt "
            "arguments are strings: use str, int, float, bool, a Literal of strings or Optional"
        )


def _prompt_value(text: str, param: Param) -> Any:
    """A prompt argument (always a string on the wire) as the hinted type."""
    hint, _ = unwrap_annotated(param.hint)
    members = [unwrap_annotated(m)[0] for m in (get_args(hint) if is_union(hint) else (hint,))]
    members = [m for m in members if m not in (NoneType, None)]
    for member in members:
        if member is str or member is Any:
            return text
        if is_literal(member):
            if text in get_args(member):
                return text
            continue
        if member is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            continue
        try:
            return convert(member(text.strip()), member, param.name)
        except (ValueError, InvalidArguments):
            continue
    expected = " or ".join(
        ("one of " + ", ".join(repr(v) for v in get_args(m))) if is_literal(m) else m.__name__
        for m in members
    )
    raise InvalidArguments(f"`{param.name}`: expected {expected}, got {text!r}")


#: The registry the module-level decorators fill.
REGISTRY = Registry()
