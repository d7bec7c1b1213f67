"""Drives `warden serve` with the official Python MCP SDK through resources,
templates, prompts and completions, and prints a JSON report. Used by
tests/e2e/primitives.rs; run in a workspace whose `docs` folder the `docs`
plugin is granted.

usage: check_resources.py WARDEN_BINARY PLUGINS_DIR MODE   (MODE: legacy | auto)
"""

import asyncio
import json
import sys

import mcp
import mcp_types


async def error_code(call) -> int | None:
    try:
        await call
    except mcp.MCPError as error:
        return error.error.code
    return None


async def main(warden: str, plugins: str, mode: str) -> dict:
    params = mcp.StdioServerParameters(
        command=warden,
        args=["serve", "--wait-for-plugins", "--plugins", plugins],
        env={"WARDEN_LOG": "warn"},
    )
    async with mcp.Client(params, mode=mode, read_timeout_seconds=60) as client:
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
        read = await client.read_resource("docs+docs://alpha.md")
        templated = await client.read_resource("docs+docs://guides%2Fbeta.md")
        missing = await error_code(client.read_resource("docs+docs://missing.md"))
        prompts = await client.list_prompts()
        summary = await client.get_prompt(
            "docs_summarize", {"path": "alpha.md", "audience": "operators"}
        )
        missing_argument = await error_code(client.get_prompt("docs_summarize", {}))
        paths = await client.complete(
            mcp_types.ResourceTemplateReference(
                type="ref/resource", uri="docs+docs://{path}"
            ),
            {"name": "path", "value": "gu"},
        )
        focus = await client.complete(
            mcp_types.PromptReference(type="ref/prompt", name="docs_review_diff"),
            {"name": "focus", "value": "per"},
        )
        return {
            "protocol_version": str(client.protocol_version),
            "resources": [str(r.uri) for r in resources.resources],
            "templates": [t.uri_template for t in templates.resource_templates],
            "read": [c.text for c in read.contents],
            "templated": [c.text for c in templated.contents],
            "missing_code": missing,
            "prompts": [p.name for p in prompts.prompts],
            "summary": [m.content.text for m in summary.messages],
            "missing_argument_code": missing_argument,
            "paths": paths.completion.values,
            "focus": focus.completion.values,
        }


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:4]))
    print(json.dumps(report))
