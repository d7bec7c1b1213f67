"""The component's exports: classes named after the world's interfaces
(``Tools``, ``Resources``, ``Prompts``, ``Completions``) that componentize-py
looks up in the app module, backed by a :class:`~warden_sdk.registry.Registry`.

Only :func:`serve` needs the generated bindings (``wit_world``), which
componentize-py makes from the WIT files at build time; the content
converters take the bindings' ``types`` module as an argument."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .content import Blob, Content, ResourceLink, Text, ToolResult, to_jsonable
from .errors import ToolError
from .registry import REGISTRY, Registry


class Exports(NamedTuple):
    """The export classes; those the world lacks are None (the world
    ``plugin`` exports only ``tools``)."""

    Tools: type
    Resources: type | None
    Prompts: type | None
    Completions: type | None


def wit_content(t: Any, part: Content) -> Any:
    """``part`` as the bindings' ``content`` (``t``: ``wit_world.imports.types``)."""
    if isinstance(part, Text):
        return t.Content_Text(part.text)
    if isinstance(part, Blob):
        return t.Content_Blob(t.Blob(bytes(part.data), part.mime_type))
    if isinstance(part, ResourceLink):
        return t.Content_ResourceLink(
            t.ResourceLink(
                uri=part.uri,
                name=part.name,
                title=part.title,
                description=part.description,
                mime_type=part.mime_type,
                size=part.size,
            )
        )
    raise TypeError(
        f"a content block must be Text, Blob or ResourceLink, not {type(part).__name__}"
    )


def sdk_content(t: Any, value: Any) -> Content:
    """The bindings' ``content`` as :class:`Text`, :class:`Blob` or
    :class:`ResourceLink`."""
    if isinstance(value, t.Content_Text):
        return Text(value.value)
    if isinstance(value, t.Content_Blob):
        return Blob(bytes(value.value.data), value.value.mime_type)
    link = value.value
    return ResourceLink(
        link.uri, link.name, link.title, link.description, link.mime_type, link.size
    )


