"""Drives `warden serve` with the official Python MCP SDK as a client whose
person answers permission questions for a held directory (`[policy] ask =
true`): the `files` example writes to /scratch, which its manifest requests
and the lock does not approve, three times, answered "once", "deny" and
"always"; prints a JSON report. Used by tests/e2e/python.rs.

usage: check_dir_permission.py WARDEN_BINARY PLUGINS_DIR MODE CONFIG   (MODE: legacy | auto)
"""

import asyncio
import json
import sys

import mcp
from mcp import types


async def main(warden: str, plugins: str, mode: str, config: str) -> dict:
    params = mcp.StdioServerParameters(
        command=warden,
        args=["serve", "--wait-for-plugins", "--plugins", plugins, "--config", config],
        env={"WARDEN_LOG": "warn"},
    )
    answers = ["once", "deny", "always"]
    asked = []

    async def on_elicitation(context, params):
        choices = [c["const"] for c in params.requested_schema["properties"]["answer"]["oneOf"]]
        answer = answers[len(asked)]
        asked.append({"message": params.message, "choices": choices, "answer": answer})
        return types.ElicitResult(action="accept", content={"answer": answer})

    async with mcp.Client(
        params,
        mode=mode,
        read_timeout_seconds=60,
        elicitation_callback=on_elicitation,
    ) as client:
        results = []
        for answer in answers:
            result = await client.call_tool(
                "files_write", {"path": f"/scratch/{answer}.txt", "content": answer}
            )
            results.append(
                {
                    "is_error": bool(result.is_error),
                    "text": [c.text for c in result.content if c.type == "text"],
                }
            )
        report = {
            "protocol_version": str(client.protocol_version),
            "results": results,
            "asked": asked,
        }
    return report


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:5]))
    print(json.dumps(report))
