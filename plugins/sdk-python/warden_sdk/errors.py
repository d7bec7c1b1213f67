"""Errors a tool, resource, prompt or completer raises to fail on purpose.

The SDK turns them into the contract's error variants; any other exception
becomes ``failed`` with its message, so an exception never traps the
instance.
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
