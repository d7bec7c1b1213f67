"""Errors a tool, resource, prompt or completer raises to fail on purpose.

The SDK turns them into the contract's error variants; any other exception
becomes ``failed`` with its message, so an exception never traps the
instance. :class:`ClientError` is what the client helpers raise when a
request to the MCP client gets no answer.
"""

from __future__ import annotations


class ToolError(Exception):
    """The tool ran and could not do its job (``tool-error::failed``).

    Subclasses pick other variants; the message is what the caller sees, so
    write one a person can act on.
    """

    kind = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)

    def __str__(self) -> str:
        return self.message


class Failed(ToolError):
    """Same as :class:`ToolError`: the call ran and failed."""


class InvalidArguments(ToolError):
    """The arguments cannot be used (``invalid-arguments``). Raised by the
    SDK when arguments do not convert to the function's type hints; raise it
    yourself for values that type hints cannot rule out (an unknown file, a
    malformed pattern, ...)."""

    kind = "invalid-arguments"


class NotFound(ToolError):
    """No resource has this URI (``resource-error::not-found``). From a tool,
    it is reported as ``failed``."""

    kind = "not-found"


class ClientError(Exception):
    """The host gave no answer to a request to the MCP client
    (:mod:`warden_sdk.client`; ``client-error``). ``kind`` is
    ``unsupported`` (the client did not declare the feature), ``denied``
    (the plugin was not granted it), ``limit_exceeded`` (a per-call limit
    was reached) or ``failed``; ``request`` names the request (``sample``,
    ``elicit``, ``list-roots``; for an answer of
    :func:`~warden_sdk.client.ask_all`, which returns it rather than raising
    it, the request's key). Uncaught, it fails the call with
    ``REQUEST: KIND: MESSAGE``."""

    KINDS = ("unsupported", "denied", "limit_exceeded", "failed")

    def __init__(self, kind: str, message: str, request: str | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown client error kind {kind!r}: use {', '.join(self.KINDS)}")
        super().__init__(message)
        self.kind = kind
        self.message = str(message)
        self.request = request

    def __str__(self) -> str:
        return self.message
