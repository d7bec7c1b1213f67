"""Drives `warden serve` with the official Python MCP SDK while a plugin is
added to its folder, and prints a JSON report: the tools before, the change
the client heard of, the tools after, and a call to the new plugin. Used by
tests/e2e/python.rs.

usage: check_reload.py WARDEN_BINARY PLUGINS_DIR MODE NEW_WASM   (MODE: legacy | auto)
"""

import asyncio
import json
import shutil
import sys
from pathlib import Path

import anyio
import mcp

PATIENCE = 60


def method_of(message) -> str | None:
    inner = getattr(message, "root", message)
    return getattr(inner, "method", None)


async def main(warden: str, plugins: str, mode: str, new_wasm: str) -> dict:
    params = mcp.StdioServerParameters(
        command=warden,
        args=["serve", "--wait-for-plugins", "--plugins", plugins],
        env={"WARDEN_LOG": "warn"},
    )
    heard: list[str] = []
    changed = anyio.Event()

    async def on_message(message) -> None:
        method = method_of(message)
        if method and method.endswith("list_changed"):
            heard.append(method)
            changed.set()

    def add_plugin() -> None:
        shutil.copy(new_wasm, Path(plugins) / "text.wasm")

    async with mcp.Client(
        params, mode=mode, read_timeout_seconds=PATIENCE, message_handler=on_message
    ) as client:
        before = [t.name for t in (await client.list_tools()).tools]
        if mode == "legacy":
            add_plugin()
            with anyio.fail_after(PATIENCE):
                await changed.wait()
        else:
            async with client.listen(tools_list_changed=True) as subscription:
                add_plugin()
                with anyio.fail_after(PATIENCE):
                    async for event in subscription:
                        heard.append(type(event).__name__)
                        break
        after = [t.name for t in (await client.list_tools()).tools]
        call = await client.call_tool("text_base64_encode", {"text": "hi"})
        return {
            "protocol_version": str(client.protocol_version),
            "before": before,
            "heard": heard,
            "after": after,
            "call_is_error": bool(call.is_error),
            "call": [c.text for c in call.content],
        }


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:5]))
    print(json.dumps(report))
