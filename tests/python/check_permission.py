"""Drives `warden serve` with the official Python MCP SDK as a client whose
person answers permission questions (`[policy] ask = true`), three times,
answered "once", "deny" and "always"; prints a JSON report. Used by
tests/e2e/python.rs. The calls, by SCENARIO:

- `http`: the `fetch` example, granted no origin, fetches from a local HTTP
  server started here;
- `dir`: the `files` example writes to /scratch, which its manifest requests
  and the lock does not approve.

usage: check_permission.py WARDEN_BINARY PLUGINS_DIR MODE CONFIG SCENARIO
       (MODE: legacy | auto; SCENARIO: http | dir)
"""

import asyncio
import http.server
import json
import sys
import threading

import mcp
from mcp import types


class Hello(http.server.BaseHTTPRequestHandler):
    seen = 0

    def do_GET(self):
        Hello.seen += 1
        body = b"hello from python"
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def main(warden: str, plugins: str, mode: str, config: str, scenario: str) -> dict:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
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
            if scenario == "dir":
                result = await client.call_tool(
                    "files_write", {"path": f"/scratch/{answer}.txt", "content": answer}
                )
            else:
                result = await client.call_tool(
                    "fetch_get", {"url": f"{origin}/page?token=hunter2"}
                )
            results.append(
                {
                    "is_error": bool(result.is_error),
                    "text": [c.text for c in result.content if c.type == "text"],
                }
            )
        report = {
            "protocol_version": str(client.protocol_version),
            "origin": origin,
            "results": results,
            "asked": asked,
            "server_saw": Hello.seen,
        }
    server.shutdown()
    return report


if __name__ == "__main__":
    report = asyncio.run(main(*sys.argv[1:6]))
    print(json.dumps(report))
