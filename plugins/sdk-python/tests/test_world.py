"""The component's exports against fake bindings: descriptors and content."""

from __future__ import annotations

import unittest

from warden_sdk import Blob, Registry, ResourceLink, Text, ToolResult, tool
from warden_sdk.world import sdk_content, serve, wit_content

from .fake_wit import installed, types as t


def make_registry() -> Registry:
    reg = Registry()

    @tool(description="Plain", registry=reg)
    def plain() -> str:
        return "ok"

    @tool(description="Asks", requires=["elicitation", "sampling", "elicitation"], registry=reg)
    def asks() -> list[ResourceLink]:
        return [
            ResourceLink("data:///a.csv", "a.csv", mime_type="text/csv", size=12),
            ResourceLink("https://example.com/b", "b", title="B", description="The b page"),
        ]

    return reg


class ExportsTest(unittest.TestCase):
    def test_descriptors_carry_requires(self) -> None:
        with installed():
            tools = serve(make_registry()).Tools()
            plain, asks = tools.list_tools()
        self.assertEqual(plain.requires, [])
        self.assertEqual(asks.requires, [t.ClientFeature.ELICITATION, t.ClientFeature.SAMPLING])

    def test_resource_links_in_a_result(self) -> None:
        with installed():
            output = serve(make_registry()).Tools().call_tool("asks", "{}")
        self.assertEqual(
            output.content,
            [
                t.Content_ResourceLink(t.ResourceLink("data:///a.csv", "a.csv", None, None, "text/csv", 12)),
                t.Content_ResourceLink(
                    t.ResourceLink("https://example.com/b", "b", "B", "The b page", None, None)
                ),
            ],
        )
        self.assertIsNone(output.structured)


class ContentTest(unittest.TestCase):
    def test_round_trip(self) -> None:
        for part in (
            Text("hi"),
            Blob(b"\x00\x01", "audio/wav"),
            ResourceLink("notes:///a.md", "a.md", "A", "Note a", "text/markdown", 3),
        ):
            with self.subTest(part=part):
                self.assertEqual(sdk_content(t, wit_content(t, part)), part)

    def test_other_values_are_refused(self) -> None:
        with self.assertRaisesRegex(TypeError, "Text, Blob or ResourceLink"):
            wit_content(t, ToolResult())


if __name__ == "__main__":
    unittest.main()
