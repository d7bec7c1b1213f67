"""The data plugin's logic under plain CPython, on examples/workspace/data.

Run from the repository root:
    python3 -m unittest discover -s plugins/data -t plugins/data
(with plugins/sdk-python on PYTHONPATH, which this file adds itself).
"""

from __future__ import annotations

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path[:0] = [os.path.join(REPO, "plugins", "sdk-python"), os.path.dirname(HERE)]

from warden_data import files, shapes, tables  # noqa: E402
from warden_sdk import Failed, InvalidArguments  # noqa: E402

SAMPLES = os.path.join(REPO, "examples", "workspace", "data")


class DataTest(unittest.TestCase):
    def setUp(self) -> None:
        self.saved = files.ROOT
        files.ROOT = SAMPLES
        self.addCleanup(setattr, files, "ROOT", self.saved)

    def test_paths(self) -> None:
        self.assertEqual(files.resolve("sales.csv"), (f"{SAMPLES}/sales.csv", "sales.csv"))
        self.assertEqual(files.resolve(f"{SAMPLES}/a/b.csv")[1], "a/b.csv")
        self.assertEqual(files.resolve("data:///x.json")[1], "x.json")
        for bad in ("../x.csv", "a/../../x", "/etc/passwd", "", "   "):
            with self.subTest(path=bad), self.assertRaises(InvalidArguments):
                files.resolve(bad)

    def test_missing_file_names_the_files(self) -> None:
        with self.assertRaisesRegex(InvalidArguments, r"no such file: nope.csv \(files under .*sales.csv"):
            files.open_data_file("nope.csv")

    def test_missing_root_is_a_failure(self) -> None:
        files.ROOT = os.path.join(SAMPLES, "not-there")
        with self.assertRaisesRegex(Failed, "is a directory granted"):
            files.list_files()

    def test_list(self) -> None:
        found, truncated = files.list_files()
        self.assertEqual([f.path for f in found], ["sales.csv", "stores.json"])
        self.assertFalse(truncated)

    def test_summarize_csv(self) -> None:
        summary = tables.summarize("sales.csv", 1000, 3, None)
        self.assertEqual(summary["rows"], 30)
        self.assertTrue(summary["complete"])
        columns = {c["name"]: c for c in summary["columns"]}
        self.assertEqual(columns["units"]["type"], "integer")
        self.assertEqual((columns["units"]["min"], columns["units"]["max"]), (1, 50))
        self.assertEqual(columns["units"]["nulls"], 1)
        self.assertEqual(columns["revenue"]["type"], "number")
        self.assertEqual(columns["date"]["type"], "date")
        self.assertEqual(columns["region"]["top"][0], {"value": "North", "count": 8})

    def test_query_csv(self) -> None:
        result = tables.query(
            "sales.csv",
            ["date", "revenue"],
            [tables.Filter("revenue", "ge", 250), tables.Filter("channel", "ne", "online")],
            "all",
            3,
            1000,
            None,
        )
        self.assertEqual(result["matched"], 7)
        self.assertEqual(result["rows"][0], ["2024-01-06", "258.00"])
        with self.assertRaisesRegex(InvalidArguments, "no column 'nope'"):
            tables.query("sales.csv", ["nope"], None, "all", 3, 1000, None)
        with self.assertRaisesRegex(InvalidArguments, "invalid regular expression"):
            tables.query("sales.csv", None, [tables.Filter("notes", "regex", "(")], "all", 3, 1000, None)

    def test_summarize_json(self) -> None:
        summary = shapes.summarize("stores.json", 4)
        stores = summary["shape"]["keys"]["stores"]
        self.assertEqual(stores["length"], {"min": 6, "max": 6})
        self.assertEqual(stores["items"]["keys"]["seasonal"]["present"], 1)
        self.assertIn("$.stores[].hours.weekends: string (in 5 of 6", "\n".join(summary["outline"]))


if __name__ == "__main__":
    unittest.main()
