"""The tools of the `{{name}}` Warden plugin: plain type-hinted functions.

The SDK (``warden_sdk``, copied in by ``warden new``) derives each tool's
JSON Schema from its type hints and converts the arguments before the
function runs. This module does not need the component's bindings, so plain
CPython can test it (``test_tools.py``)."""

from typing import Annotated

from warden_sdk import InvalidArguments, log, tool


@tool(title="Greet", read_only=True, idempotent=True, open_world=False)
def greet(name: Annotated[str, "Who to greet."]) -> str:
    """Greet someone by name."""
    if not name.strip():
        raise InvalidArguments("`name` is empty")
    log.info("greeting %s", name)
    return f"Hello, {name}!"
