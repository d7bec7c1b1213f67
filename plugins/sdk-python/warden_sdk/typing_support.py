"""Type-hint introspection shared by :mod:`warden_sdk.schema` and
:mod:`warden_sdk.convert`."""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

NoneType = type(None)

#: Origins treated as JSON arrays.
LIST_ORIGINS = (
    list,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Iterable,
    collections.abc.Collection,
)
SET_ORIGINS = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
DICT_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def unwrap_annotated(hint: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, m1, m2]`` gives ``(T, [m1, m2])``; anything else
    ``(hint, [])``."""
    metadata: list[Any] = []
    while get_origin(hint) is Annotated:
        metadata = list(hint.__metadata__) + metadata
        hint = hint.__origin__
    return hint, metadata


def description_of(metadata: list[Any]) -> str | None:
    """The last string in ``Annotated`` metadata: the description."""
    found = None
    for item in metadata:
        if isinstance(item, str):
            found = item
    return found


def is_union(hint: Any) -> bool:
    origin = get_origin(hint)
    return origin is Union or (
        hasattr(types, "UnionType") and origin is getattr(types, "UnionType")
    )


def is_literal(hint: Any) -> bool:
    return get_origin(hint) is Literal


def is_enum(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def is_dataclass_type(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def is_typeddict(hint: Any) -> bool:
    return typing.is_typeddict(hint)


def is_newtype(hint: Any) -> bool:
    return hasattr(hint, "__supertype__")


def is_any(hint: Any) -> bool:
    return hint is Any or hint is object or hint is inspect.Parameter.empty


def type_hints(obj: Any) -> dict[str, Any]:
    """``typing.get_type_hints`` with ``Annotated`` kept, and a message that
    names ``obj`` when a forward reference cannot be resolved."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as e:  # NameError, TypeError from bad annotations
        name = getattr(obj, "__qualname__", repr(obj))
        raise TypeError(f"cannot read the type hints of {name}: {e}") from e


def dataclass_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """The init fields of a dataclass with their resolved hints."""
    hints = type_hints(cls)
    return [
        (field, hints.get(field.name, Any))
        for field in dataclasses.fields(cls)
        if field.init
    ]


def field_has_default(field: dataclasses.Field) -> bool:
    return (
        field.default is not dataclasses.MISSING
        or field.default_factory is not dataclasses.MISSING  # type: ignore[misc]
    )


def class_doc(cls: type) -> str | None:
    """A class's own docstring, or None for the signature text that
    ``@dataclass`` puts there when the class has none."""
    doc = cls.__dict__.get("__doc__")
    if not doc or doc.startswith(cls.__name__ + "("):
        return None
    return doc


def hint_name(hint: Any) -> str:
    """A short, JSON-flavoured name of a hint, for messages."""
    hint, _ = unwrap_annotated(hint)
    if is_any(hint):
        return "any value"
    if hint is NoneType or hint is None:
        return "null"
    if hint is bool:
        return "boolean"
    if hint is int:
        return "integer"
    if hint is float:
        return "number"
    if hint is str:
        return "string"
    if is_literal(hint):
        return "one of " + ", ".join(_json_repr(v) for v in get_args(hint))
    if is_enum(hint):
        return "one of " + ", ".join(_json_repr(m.value) for m in hint)
    if is_union(hint):
        return " or ".join(hint_name(a) for a in get_args(hint))
    origin = get_origin(hint) or hint
    if origin is tuple or origin in LIST_ORIGINS or origin in SET_ORIGINS:
        return "array"
    if origin in DICT_ORIGINS or is_dataclass_type(hint) or is_typeddict(hint):
        return "object"
    if is_newtype(hint):
        return hint_name(hint.__supertype__)
    return getattr(hint, "__name__", repr(hint))


def _json_repr(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
