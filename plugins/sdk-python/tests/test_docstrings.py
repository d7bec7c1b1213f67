"""Descriptions from docstrings."""

from __future__ import annotations

import unittest

from warden_sdk.docstrings import parse


class DocstringsTest(unittest.TestCase):
    def test_google_style(self) -> None:
        description, args = parse(
            """Lists the files
            under the root.

            Notes on use:
            - one item
            - another

            Args:
                pattern: A glob,
                    such as *.csv.
                limit (int): At most this many.

            Returns:
                The files.
            """
        )
        self.assertEqual(
            description,
            "Lists the files under the root.\n\nNotes on use:\n- one item\n- another",
        )
        self.assertEqual(args, {"pattern": "A glob, such as *.csv.", "limit": "At most this many."})

    def test_rest_style(self) -> None:
        description, args = parse(":param a: First.\n:param int b: Second\n    line.\n:returns: x")
        self.assertEqual(description, "")
        self.assertEqual(args, {"a": "First.", "b": "Second line."})

    def test_empty(self) -> None:
        self.assertEqual(parse(None), ("", {}))


if __name__ == "__main__":
    unittest.main()
