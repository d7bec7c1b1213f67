"""Drives `warden serve` with the official Python MCP SDK while a plugin is
added to its folder, and prints a JSON report: the tools before, the change
the client heard of, the tools after, and a call to the new plugin. Used by
tests/e2e/python.rs. Then it checks, failing with a message if not, that a
corrupt replacement leaves the plugin serving and that removing it takes
its tools away with a change the client hears of.

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
    # anyio events cannot be cleared: each wait gets a new one.
    changed = [anyio.Event()]

    async def on_message(message) -> None:
        method = method_of(message)
        if method and method.endswith("list_changed"):
            heard.append(method)
            changed[0].set()

    def add_plugin() -> None:
        shutil.copy(new_wasm, Path(plugins) / "text.wasm")

    def replace_with_garbage() -> None:
        # Written beside and renamed in, as a copy tool that finishes would.
        staged = Path(plugins) / ".text.wasm.partial"
        staged.write_bytes(b"\0asm\x0d\0\x01\0 not a component")
        staged.rename(Path(plugins) / "text.wasm")

    def remove_plugin() -> None:
        (Path(plugins) / "text.wasm").unlink()

    async def hear_change(client, act) -> None:
        if mode == "legacy":
            changed[0] = anyio.Event()
            act()
            with anyio.fail_after(PATIENCE):
                await changed[0].wait()
        else:
            async with client.listen(tools_list_changed=True) as subscription:
                act()
                with anyio.fail_after(PATIENCE):
                    async for event in subscription:
                        heard.append(type(event).__name__)
                        break

    async with mcp.Client(
        params, mode=mode, read_timeout_seconds=PATIENCE, message_handler=on_message
    ) as client:
        before = [t.name for t in (await client.list_tools()).tools]
        await hear_change(client, add_plugin)
        after = [t.name for t in (await client.list_tools()).tools]
        call = await client.call_tool("text_base64_encode", {"text": "hi"})

        # A corrupt replacement: the version loaded before keeps serving.
        replace_with_garbage()
        await anyio.sleep(2)
        kept = [t.name for t in (await client.list_tools()).tools]
        assert "text_base64_encode" in kept, f"the old version stopped serving: {kept}"
        again = await client.call_tool("text_base64_encode", {"text": "hi"})
        assert not again.is_error and again.content[0].text == "aGk=", again

        # Removed: its tools go, and the client hears of it.
        await hear_change(client, remove_plugin)
        gone = [t.name for t in (await client.list_tools()).tools]
        assert not any(n.startswith("text_") for n in gone), f"still listed: {gone}"
        assert "hostile_echo" in gone, gone
        return {
            "protocol_version": str(client.protocol_version),
            "before": before,
            "heard": heard,
            "after": after,
            "call_is_error": bool(call.is_error),
            "call": [c.text for c in call.content],
            "after_removal": gone,
        }


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:5]))
    print(json.dumps(report))
