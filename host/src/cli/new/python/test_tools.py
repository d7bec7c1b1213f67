"""Unit tests of the tools, with plain CPython: python3 -m unittest."""

import unittest

import tools
from warden_sdk import InvalidArguments


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(tools.greet("Ada"), "Hello, Ada!")

    def test_refuses_an_empty_name(self):
        with self.assertRaises(InvalidArguments):
            tools.greet("  ")


if __name__ == "__main__":
    unittest.main()
