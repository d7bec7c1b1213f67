"""JSON Schema derivation from type hints."""

from __future__ import annotations

import dataclasses
import enum
import unittest
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

from warden_sdk.schema import function_params, object_schema, output_schema_for, schema_for


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    """A point.

    Args:
        x: Horizontal position.
    """

    x: float
    y: Annotated[float, "Vertical position."] = 0.0
    label: str | None = dataclasses.field(default=None, metadata={"description": "A name."})


@dataclasses.dataclass
class Node:
    children: list["Node"]


class Movie(TypedDict, total=False):
    title: str
    year: int


def tool_schema(fn: Any) -> dict[str, Any]:
    return object_schema(function_params(fn)[1])


class SchemaForTest(unittest.TestCase):
    def test_scalars(self) -> None:
        self.assertEqual(schema_for(str), {"type": "string"})
        self.assertEqual(schema_for(int), {"type": "integer"})
        self.assertEqual(schema_for(float), {"type": "number"})
        self.assertEqual(schema_for(bool), {"type": "boolean"})
        self.assertEqual(schema_for(type(None)), {"type": "null"})
        self.assertEqual(schema_for(Any), {})

    def test_containers(self) -> None:
        self.assertEqual(schema_for(list[int]), {"type": "array", "items": {"type": "integer"}})
        self.assertEqual(schema_for(list), {"type": "array"})
        self.assertEqual(
            schema_for(dict[str, float]),
            {"type": "object", "additionalProperties": {"type": "number"}},
        )
        self.assertEqual(schema_for(dict[str, Any]), {"type": "object"})
        self.assertEqual(
            schema_for(set[str]),
            {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        )
        self.assertEqual(
            schema_for(tuple[int, ...]), {"type": "array", "items": {"type": "integer"}}
        )
        pair = schema_for(tuple[str, int])
        self.assertEqual(pair["prefixItems"], [{"type": "string"}, {"type": "integer"}])
        self.assertEqual((pair["minItems"], pair["maxItems"]), (2, 2))

    def test_optional_and_unions(self) -> None:
        self.assertEqual(schema_for(Optional[str]), {"type": ["string", "null"]})
        self.assertEqual(schema_for(int | None), {"type": ["integer", "null"]})
        self.assertEqual(schema_for(Union[int, str]), {"type": ["integer", "string"]})
        self.assertEqual(
            schema_for(Optional[list[int]]),
            {"type": ["array", "null"], "items": {"type": "integer"}},
        )
        mixed = schema_for(Union[list[int], str, None])
        self.assertEqual(
            mixed,
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "integer"}},
                    {"type": "string"},
                    {"type": "null"},
                ]
            },
        )

    def test_literal_and_enum(self) -> None:
        self.assertEqual(
            schema_for(Literal["a", "b"]), {"type": "string", "enum": ["a", "b"]}
        )
        self.assertEqual(schema_for(Literal[1, 2]), {"type": "integer", "enum": [1, 2]})
        self.assertEqual(schema_for(Literal["a", 1]), {"enum": ["a", 1]})
        self.assertEqual(schema_for(Color), {"type": "string", "enum": ["red", "green"]})
        self.assertEqual(
            schema_for(Optional[Literal["a"]]),
            {"type": ["string", "null"], "enum": ["a", None]},
        )

    def test_annotated(self) -> None:
        self.assertEqual(
            schema_for(Annotated[int, "How many.", {"minimum": 1}]),
            {"type": "integer", "description": "How many.", "minimum": 1},
        )
        self.assertEqual(
            schema_for(Optional[Annotated[str, "A name."]]),
            {"type": ["string", "null"], "description": "A name."},
        )

    def test_dataclass(self) -> None:
        schema = schema_for(Point)
        self.assertEqual(schema["type"], "object")
        self.assertEqual(schema["description"], "A point.")
        self.assertEqual(schema["required"], ["x"])
        self.assertFalse(schema["additionalProperties"])
        props = schema["properties"]
        self.assertEqual(props["x"], {"type": "number", "description": "Horizontal position."})
        self.assertEqual(
            props["y"], {"type": "number", "description": "Vertical position.", "default": 0.0}
        )
        self.assertEqual(
            props["label"],
            {"type": ["string", "null"], "description": "A name.", "default": None},
        )

    def test_typeddict(self) -> None:
        schema = schema_for(Movie)
        self.assertEqual(set(schema["properties"]), {"title", "year"})
        self.assertNotIn("required", schema)

    def test_unsupported(self) -> None:
        for hint in (bytes, complex, dict[int, str], Node, object.__class__):
            with self.subTest(hint=hint), self.assertRaises(TypeError):
                schema_for(hint)


class FunctionSchemaTest(unittest.TestCase):
    def test_defaults_make_arguments_optional(self) -> None:
        def fn(path: str, limit: int = 10, columns: list[str] | None = None) -> None:
            """Reads a file.

            Args:
                path: The file, relative to the root.
                limit: At most this many rows,
                    counted after filtering.
            """

        schema = tool_schema(fn)
        self.assertEqual(schema["required"], ["path"])
        self.assertFalse(schema["additionalProperties"])
        self.assertEqual(
            schema["properties"]["path"],
            {"type": "string", "description": "The file, relative to the root."},
        )
        self.assertEqual(
            schema["properties"]["limit"],
            {
                "type": "integer",
                "description": "At most this many rows, counted after filtering.",
                "default": 10,
            },
        )
        self.assertEqual(
            schema["properties"]["columns"],
            {"type": ["array", "null"], "items": {"type": "string"}, "default": None},
        )
        self.assertEqual(function_params(fn)[0], "Reads a file.")

    def test_annotated_description_wins_over_docstring(self) -> None:
        def fn(text: Annotated[str, "From Annotated."]) -> None:
            """Args:
            text: From the docstring.
            """

        self.assertEqual(
            tool_schema(fn)["properties"]["text"]["description"], "From Annotated."
        )

    def test_rest_docstring(self) -> None:
        def fn(a: int) -> None:
            """Adds.

            :param a: The number.
            :returns: nothing
            """

        description, params = function_params(fn)
        self.assertEqual(description, "Adds.")
        self.assertEqual(params[0].description, "The number.")

    def test_unannotated_argument_takes_its_default_type(self) -> None:
        def fn(flag=False, anything=None):  # type: ignore[no-untyped-def]
            pass

        props = tool_schema(fn)["properties"]
        self.assertEqual(props["flag"], {"type": "boolean", "default": False})
        self.assertEqual(props["anything"], {"default": None})

    def test_no_arguments(self) -> None:
        def fn() -> None:
            pass

        self.assertEqual(
            tool_schema(fn), {"type": "object", "properties": {}, "additionalProperties": False}
        )

    def test_varargs_refused(self) -> None:
        def fn(*args: int) -> None:
            pass

        with self.assertRaises(TypeError):
            function_params(fn)

    def test_unsupported_argument_names_the_argument(self) -> None:
        def fn(data: bytes) -> None:
            pass

        with self.assertRaisesRegex(TypeError, "argument `data`"):
            tool_schema(fn)

    def test_output_schema(self) -> None:
        schema = output_schema_for(Point)
        assert schema is not None
        self.assertEqual(schema["required"], ["x", "y", "label"])
        self.assertIsNone(output_schema_for(dict))
        self.assertIsNone(output_schema_for(str))


if __name__ == "__main__":
    unittest.main()
