"""Converts JSON values (as ``json.loads`` gives them) into the types a
function's hints ask for, or fails with :class:`InvalidArguments` naming the
argument path (``filters[0].op``) and what was expected.

The host has already checked the arguments against the tool's JSON Schema,
so conversion failures are rare; they still give a clear message rather than
an exception deep inside the tool.
"""

from __future__ import annotations

import json
from typing import Any, get_args, get_origin

from .errors import InvalidArguments
from .schema import Param
from .typing_support import (
    DICT_ORIGINS,
    LIST_ORIGINS,
    SET_ORIGINS,
    NoneType,
    dataclass_fields,
    field_has_default,
    hint_name,
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


def describe_value(value: Any) -> str:
    """``string "abc"``, ``number 1.5``, ``null``: a JSON value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return "string " + json.dumps(text, ensure_ascii=False)
    if isinstance(value, list):
        return f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fail(path: str, expected: str, value: Any) -> InvalidArguments:
    where = f"`{path}`: " if path else ""
    return InvalidArguments(f"{where}expected {expected}, got {describe_value(value)}")


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON kind (so that ``True`` is not ``1``)."""
    return a == b and (isinstance(a, bool) == isinstance(b, bool))


def convert(value: Any, hint: Any, path: str = "") -> Any:
    """``value`` as the type ``hint``; raises :class:`InvalidArguments`."""
    hint, _ = unwrap_annotated(hint)
    if is_any(hint):
        return value
    if hint is NoneType or hint is None:
        if value is None:
            return None
        raise _fail(path, "null", value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _fail(path, "a boolean", value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _fail(path, "an integer", value)
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _fail(path, "a number", value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _fail(path, "a string", value)
    if is_literal(hint):
        for allowed in get_args(hint):
            if _same(value, allowed):
                return allowed
        raise _fail(path, hint_name(hint), value)
    if is_enum(hint):
        for member in hint:
            if _same(value, member.value):
                return member
        if isinstance(value, str) and value in hint.__members__:
            return hint.__members__[value]
        raise _fail(path, hint_name(hint), value)
    if is_union(hint):
        return _convert_union(value, list(get_args(hint)), path)
    if is_newtype(hint):
        return convert(value, hint.__supertype__, path)
    if is_dataclass_type(hint):
        return _convert_dataclass(value, hint, path)
    if is_typeddict(hint):
        return _convert_typeddict(value, hint, path)
    origin = get_origin(hint) or hint
    args = get_args(hint)
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else Any
            return tuple(convert(v, item, f"{path}[{i}]") for i, v in enumerate(value))
        if args == ((),):
            args = ()
        if len(value) != len(args):
            raise InvalidArguments(
                f"`{path}`: expected an array of {len(args)} items, got {len(value)}"
            )
        return tuple(convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in LIST_ORIGINS or origin in SET_ORIGINS:
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        item = args[0] if args else Any
        items = [convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        if origin in SET_ORIGINS:
            try:
                return frozenset(items) if origin is frozenset else set(items)
            except TypeError as e:
                raise InvalidArguments(f"`{path}`: {e}") from e
        return items
    if origin in DICT_ORIGINS:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        item = args[1] if args else Any
        return {k: convert(v, item, _join(path, k)) for k, v in value.items()}
    raise TypeError(f"cannot convert to unsupported type hint {hint!r}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _convert_union(value: Any, members: list[Any], path: str) -> Any:
    bare = [unwrap_annotated(m)[0] for m in members]
    if value is None and any(b in (NoneType, None) for b in bare):
        return None
    candidates = [m for m, b in zip(members, bare) if b not in (NoneType, None)]
    errors: list[InvalidArguments] = []
    for member in candidates:
        try:
            return convert(value, member, path)
        except InvalidArguments as e:
            errors.append(e)
    if len(errors) == 1 and not any(b in (NoneType, None) for b in bare):
        raise errors[0]
    # An error from deep inside the one candidate of the right JSON kind is
    # more useful than "expected X or Y".
    deep = [e for e in errors if not e.message.startswith(f"`{path}`: expected")]
    if len(deep) == 1:
        raise deep[0]
    raise _fail(path, " or ".join(hint_name(m) for m in members), value)


def _convert_dataclass(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, "an object", value)
    fields = dataclass_fields(cls)
    names = [field.name for field, _ in fields]
    unknown = [k for k in value if k not in names]
    if unknown:
        raise InvalidArguments(
            f"`{_join(path, unknown[0])}`: unknown field (known: {', '.join(names)})"
            if path
            else f"unknown field `{unknown[0]}` (known: {', '.join(names)})"
        )
    kwargs = {}
    for field, hint in fields:
        if field.name in value:
            kwargs[field.name] = convert(value[field.name], hint, _join(path, field.name))
        elif not field_has_default(field):
            raise InvalidArguments(f"`{_join(path, field.name)}`: missing required field")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        # __post_init__ validation.
        where = f"`{path}`: " if path else ""
        raise InvalidArguments(f"{where}{e}") from e


def _convert_typeddict(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, "an object", value)
    hints = type_hints(cls)
    required = getattr(cls, "__required_keys__", frozenset(hints))
    unknown = [k for k in value if k not in hints]
    if unknown:
        raise InvalidArguments(
            f"`{_join(path, unknown[0])}`: unknown field (known: {', '.join(hints)})"
        )
    for name in hints:
        if name in required and name not in value:
            raise InvalidArguments(f"`{_join(path, name)}`: missing required field")
    return {k: convert(v, hints[k], _join(path, k)) for k, v in value.items()}


def convert_arguments(params: list[Param], arguments: Any) -> dict[str, Any]:
    """The keyword arguments for a function with ``params`` from a JSON
    object of arguments. Absent optional arguments are left out so the
    function's own defaults apply."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _fail("", "a JSON object of arguments", arguments)
    names = [p.name for p in params]
    unknown = [k for k in arguments if k not in names]
    if unknown:
        known = ", ".join(f"`{n}`" for n in names) or "none"
        plural = "s" if len(unknown) > 1 else ""
        raise InvalidArguments(
            f"unknown argument{plural} {', '.join(f'`{u}`' for u in unknown)} (arguments: {known})"
        )
    kwargs: dict[str, Any] = {}
    for param in params:
        if param.name in arguments:
            kwargs[param.name] = convert(arguments[param.name], param.hint, param.name)
        elif param.required:
            raise InvalidArguments(f"missing required argument `{param.name}`")
    return kwargs
