"""Dispatching calls: results, errors, resources, prompts, completions."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import unittest
from typing import Annotated, Literal

from warden_sdk import (
    Blob,
    Contents,
    InvalidArguments,
    NotFound,
    Registry,
    Resource,
    ResourceLink,
    Text,
    ToolError,
    ToolResult,
    assistant,
    completer,
    prompt,
    resource,
    resource_list,
    resource_template,
    tool,
    user,
)
from warden_sdk import uri as uri_templates


@dataclasses.dataclass
class Stats:
    count: int
    mean: float | None


def make_registry() -> Registry:
    reg = Registry()

    @tool(description="Echo", registry=reg, read_only=True)
    def echo(text: str, times: int = 1) -> str:
        return text * times

    @tool(registry=reg)
    def stats(values: list[float]) -> Stats:
        """Count and mean."""
        return Stats(len(values), sum(values) / len(values) if values else float("nan"))

    @tool(description="Listing", registry=reg)
    def listing() -> list[int]:
        return [1, 2]

    @tool(description="Fails", registry=reg)
    def fails(kind: Literal["invalid", "failed", "crash", "exit", "memory"]) -> str:
        if kind == "invalid":
            raise InvalidArguments("bad value")
        if kind == "failed":
            raise ToolError("did not work")
        if kind == "crash":
            return {}["missing"]
        if kind == "memory":
            raise MemoryError()
        raise SystemExit(3)

    @tool(description="Blocks", registry=reg)
    def blocks() -> ToolResult:
        return ToolResult([Text("hi"), Blob(b"\x89P", "image/png")], {"ok": True})

    @resource("notes://readme", name="readme", mime_type="text/markdown", registry=reg)
    def readme() -> str:
        return "# Readme"

    @resource_list(registry=reg)
    def files() -> list[Resource]:
        return [Resource("files:///a/b.txt", "a/b.txt", size=3)]

    @resource_template("files:///{path}", name="file", mime_type="text/plain", registry=reg)
    def read_file(path: str) -> str:
        if path == "secret":
            raise PermissionError(13, "Permission denied", "/files/secret")
        if path == "gone":
            raise FileNotFoundError(2, "No such file or directory", "/files/gone")
        return f"contents of {path}"

    @prompt(description="Explore a file", registry=reg)
    def explore(path: Annotated[str, "The file."], depth: int = 1, verbose: bool = False) -> list:
        return [user(f"explore {path} to depth {depth} verbose={verbose}"), assistant("ok")]

    @completer(prompt="explore", argument="path", registry=reg)
    def complete_path(typed: str, context: dict[str, str]) -> list[str]:
        return ["sales.csv", "Stores.json", "sub/x.csv"]

    return reg


class QuietTest(unittest.TestCase):
    def setUp(self) -> None:
        self.reg = make_registry()
        # Failures are logged (to stderr outside a component).
        quiet = contextlib.redirect_stderr(io.StringIO())
        quiet.__enter__()
        self.addCleanup(quiet.__exit__, None, None, None)


class ToolsTest(QuietTest):

    def test_descriptors(self) -> None:
        infos = {i.name: i for i in self.reg.list_tools()}
        self.assertEqual(list(infos), ["echo", "stats", "listing", "fails", "blocks"])
        self.assertTrue(infos["echo"].read_only)
        self.assertIsNone(infos["echo"].output_schema)
        self.assertEqual(infos["stats"].description, "Count and mean.")
        out = json.loads(infos["stats"].output_schema)
        self.assertEqual(out["required"], ["count", "mean"])
        self.assertEqual(infos["echo"].requires, [])

    def test_requires(self) -> None:
        reg = Registry()

        @tool(description="d", requires=["roots", "sampling", "roots"], registry=reg)
        def many() -> None:
            pass

        @tool(description="d", requires="elicitation", registry=reg)
        def one() -> None:
            pass

        self.assertEqual([i.requires for i in reg.list_tools()], [["roots", "sampling"], ["elicitation"]])
        with self.assertRaisesRegex(ValueError, "unknown client feature 'logging'"):
            tool(name="bad", description="d", requires=["logging"], registry=reg)(lambda: None)

    def test_resource_links(self) -> None:
        reg = Registry()
        link = ResourceLink("files:///a.txt", "a.txt", mime_type="text/plain", size=3)

        @tool(description="d", registry=reg)
        def one() -> ResourceLink:
            return link

        @tool(description="d", registry=reg)
        def mixed() -> list:
            return [Text("see"), link]

        self.assertIsNone(reg.list_tools()[0].output_schema)
        self.assertEqual(reg.call_tool("one", "{}"), ToolResult([link]))
        self.assertEqual(reg.call_tool("mixed", "{}"), ToolResult([Text("see"), link]))

    def test_text_result(self) -> None:
        result = self.reg.call_tool("echo", '{"text": "ab", "times": 2}')
        self.assertEqual(result.content, [Text("abab")])
        self.assertIsNone(result.structured)

    def test_structured_result(self) -> None:
        result = self.reg.call_tool("stats", '{"values": [1, 2]}')
        self.assertEqual(result.structured, {"count": 2, "mean": 1.5})
        self.assertEqual(json.loads(result.content[0].text), {"count": 2, "mean": 1.5})
        empty = self.reg.call_tool("stats", '{"values": []}')
        self.assertEqual(empty.structured, {"count": 0, "mean": None})

    def test_list_result_is_text_only(self) -> None:
        result = self.reg.call_tool("listing", "{}")
        self.assertEqual(result.content, [Text("[1,2]")])
        self.assertIsNone(result.structured)

    def test_explicit_result(self) -> None:
        result = self.reg.call_tool("blocks", "{}")
        self.assertEqual(result.content[1], Blob(b"\x89P", "image/png"))

    def test_errors(self) -> None:
        cases = {
            "invalid": ("invalid-arguments", "bad value"),
            "failed": ("failed", "did not work"),
            "crash": ("failed", "KeyError: 'missing'"),
            "exit": ("failed", "SystemExit: 3"),
            "memory": (
                "failed",
                "out of memory: the call needed more memory than the plugin's limit allows",
            ),
        }
        for kind, (expected_kind, message) in cases.items():
            with self.subTest(kind=kind), self.assertRaises(ToolError) as caught:
                self.reg.call_tool("fails", json.dumps({"kind": kind}))
            self.assertEqual(caught.exception.kind, expected_kind)
            self.assertEqual(caught.exception.message, message)

    def test_unknown_tool_and_bad_json(self) -> None:
        with self.assertRaises(ToolError) as caught:
            self.reg.call_tool("nope", "{}")
        self.assertEqual(caught.exception.kind, "unknown-tool")
        with self.assertRaises(ToolError) as caught:
            self.reg.call_tool("echo", "{not json")
        self.assertEqual(caught.exception.kind, "invalid-arguments")
        with self.assertRaises(ToolError) as caught:
            self.reg.call_tool("echo", '{"text": 3}')
        self.assertEqual(str(caught.exception), "`text`: expected a string, got integer 3")

    def test_registration_errors(self) -> None:
        reg = Registry()

        def undocumented() -> None:
            pass

        with self.assertRaisesRegex(ValueError, "needs a description"):
            tool(registry=reg)(undocumented)
        with self.assertRaisesRegex(ValueError, "tool name"):
            tool(name="has space", description="d", registry=reg)(lambda: None)

        def dup() -> None:
            """Doc."""

        tool(registry=reg)(dup)
        with self.assertRaisesRegex(ValueError, "two tools"):
            tool(registry=reg)(dup)


class ResourcesTest(QuietTest):

    def test_lists(self) -> None:
        uris = [r.uri for r in self.reg.list_resources()]
        self.assertEqual(uris, ["notes://readme", "files:///a/b.txt"])
        self.assertEqual(self.reg.list_templates()[0].uri_template, "files:///{path}")

    def test_reads(self) -> None:
        self.assertEqual(
            self.reg.read_resource("notes://readme"),
            [Contents("# Readme", "text/markdown", "notes://readme")],
        )
        self.assertEqual(
            self.reg.read_resource("files:///a/b%20c.txt"),
            [Contents("contents of a/b c.txt", "text/plain", "files:///a/b%20c.txt")],
        )

    def test_errors(self) -> None:
        with self.assertRaises(NotFound):
            self.reg.read_resource("other://x")
        with self.assertRaises(NotFound):
            self.reg.read_resource("files:///gone")
        with self.assertRaises(ToolError) as caught:
            self.reg.read_resource("files:///secret")
        self.assertEqual(caught.exception.kind, "failed")
        self.assertIn("Permission denied", caught.exception.message)

    def test_template_matching(self) -> None:
        parts = uri_templates.parse_template("docs://{path}")
        self.assertEqual(uri_templates.match(parts, "docs://a/b.md"), {"path": "a/b.md"})
        self.assertIsNone(uri_templates.match(parts, "docs://"))
        parts = uri_templates.parse_template("repo://{owner}/{name}/readme")
        self.assertEqual(
            uri_templates.match(parts, "repo://me/x/readme"), {"owner": "me", "name": "x"}
        )
        with self.assertRaises(ValueError):
            uri_templates.parse_template("x://{a}{b}")
        with self.assertRaises(ValueError):
            uri_templates.parse_template("x://{?q}")


class PromptsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.reg = make_registry()

    def test_descriptor(self) -> None:
        (info,) = self.reg.list_prompts()
        self.assertEqual(info.name, "explore")
        self.assertEqual(
            [(a.name, a.required, a.description) for a in info.arguments],
            [("path", True, "The file."), ("depth", False, None), ("verbose", False, None)],
        )

    def test_get(self) -> None:
        result = self.reg.get_prompt("explore", [("path", "a.csv"), ("depth", "2"), ("verbose", "yes")])
        self.assertEqual(
            [(m.role, m.content.text) for m in result.messages],
            [("user", "explore a.csv to depth 2 verbose=True"), ("assistant", "ok")],
        )

    def test_errors(self) -> None:
        for name, args, kind in [
            ("explore", [("depth", "2")], "invalid-arguments"),
            ("explore", [("path", "a"), ("depth", "two")], "invalid-arguments"),
            ("explore", [("path", "a"), ("other", "1")], "invalid-arguments"),
            ("nope", [], "unknown-prompt"),
        ]:
            with self.subTest(name=name, args=args), self.assertRaises(ToolError) as caught:
                self.reg.get_prompt(name, args)
            self.assertEqual(caught.exception.kind, kind)

    def test_complete(self) -> None:
        found = self.reg.complete("prompt", "explore", "path", "s")
        self.assertEqual(found.values, ["sales.csv", "Stores.json", "sub/x.csv"])
        found = self.reg.complete("prompt", "explore", "path", "sa")
        self.assertEqual((found.values, found.total, found.has_more), (["sales.csv"], 1, False))
        self.assertEqual(self.reg.complete("prompt", "explore", "depth", "").values, [])
        self.assertEqual(self.reg.complete("resource-template", "x://{y}", "y", "").values, [])


if __name__ == "__main__":
    unittest.main()
