"""Transmission-RPC requests: bytes in, a checked `RpcRequest` or an `RpcError` out (pure).

RPC spec section 2.1: an object with a `method` string, optional `arguments` object and an
optional numeric `tag` that the answer repeats. Everything a client sends is checked here
or by the typed getters below, so the methods never see a value of the wrong type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

MAX_DEPTH: Final = 32  # nesting a request never needs; deeper is refused before it costs a stack


class RpcError(Exception):
    """A request that cannot be carried out; the message is the `result` string the client sees."""


@dataclass(frozen=True, slots=True)
class RpcRequest:
    method: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    tag: int | float | None = None


def parse_request(body: bytes) -> RpcRequest:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RpcError("the request is not UTF-8 text (RPC spec section 2)") from None
    if _depth(text) > MAX_DEPTH:
        raise RpcError("the request is nested too deeply")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise RpcError("the request is not valid JSON") from None
    if not isinstance(value, dict):
        raise RpcError("the request must be a JSON object with a 'method'")
    return _request(value)


def _request(value: dict[str, Any]) -> RpcRequest:
    method = value.get("method")
    if not isinstance(method, str) or not method:
        raise RpcError("no method name")
    arguments = value.get("arguments", {})
    if not isinstance(arguments, dict):
        raise RpcError("'arguments' must be a JSON object")
    tag = value.get("tag")
    if not _is_number(tag):
        tag = None  # Transmission answers without a tag it cannot read
    return RpcRequest(method, arguments, tag)


def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, counted without parsing."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# typed getters over a request's arguments: a wrong type is an RpcError naming the key


def get_bool(args: Mapping[str, Any], key: str, default: bool | None = None) -> bool | None:
    value = args.get(key, default)
    if value is None or isinstance(value, bool):
        return value
    if _is_number(value) and value in (0, 1):  # old clients send 0/1 for booleans
        return bool(value)
    raise RpcError(f"'{key}' must be true or false")


def get_number(args: Mapping[str, Any], key: str) -> float | None:
    value = args.get(key)
    if value is None:
        return None
    if not _is_number(value) or value < 0:
        raise RpcError(f"'{key}' must be a number, 0 or more")
    return float(value)


def get_int(args: Mapping[str, Any], key: str) -> int | None:
    value = get_number(args, key)
    if value is None:
        return None
    if value != int(value) or value > 2**53:
        raise RpcError(f"'{key}' must be a whole number")
    return int(value)


def get_str(args: Mapping[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is None or isinstance(value, str):
        return value
    raise RpcError(f"'{key}' must be a string")


def get_strings(args: Mapping[str, Any], key: str) -> list[str] | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RpcError(f"'{key}' must be a list of strings")
    return value


def get_indices(args: Mapping[str, Any], key: str) -> list[int] | None:
    """File indices (RPC spec 3.2); an empty list means every file."""
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_index(item) for item in value):
        raise RpcError(f"'{key}' must be a list of file numbers counted from 0")
    return [int(item) for item in value]


def _is_index(value: Any) -> bool:
    return _is_number(value) and value >= 0 and value == int(value) and value < 2**31
