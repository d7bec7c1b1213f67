"""JSON Schema from Python type hints.

Supported hints: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``,
``list[T]`` (and ``Sequence[T]``), ``set[T]``, ``tuple[T, ...]`` and
``tuple[A, B]``, ``dict[str, T]`` (and ``Mapping``), ``Optional[T]`` /
``T | None`` and other unions, ``Literal[...]``, ``enum.Enum`` subclasses,
dataclasses, ``TypedDict``\\ s, ``NewType``\\ s and ``Annotated[T, ...]``, whose
string metadata is the description and whose dict metadata is merged into
the schema (``Annotated[int, {"minimum": 1}]``).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import math
from typing import Any, Callable, get_args, get_origin

from . import docstrings
from .typing_support import (
    DICT_ORIGINS,
    LIST_ORIGINS,
    SET_ORIGINS,
    NoneType,
    class_doc,
    dataclass_fields,
    description_of,
    field_has_default,
    is_any,
    is_dataclass_type,
    is_enum,
    is_literal,
    is_newtype,
    is_typeddict,
    is_union,
    type_hints,
    unwrap_annotated,
)

_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def schema_for(hint: Any) -> dict[str, Any]:
    """The JSON Schema of values of the type ``hint``. Raises ``TypeError``
    for hints that have no JSON form (``bytes``, arbitrary classes,
    recursive dataclasses, dicts with non-string keys)."""
    return _schema(hint, ())


def _schema(hint: Any, stack: tuple[type, ...]) -> dict[str, Any]:
    hint, metadata = unwrap_annotated(hint)
    schema = _bare_schema(hint, stack)
    for item in metadata:
        if isinstance(item, dict):
            schema.update(item)
    description = description_of(metadata)
    if description is not None:
        schema["description"] = description
    return schema


def _bare_schema(hint: Any, stack: tuple[type, ...]) -> dict[str, Any]:
    if is_any(hint):
        return {}
    if hint is NoneType or hint is None:
        return {"type": "null"}
    for python_type, json_type in _JSON_TYPES:
        if hint is python_type:
            return {"type": json_type}
    if is_literal(hint):
        return _enum_schema(list(get_args(hint)))
    if is_enum(hint):
        return _enum_schema([member.value for member in hint])
    if is_union(hint):
        return _union_schema(list(get_args(hint)), stack)
    if is_newtype(hint):
        return _schema(hint.__supertype__, stack)
    if is_dataclass_type(hint):
        return _dataclass_schema(hint, stack)
    if is_typeddict(hint):
        return _typeddict_schema(hint, stack)
    origin = get_origin(hint) or hint
    args = get_args(hint)
    if origin is tuple:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0], stack)}
        if args == ((),):  # tuple[()]
            return {"type": "array", "maxItems": 0}
        return {
            "type": "array",
            "prefixItems": [_schema(a, stack) for a in args],
            "items": False,
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin in LIST_ORIGINS or origin in SET_ORIGINS:
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = _schema(args[0], stack)
        if origin in SET_ORIGINS:
            schema["uniqueItems"] = True
        return schema
    if origin in DICT_ORIGINS:
        schema = {"type": "object"}
        if args:
            key, value = args
            key, _ = unwrap_annotated(key)
            if not (key is str or is_any(key)):
                raise TypeError(f"dict keys must be str in JSON, not {key!r}")
            if not is_any(unwrap_annotated(value)[0]):
                schema["additionalProperties"] = _schema(value, stack)
        return schema
    raise TypeError(
        f"unsupported type hint {hint!r}: use str, int, float, bool, list[T], "
        "dict[str, T], Optional[T], Literal[...], an Enum, a dataclass or a TypedDict"
    )


def _json_type(value: Any) -> str | None:
    if value is None:
        return "null"
    for python_type, json_type in _JSON_TYPES:
        if type(value) is python_type:
            return json_type
    return None


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    types = {_json_type(v) for v in values}
    if None in types:
        raise TypeError(f"enum values must be str, int, float, bool or None: {values!r}")
    schema: dict[str, Any] = {}
    if len(types) == 1:
        schema["type"] = types.pop()
    elif types == {"integer", "number"}:
        schema["type"] = "number"
    schema["enum"] = list(values)
    return schema


def _union_schema(members: list[Any], stack: tuple[type, ...]) -> dict[str, Any]:
    nullable = any(unwrap_annotated(m)[0] in (NoneType, None) for m in members)
    rest = [m for m in members if unwrap_annotated(m)[0] not in (NoneType, None)]
    if not rest:
        return {"type": "null"}
    if len(rest) == 1:
        inner = _schema(rest[0], stack)
        return _nullable(inner) if nullable else inner
    schemas = [_schema(m, stack) for m in rest]
    # A union of plain types is a type list: {"type": ["string", "integer"]}.
    if all(set(s) == {"type"} and isinstance(s["type"], str) for s in schemas):
        types = [s["type"] for s in schemas] + (["null"] if nullable else [])
        return {"type": list(dict.fromkeys(types))}
    if nullable:
        schemas.append({"type": "null"})
    return {"anyOf": schemas}


_HOISTED = ("title", "description", "default", "examples")


def _nullable(inner: dict[str, Any]) -> dict[str, Any]:
    kind = inner.get("type")
    if isinstance(kind, str) and "const" not in inner:
        out = dict(inner)
        out["type"] = [kind, "null"] if kind != "null" else "null"
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        return out
    if isinstance(kind, list):
        out = dict(inner)
        if "null" not in kind:
            out["type"] = kind + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        return out
    hoisted = {k: inner[k] for k in _HOISTED if k in inner}
    body = {k: v for k, v in inner.items() if k not in _HOISTED}
    return {**hoisted, "anyOf": [body, {"type": "null"}]}


def _check_recursion(cls: type, stack: tuple[type, ...]) -> tuple[type, ...]:
    if cls in stack:
        raise TypeError(f"recursive type {cls.__qualname__} is not supported")
    return stack + (cls,)


def _dataclass_schema(cls: type, stack: tuple[type, ...]) -> dict[str, Any]:
    stack = _check_recursion(cls, stack)
    description, docs = docstrings.parse(class_doc(cls))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field, hint in dataclass_fields(cls):
        schema = _schema(hint, stack)
        text = field.metadata.get("description") or docs.get(field.name)
        if text and "description" not in schema:
            schema["description"] = text
        if field_has_default(field):
            if field.default is not dataclasses.MISSING:
                _set_default(schema, field.default)
        else:
            required.append(field.name)
        properties[field.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def _typeddict_schema(cls: type, stack: tuple[type, ...]) -> dict[str, Any]:
    stack = _check_recursion(cls, stack)
    description, docs = docstrings.parse(class_doc(cls))
    hints = type_hints(cls)
    required_keys = getattr(cls, "__required_keys__", frozenset(hints))
    properties: dict[str, Any] = {}
    for name, hint in hints.items():
        schema = _schema(hint, stack)
        if name in docs and "description" not in schema:
            schema["description"] = docs[name]
        properties[name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties}
    required = [name for name in hints if name in required_keys]
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def _jsonable_default(value: Any) -> tuple[bool, Any]:
    """Whether ``value`` can be shown as a JSON default, and its JSON form."""
    if isinstance(value, float) and not math.isfinite(value):
        return False, None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return True, value
    if isinstance(value, (list, tuple)):
        items = [_jsonable_default(v) for v in value]
        if all(ok for ok, _ in items):
            return True, [v for _, v in items]
        return False, None
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _jsonable_default(v) for k, v in value.items()}
        if all(ok for ok, _ in items.values()):
            return True, {k: v for k, (_, v) in items.items()}
        return False, None
    if isinstance(value, enum.Enum):
        return _jsonable_default(value.value)
    return False, None


def _set_default(schema: dict[str, Any], value: Any) -> None:
    ok, json_value = _jsonable_default(value)
    if ok:
        schema["default"] = json_value


@dataclasses.dataclass
class Param:
    """One argument of a tool or prompt function."""

    name: str
    hint: Any
    required: bool
    default: Any = inspect.Parameter.empty
    description: str | None = None


def _infer_hint(default: Any) -> Any:
    """The hint of an unannotated parameter, from its default."""
    if default is inspect.Parameter.empty or default is None:
        return Any
    for python_type in (bool, int, float, str):
        if type(default) is python_type:
            return python_type
    return Any


def function_params(fn: Callable[..., Any]) -> tuple[str, list[Param]]:
    """The docstring description of ``fn`` and its parameters. Raises
    ``TypeError`` for ``*args``, ``**kwargs`` and positional-only
    parameters, which a JSON object of arguments cannot fill."""
    signature = inspect.signature(fn)
    hints = type_hints(fn)
    description, docs = docstrings.parse(inspect.getdoc(fn))
    params: list[Param] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(
                f"{fn.__qualname__}: *args and **kwargs are not supported; "
                "declare each argument"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"{fn.__qualname__}: positional-only argument `{parameter.name}` "
                "is not supported"
            )
        hint = hints.get(parameter.name, _infer_hint(parameter.default))
        _, metadata = unwrap_annotated(hint)
        params.append(
            Param(
                name=parameter.name,
                hint=hint,
                required=parameter.default is inspect.Parameter.empty,
                default=parameter.default,
                description=description_of(metadata) or docs.get(parameter.name),
            )
        )
    return description, params


def object_schema(params: list[Param]) -> dict[str, Any]:
    """The JSON Schema of a JSON object holding ``params``."""
    properties: dict[str, Any] = {}
    for param in params:
        try:
            schema = schema_for(param.hint)
        except TypeError as e:
            raise TypeError(f"argument `{param.name}`: {e}") from e
        if param.description and "description" not in schema:
            schema["description"] = param.description
        if not param.required:
            _set_default(schema, param.default)
        properties[param.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties}
    required = [p.name for p in params if p.required]
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out


def output_schema_for(hint: Any) -> dict[str, Any] | None:
    """The output schema for a return hint, when results of that type are
    structured: a dataclass or TypedDict (every field present, as the SDK
    serializes all of them). Other hints give None."""
    base, _ = unwrap_annotated(hint)
    if not (is_dataclass_type(base) or is_typeddict(base)):
        return None
    schema = schema_for(hint)
    if is_dataclass_type(base):
        schema["required"] = list(schema["properties"])
    return schema


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