def serve(registry: Registry | None = None) -> Exports:
    """The export classes for ``registry`` (default: the one the decorators
    fill). Bind them in the app module under the interfaces' names::

        Tools, Resources, Prompts, Completions = serve()

    componentize-py runs the app module at build time (pre-initialization),
    so the decorators, and the schema checks they do, run then: a tool whose
    type hints have no JSON Schema fails the build, not a call."""
    reg = registry if registry is not None else REGISTRY
    from componentize_py_types import Err
    from wit_world import exports as wit_exports
    from wit_world.imports import types as t

    def optional(name: str) -> Any:
        try:
            module = __import__(f"wit_world.exports.{name}", fromlist=[name])
        except ImportError:
            return None
        return module if hasattr(wit_exports, name.capitalize()) else None

    r, p, c = optional("resources"), optional("prompts"), optional("completions")

    def tool_output(result: ToolResult) -> Any:
        structured = None
        if result.structured is not None:
            structured = json.dumps(
                to_jsonable(result.structured), ensure_ascii=False, allow_nan=False,
                separators=(",", ":"),
            )
        return t.ToolOutput([wit_content(t, part) for part in result.content], structured)

    def tool_error(e: ToolError) -> Any:
        if e.kind == "invalid-arguments":
            return t.ToolError_InvalidArguments(e.message)
        if e.kind == "unknown-tool":
            return t.ToolError_UnknownTool(e.message)
        return t.ToolError_Failed(e.message)

    class Tools(wit_exports.Tools):
        def list_tools(self) -> list[Any]:
            return [
                t.ToolDescriptor(
                    name=info.name,
                    title=info.title,
                    description=info.description,
                    input_schema=info.input_schema,
                    output_schema=info.output_schema,
                    annotations=t.Annotations(
                        read_only=info.read_only,
                        destructive=info.destructive,
                        idempotent=info.idempotent,
                        open_world=info.open_world,
                    ),
                    requires=[getattr(t.ClientFeature, f.upper()) for f in info.requires],
                )
                for info in reg.list_tools()
            ]

        def call_tool(self, name: str, arguments: str) -> Any:
            try:
                result = reg.call_tool(name, arguments)
                return tool_output(result)
            except ToolError as e:
                raise Err(tool_error(e)) from None
            except BaseException as e:  # noqa: BLE001 - a bad result value
                raise Err(t.ToolError_Failed(f"the tool's result cannot be sent: {e}")) from None

    Resources = Prompts = Completions = None

    if r is not None:

        class Resources(wit_exports.Resources):  # type: ignore[no-redef]
            def list_resources(self) -> list[Any]:
                return [
                    r.ResourceDescriptor(
                        uri=res.uri,
                        name=res.name,
                        title=res.title,
                        description=res.description,
                        mime_type=res.mime_type,
                        size=res.size,
                    )
                    for res in reg.list_resources()
                ]

            def list_resource_templates(self) -> list[Any]:
                return [
                    r.ResourceTemplate(
                        uri_template=info.uri_template,
                        name=info.name,
                        title=info.title,
                        description=info.description,
                        mime_type=info.mime_type,
                    )
                    for info in reg.list_templates()
                ]

            def read_resource(self, uri: str) -> list[Any]:
                try:
                    found = reg.read_resource(uri)
                except ToolError as e:
                    if e.kind == "not-found":
                        raise Err(r.ResourceError_NotFound(e.message)) from None
                    raise Err(r.ResourceError_Failed(e.message)) from None
                return [
                    r.ResourceContents(
                        uri=item.uri or uri,
                        mime_type=item.mime_type,
                        body=r.ResourceBody_Text(item.body)
                        if isinstance(item.body, str)
                        else r.ResourceBody_Blob(bytes(item.body)),
                    )
                    for item in found
                ]

    if p is not None:

        class Prompts(wit_exports.Prompts):  # type: ignore[no-redef]
            def list_prompts(self) -> list[Any]:
                return [
                    p.PromptDescriptor(
                        name=info.name,
                        title=info.title,
                        description=info.description,
                        arguments=[
                            p.PromptArgument(
                                name=a.name,
                                title=a.title,
                                description=a.description,
                                required=a.required,
                            )
                            for a in info.arguments
                        ],
                    )
                    for info in reg.list_prompts()
                ]

            def get_prompt(self, name: str, arguments: list[tuple[str, str]]) -> Any:
                try:
                    result = reg.get_prompt(name, arguments)
                    messages = [
                        p.PromptMessage(
                            role=p.Role.ASSISTANT if m.role == "assistant" else p.Role.USER,
                            content=wit_content(t, m.content),
                        )
                        for m in result.messages
                    ]
                except ToolError as e:
                    if e.kind == "invalid-arguments":
                        raise Err(p.PromptError_InvalidArguments(e.message)) from None
                    if e.kind == "unknown-prompt":
                        raise Err(p.PromptError_UnknownPrompt(e.message)) from None
                    raise Err(p.PromptError_Failed(e.message)) from None
                except BaseException as e:  # noqa: BLE001
                    raise Err(p.PromptError_Failed(f"the prompt cannot be sent: {e}")) from None
                return p.PromptResult(description=result.description, messages=messages)

    if c is not None:

        class Completions(wit_exports.Completions):  # type: ignore[no-redef]
            def complete(
                self,
                reference: Any,
                argument: str,
                value: str,
                context: list[tuple[str, str]],
            ) -> Any:
                kind = "prompt" if isinstance(reference, c.CompletionRef_Prompt) else "resource-template"
                try:
                    found = reg.complete(kind, reference.value, argument, value, context)
                except ToolError as e:
                    raise Err(e.message) from None
                return c.Completion(values=found.values, total=found.total, has_more=found.has_more)

    return Exports(Tools, Resources, Prompts, Completions)
