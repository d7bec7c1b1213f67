"""Drives `warden serve` with the official Python MCP SDK as a client that
answers sampling, elicitation and roots requests, and calls the `asker`
fixture's tools; prints a JSON report. Used by tests/e2e/python.rs.

usage: check_client_requests.py WARDEN_BINARY PLUGINS_DIR MODE   (MODE: legacy | auto)
"""

import asyncio
import json
import sys

import mcp
from mcp import types


async def main(warden: str, plugins: str, mode: str) -> dict:
    params = mcp.StdioServerParameters(
        command=warden,
        args=["serve", "--wait-for-plugins", "--plugins", plugins],
        env={"WARDEN_LOG": "warn"},
    )
    asked = []

    async def on_sampling(context, params):
        text = params.messages[-1].content.text
        asked.append({"method": "sampling/createMessage", "max_tokens": params.max_tokens, "text": text})
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"python says {text}"),
            model="python-model",
            stop_reason="endTurn",
        )

    async def on_elicitation(context, params):
        asked.append({"method": "elicitation/create", "message": params.message})
        return types.ElicitResult(action="accept", content={"name": "Grace"})

    async def on_roots(context):
        asked.append({"method": "roots/list"})
        return types.ListRootsResult(roots=[types.Root(uri="file:///project", name="project")])

    async with mcp.Client(
        params,
        mode=mode,
        read_timeout_seconds=60,
        sampling_callback=on_sampling,
        elicitation_callback=on_elicitation,
        list_roots_callback=on_roots,
    ) as client:
        results = {}
        for tool, arguments in [
            ("asker_ask_model", {"prompt": "hello", "max_tokens": 30}),
            ("asker_ask_person", {"message": "Name?"}),
            ("asker_roots", {}),
        ]:
            result = await client.call_tool(tool, arguments)
            results[tool] = {
                "is_error": bool(result.is_error),
                "text": [c.text for c in result.content if c.type == "text"],
            }
        return {
            "protocol_version": str(client.protocol_version),
            "results": results,
            "asked": asked,
        }


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:4]))
    print(json.dumps(report))
