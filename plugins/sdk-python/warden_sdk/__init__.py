"""Python SDK for Warden plugins (WIT world ``warden:plugin@0.2.0``).

A tool is a plain type-hinted function::

    from typing import Annotated, Literal
    from warden_sdk import tool, serve, InvalidArguments

    @tool(description="Shout a text", read_only=True)
    def shout(text: Annotated[str, "What to shout"], bangs: int = 1) -> str:
        if bangs > 10:
            raise InvalidArguments("at most 10 bangs, please")
        return text.upper() + "!" * bangs

    Tools, Resources, Prompts, Completions = serve()

The JSON Schema of the arguments comes from the type hints; the arguments are
converted to those types before the function runs. Requests to the MCP
client (sampling, elicitation, roots) are in :mod:`warden_sdk.client`. See
README.md.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from . import log, notify, progress
from .content import (
    Blob,
    Completion,
    Contents,
    Image,
    Message,
    PromptResult,
    Resource,
    ResourceLink,
    Text,
    ToolResult,
    assistant,
    user,
)
from .errors import ClientError, Failed, InvalidArguments, NotFound, ToolError
from .registry import REGISTRY, Registry
from .schema import schema_for

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "tool", "resource", "resource_list", "resource_template", "prompt", "completer",
    "serve", "ToolError", "InvalidArguments", "Failed", "NotFound", "ClientError",
    "ToolResult", "Text", "Blob", "Image", "ResourceLink", "Message", "user",
    "assistant", "PromptResult", "Resource", "Contents", "Completion", "Registry",
    "REGISTRY", "schema_for", "log", "progress", "notify",
]


def tool(
    fn: F | None = None,
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
    registry: Registry | None = None,
) -> Any:
    """Declares a tool: ``@tool`` or ``@tool(description=..., read_only=True)``.

    The name defaults to the function's, the description to its docstring
    (the text before ``Args:``). Each argument's description comes from
    ``Annotated[T, "text"]`` or the docstring's ``Args:`` section. Arguments
    with defaults are optional. ``output_schema``: None derives one from a
    dataclass or TypedDict return hint, False declares none, a dict or a type
    declares that one. ``requires`` names the client features the tool
    cannot work without (``"sampling"``, ``"elicitation"``, ``"roots"``; see
    :mod:`warden_sdk.client`): the host refuses calls from clients that lack
    one. The function is returned unchanged."""

    def register(f: F) -> F:
        (registry or REGISTRY).add_tool(
            f,
            name=name,
            title=title,
            description=description,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
            open_world=open_world,
            output_schema=output_schema,
            requires=requires,
        )
        return f

    return register(fn) if fn is not None else register


def resource(
    uri: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    size: int | None = None,
    registry: Registry | None = None,
) -> Callable[[F], F]:
    """Declares a resource with a fixed URI, read by the decorated function
    (no arguments; returns str, bytes, :class:`Contents` or a list)."""

    def register(f: F) -> F:
        (registry or REGISTRY).add_resource(
            f, uri, name=name, title=title, description=description,
            mime_type=mime_type, size=size,
        )
        return f

    return register


def resource_list(fn: F | None = None, *, registry: Registry | None = None) -> Any:
    """Declares a function that lists resources when the host asks (returns
    an iterable of :class:`Resource`). They are read through the first
    :func:`resource_template` that matches their URI."""

    def register(f: F) -> F:
        (registry or REGISTRY).add_lister(f)
        return f

    return register(fn) if fn is not None else register


def resource_template(
    uri_template: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    complete: dict[str, Callable[..., Iterable[str]]] | None = None,
    registry: Registry | None = None,
) -> Callable[[F], F]:
    """Declares a URI template such as ``notes:///{path}``, read by the
    decorated function: it gets each variable as a keyword argument (and
    ``uri`` if it has such a parameter). A variable matches any non-empty
    text, ``/`` included, and is percent-decoded. ``complete`` maps variable
    names to completers (see :func:`completer`)."""

    def register(f: F) -> F:
        (registry or REGISTRY).add_template(
            f, uri_template, name=name, title=title, description=description,
            mime_type=mime_type, complete=complete,
        )
        return f

    return register


def prompt(
    fn: F | None = None,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    complete: dict[str, Callable[..., Iterable[str]]] | None = None,
    registry: Registry | None = None,
) -> Any:
    """Declares a prompt. Its arguments arrive as strings and are converted
    to ``str``, ``int``, ``float``, ``bool`` or a ``Literal`` of strings;
    those with defaults are optional. It returns a str (one user message), a
    :class:`Message` (:func:`user`, :func:`assistant`), a list of them, or a
    :class:`PromptResult`."""

    def register(f: F) -> F:
        (registry or REGISTRY).add_prompt(
            f, name=name, title=title, description=description, complete=complete
        )
        return f

    return register(fn) if fn is not None else register


def completer(
    *,
    argument: str,
    prompt: str | None = None,
    template: str | None = None,
    filter: bool = True,
    registry: Registry | None = None,
) -> Callable[[F], F]:
    """Declares how to complete a prompt's argument or a template's
    variable. The function gets the text typed so far (and, if it takes a
    second parameter, a dict of the arguments already resolved) and returns
    candidates; unless ``filter=False`` the SDK keeps those that start with
    the typed text (ignoring case) and sends at most 100."""

    def register(f: F) -> F:
        (registry or REGISTRY).add_completer(
            f, argument=argument, prompt=prompt, template=template, filter=filter
        )
        return f

    return register


def serve(registry: Registry | None = None) -> Any:
    """The export classes, to bind in the app module::

        Tools, Resources, Prompts, Completions = serve()

    See :func:`warden_sdk.world.serve`."""
    from .world import serve as _serve

    return _serve(registry)
