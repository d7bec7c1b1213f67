"""Converting JSON arguments into the hinted types."""

from __future__ import annotations

import dataclasses
import enum
import unittest
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

from warden_sdk.convert import convert, convert_arguments
from warden_sdk.errors import InvalidArguments
from warden_sdk.schema import function_params


class Op(enum.Enum):
    EQ = "eq"
    LT = "lt"


@dataclasses.dataclass
class Filter:
    column: str
    op: Literal["eq", "lt", "contains"] = "eq"
    value: str | float | None = None

    def __post_init__(self) -> None:
        if not self.column:
            raise ValueError("the column cannot be empty")


class Span(TypedDict):
    start: int
    end: int


class ConvertTest(unittest.TestCase):
    def assertInvalid(self, value: Any, hint: Any, message: str, path: str = "x") -> None:
        with self.assertRaises(InvalidArguments) as caught:
            convert(value, hint, path)
        self.assertIn(message, str(caught.exception))
        self.assertEqual(caught.exception.kind, "invalid-arguments")

    def test_scalars(self) -> None:
        self.assertEqual(convert("a", str), "a")
        self.assertEqual(convert(3, int), 3)
        self.assertEqual(convert(3.0, int), 3)
        self.assertIsInstance(convert(3, float), float)
        self.assertIs(convert(True, bool), True)
        self.assertIsNone(convert(None, type(None)))
        self.assertEqual(convert({"any": 1}, Any), {"any": 1})

    def test_scalar_mismatches(self) -> None:
        self.assertInvalid(1, str, "`x`: expected a string, got integer 1")
        self.assertInvalid("1", int, "expected an integer, got string \"1\"")
        self.assertInvalid(1.5, int, "expected an integer, got number 1.5")
        self.assertInvalid(True, int, "expected an integer, got boolean true")
        self.assertInvalid(1, bool, "expected a boolean")
        self.assertInvalid(None, float, "expected a number, got null")

    def test_containers(self) -> None:
        self.assertEqual(convert([1, 2], list[int]), [1, 2])
        self.assertEqual(convert([1, 2], tuple[int, ...]), (1, 2))
        self.assertEqual(convert(["a", 1], tuple[str, int]), ("a", 1))
        self.assertEqual(convert(["a", "a"], set[str]), {"a"})
        self.assertEqual(convert({"a": 1}, dict[str, float]), {"a": 1.0})
        self.assertInvalid([1, "b"], list[int], "`x[1]`: expected an integer")
        self.assertInvalid({"a": "b"}, dict[str, int], "`x.a`: expected an integer")
        self.assertInvalid(["a"], tuple[str, int], "expected an array of 2 items, got 1")
        self.assertInvalid("abc", list[str], "expected an array, got string")

    def test_optional_and_union(self) -> None:
        self.assertIsNone(convert(None, Optional[int]))
        self.assertEqual(convert(2, int | None), 2)
        self.assertEqual(convert("a", Union[int, str]), "a")
        self.assertEqual(convert(2, Union[int, str]), 2)
        self.assertInvalid(1.5, Optional[int], "expected integer or null, got number 1.5")
        self.assertInvalid([], Union[int, str], "expected integer or string")

    def test_literal_and_enum(self) -> None:
        self.assertEqual(convert("eq", Literal["eq", "lt"]), "eq")
        self.assertInvalid("gt", Literal["eq", "lt"], 'expected one of "eq", "lt", got string "gt"')
        self.assertInvalid(True, Literal[1], "expected one of 1")
        self.assertIs(convert("lt", Op), Op.LT)
        self.assertIs(convert("EQ", Op), Op.EQ)
        self.assertInvalid("ge", Op, 'one of "eq", "lt"')

    def test_annotated(self) -> None:
        self.assertEqual(convert(4, Annotated[int, "count"]), 4)

    def test_dataclass(self) -> None:
        self.assertEqual(
            convert({"column": "a", "op": "lt", "value": 3}, Filter),
            Filter("a", "lt", 3.0),
        )
        self.assertEqual(convert({"column": "a"}, Filter), Filter("a"))
        self.assertInvalid({"op": "lt"}, Filter, "`x.column`: missing required field")
        self.assertInvalid({"column": "a", "nope": 1}, Filter, "`x.nope`: unknown field")
        self.assertInvalid({"column": "a", "op": "??"}, Filter, "`x.op`: expected one of")
        self.assertInvalid({"column": ""}, Filter, "`x`: the column cannot be empty")
        self.assertInvalid(
            [{"column": "a", "value": []}], list[Filter],
            "`x[0].value`: expected string or number or null, got an array",
        )

    def test_typeddict(self) -> None:
        self.assertEqual(convert({"start": 1, "end": 2}, Span), {"start": 1, "end": 2})
        self.assertInvalid({"start": 1}, Span, "`x.end`: missing required field")


class ConvertArgumentsTest(unittest.TestCase):
    def params(self) -> Any:
        def fn(path: str, limit: int = 10, filters: list[Filter] | None = None) -> None:
            pass

        return function_params(fn)[1]

    def test_defaults_left_to_python(self) -> None:
        self.assertEqual(convert_arguments(self.params(), {"path": "a"}), {"path": "a"})

    def test_nested(self) -> None:
        kwargs = convert_arguments(
            self.params(), {"path": "a", "limit": 5, "filters": [{"column": "c"}]}
        )
        self.assertEqual(kwargs, {"path": "a", "limit": 5, "filters": [Filter("c")]})

    def test_missing_and_unknown(self) -> None:
        with self.assertRaisesRegex(InvalidArguments, "missing required argument `path`"):
            convert_arguments(self.params(), {})
        with self.assertRaisesRegex(InvalidArguments, "unknown argument `nope`"):
            convert_arguments(self.params(), {"path": "a", "nope": 1})
        with self.assertRaisesRegex(InvalidArguments, "expected a JSON object"):
            convert_arguments(self.params(), [])
        with self.assertRaisesRegex(InvalidArguments, r"`filters\[0\].column`"):
            convert_arguments(self.params(), {"path": "a", "filters": [{}]})


if __name__ == "__main__":
    unittest.main()
