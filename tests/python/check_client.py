"""Drives `warden serve` with the official Python MCP SDK (a client written by
others) and prints a JSON report of what it saw. Used by tests/e2e/python.rs.

usage: check_client.py WARDEN_BINARY PLUGINS_DIR MODE   (MODE: legacy | auto)
"""

import asyncio
import json
import sys

import mcp


async def main(warden: str, plugins: str, mode: str) -> dict:
    params = mcp.StdioServerParameters(
        command=warden,
        args=["serve", "--wait-for-plugins", "--plugins", plugins],
        env={"WARDEN_LOG": "warn"},
    )
    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "total": total, "message": message})

    logs = []

    async def on_log(params):
        logs.append({"level": params.level, "logger": params.logger, "data": params.data})

    # Plugin log messages at `warning` and above: opted into per request on
    # 2026-07-28 (`log_level`), per session before (`set_logging_level`).
    async with mcp.Client(
        params,
        mode=mode,
        read_timeout_seconds=60,
        logging_callback=on_log,
        log_level="warning",
    ) as client:
        if str(client.protocol_version) < "2026-07-28":
            await client.set_logging_level("warning")
        tools = await client.list_tools()
        names = sorted(tool.name for tool in tools.tools)
        hashed = await client.call_tool(
            "text_hash", {"text": "abc", "algorithm": "sha256"}
        )
        bad = await client.call_tool("text_hash", {"text": 7})
        logged = await client.call_tool("hostile_log", {}, progress_callback=on_progress)
        unknown_error = None
        try:
            await client.call_tool("no_such_tool", {})
        except Exception as error:  # the SDK raises on JSON-RPC errors
            unknown_error = str(error)
        return {
            "protocol_version": str(client.protocol_version),
            "tools": names,
            "hash": [c.text for c in hashed.content if c.type == "text"],
            "hash_is_error": bool(hashed.is_error),
            "bad_is_error": bool(bad.is_error),
            "bad": [c.text for c in bad.content if c.type == "text"],
            "logged_is_error": bool(logged.is_error),
            "progress": progress,
            "logs": logs,
            "unknown_error": unknown_error,
        }


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:4]))
    print(json.dumps(report))
