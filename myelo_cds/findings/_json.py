"""One strict JSON reader for everything a person or a file sends (case files, pasted findings,
batch rows, uploads).

Python's :func:`json.loads` accepts what a clinical input must not: ``NaN`` and ``Infinity``,
numbers of thousands of digits (``int()`` then fails with a bare ``ValueError`` past 4,300 digits),
nesting deep enough to exhaust the interpreter's stack before any check of ours runs, and a key
written twice (``"age_years": 70, ..., "age_years": 15`` silently became 15 and changed the
pathway). :func:`parse_json` refuses each of these with a :class:`~myelo_cds.errors.JsonInputError`
whose message names the source, the place (line and column, byte offset or key path) and the
limit, so that a page shows it as a field error and the command line exits 2 with it.

The nesting depth is measured on the brackets outside strings *before* the decoder runs, so a
100,000-deep document costs one linear scan and no recursion.

A quick path reads the usual document (a batch JSONL row, a case file) first: pydantic-core's
JSON reader, then checks (counts and searches over the bytes, one walk over the containers) that
prove the strict reader would take the document and give the same value. When any check cannot
prove it, the strict reader reads the document and its message is the one given; the quick path
never refuses anything itself. pydantic-core's reader stops at 200 levels of nesting by itself
(no Python recursion), and the checks that keep huge numbers and objects from it run before it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from pydantic_core import from_json, to_json

from myelo_cds.errors import JsonInputError

__all__ = ["JsonLimits", "parse_json", "parse_json_object"]


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """What one JSON document may hold. The defaults are far above any real case file (a full
    consult is about 3 kB, 4 levels deep, 25 keys in its largest object, numbers of at most a few
    digits) and far below what would hurt a server."""

    max_bytes: int = 1_000_000
    """Size of the encoded document (UTF-8)."""
    max_depth: int = 32
    """Objects and arrays inside one another."""
    max_number_chars: int = 40
    """Characters of one number literal, sign, point and exponent included."""
    max_keys: int = 2_000
    """Keys in one object."""


DEFAULT_LIMITS = JsonLimits()

# A complete JSON string literal (the unrolled form: linear, no backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_ONE_KIND = str.maketrans("[{]}", "(())")
_SEPARATORS = str.maketrans(",:[]{}", "      ")
_SHOWN = 20  # characters of a refused number or key repeated in a message


def parse_json(data: str | bytes, *, source: str, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """The JSON value in ``data``, read strictly.

    Args:
        data: the document, as text or as the bytes of a file (UTF-8, an initial byte-order mark
            is allowed).
        source: what the document is, for messages (``"the case file"``, ``"row 12"``).
        limits: size, depth, number and key limits (:class:`JsonLimits`).

    Returns:
        The decoded value (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` or ``None``).

    Raises:
        JsonInputError: the document is too large, not UTF-8, not JSON, nested too deeply, holds
            a number that is too long or not finite (``NaN``, ``Infinity``, ``1e999``), an object
            with too many keys or a key written twice. The message names the place and the limit.
    """
    value = _read_quickly(data, limits)
    if value is not _UNPROVEN:
        return value
    return _read_strictly(data, source, limits)


def _read_strictly(data: str | bytes, source: str, limits: JsonLimits) -> Any:
    """:func:`parse_json` with every check made on the way (and the message of the first that
    fails)."""
    text = _text(data, source, limits)
    # The text outside strings: without a backslash every quote opens or closes a string, so a
    # split on quotes gives it as the even parts (C speed); None when there are escapes.
    outside = "".join(text.split('"')[::2]) if "\\" not in text else None
    _check_depth(text, outside, source, limits)
    flagged: list[int] = [0]
    max_keys = limits.max_keys

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) == len(pairs) <= max_keys:  # the usual object: one comparison
            return result
        if len(pairs) > limits.max_keys:
            flagged[0] += 1
            problem = f"{len(pairs):,} keys in one object (at most {limits.max_keys:,} allowed)"
            return _Flagged(result, problem)
        if len(result) != len(pairs):
            flagged[0] += 1
            twice = _repeated(pairs)
            return _Flagged(
                result, f"the key {_short(twice)!r} is written more than once (keep one)", key=twice
            )
        return result

    try:
        value = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_constant=lambda literal: _refuse_constant(literal, source),
            **({} if _plain_numbers(outside, limits) else _number_hooks(source, limits)),
        )
    except json.JSONDecodeError as error:
        raise JsonInputError(
            source,
            f"{error.msg} at line {error.lineno}, column {error.colno}",
            line=error.lineno,
            column=error.colno,
        ) from None
    except RecursionError:  # the depth scan should make this unreachable; never a traceback
        too_deep = f"nested too deeply (more than {limits.max_depth} levels of objects and arrays)"
        raise JsonInputError(source, too_deep) from None
    if flagged[0]:
        path, problem = next(_flagged_objects(value, ()))
        raise JsonInputError(source, f"{path or 'the top level'}: {problem}", path=path)
    return value


def parse_json_object(
    data: str | bytes, *, source: str, limits: JsonLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Like :func:`parse_json`, and the top level must be an object (``{...}``)."""
    value = parse_json(data, source=source, limits=limits)
    if not isinstance(value, dict):
        raise JsonInputError(source, f"the top level must be a JSON object ({{...}}), not {_kind(value)}")
    return value


_UNPROVEN: Final = object()
""":func:`_read_quickly`'s answer when the strict reader must read the document."""


def _shape_table() -> bytes:
    """The bytes that the quick path's checks count: digits as "0", sign and point as ".", an
    exponent letter as "e", colons as ":"; all else as a space. One C-speed translation with
    it, then each check is a count or a search."""
    table = bytearray(b" " * 256)
    for char in b"0123456789":
        table[char] = ord("0")
    table[ord("+")] = table[ord("-")] = table[ord(".")] = ord(".")
    table[ord("e")] = table[ord("E")] = ord("e")
    table[ord(":")] = ord(":")
    return bytes(table)


_SHAPE = _shape_table()
_NUMBER_RUNS = bytes.maketrans(b".e", b"00")  # then every character of a number literal is "0"
_COLON_ESCAPE = b"\\u003"  # \u003a is a colon in a string written as an escape


def _read_quickly(data: str | bytes, limits: JsonLimits) -> Any:
    """The value of ``data`` when cheap checks prove that :func:`_read_strictly` gives the same
    value (equal, with the same types and key order) and no error; otherwise ``_UNPROVEN``.

    pydantic-core's reader (Rust) refuses NaN, Infinity, lone surrogates, invalid UTF-8 and a
    byte-order mark, which the strict reader refuses or reads differently, and reads numbers
    and strings as ``json.loads`` does. What it does not check is proved here:

    - numbers: no exponent (a digit just before an "e" or "E"), so every float is
      finite, and no run of number characters longer than the literal limit, anywhere in the
      bytes (strings included, to be sure);
    - too many keys: an object has at most as many keys as the document has colons;
    - a repeated key: the decoder keeps one of its pairs. Every colon of the document is a
      pair's or is inside a string, so when the decoded objects hold as many keys as the
      document has colons, no pair was dropped (the usual row). Otherwise (colons in strings)
      the value is encoded again: a dropped pair takes its colon with it, and strings are
      written back colon for colon unless a colon was escaped (``\\u003a``: the strict reader
      reads those);
    - depth: one walk over the containers, a level at a time, counting the keys on the way.
    """
    if isinstance(data, str):
        if len(data) > limits.max_bytes:
            return _UNPROVEN
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return _UNPROVEN
    else:
        raw = data
    if len(raw) > limits.max_bytes:
        return _UNPROVEN
    shape = raw.translate(_SHAPE)
    colons = shape.count(b":")
    if colons > limits.max_keys or b"0e" in shape:
        return _UNPROVEN
    if b"0" * (limits.max_number_chars + 1) in shape.translate(_NUMBER_RUNS):
        return _UNPROVEN
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError:  # not JSON for pydantic-core: the strict reader says why, or reads it
        return _UNPROVEN
    keys = _keys_within_depth(value, limits.max_depth)
    if keys is None:
        return _UNPROVEN
    if keys != colons and (_COLON_ESCAPE in raw or to_json(value).count(b":") != colons):
        return _UNPROVEN
    return value


def _keys_within_depth(value: Any, max_depth: int) -> int | None:
    """The number of keys in all the objects of a decoded value, or None when it has more than
    ``max_depth`` containers inside one another (a level at a time, so no recursion)."""
    if type(value) is not dict and type(value) is not list:
        return 0
    level = [value]
    keys = 0
    for _ in range(max_depth):
        inner = []
        for container in level:
            items: Iterable[Any] = container
            if type(container) is dict:
                keys += len(container)
                items = container.values()
            for item in items:
                if type(item) is dict or type(item) is list:
                    inner.append(item)
        if not inner:
            return keys
        level = inner
    return None


class _Flagged(dict[str, Any]):
    """An object the pairs hook refused; found with its path after decoding (the hook alone
    does not know where in the document it is)."""

    def __init__(self, pairs: dict[str, Any], problem: str, key: str | None = None) -> None:
        super().__init__(pairs)
        self.problem = problem
        self.key = key


def _text(data: str | bytes, source: str, limits: JsonLimits) -> str:
    too_large = len(data) > limits.max_bytes or (
        isinstance(data, str) and len(data.encode("utf-8", "surrogatepass")) > limits.max_bytes
    )
    if too_large:
        raise JsonInputError(source, f"too large (at most {limits.max_bytes:,} bytes allowed)")
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise JsonInputError(
            source,
            f"not UTF-8 text: the byte at offset {error.start:,} (line {line}) is not valid UTF-8; "
            "save the file as UTF-8",
            offset=error.start,
            line=line,
        ) from None


def _check_depth(text: str, outside: str | None, source: str, limits: JsonLimits) -> None:
    if text.count("[") + text.count("{") <= limits.max_depth:
        return  # too few brackets to nest too deeply
    if outside is None:
        outside = _STRING.sub("", text)
    brackets = left = _NOT_BRACKETS.sub("", outside).translate(_ONE_KIND)
    # Each pass removes the innermost level of every nest; a document within the limit is
    # empty after ``max_depth`` passes (each a C-speed replace over the brackets only).
    for _ in range(limits.max_depth):
        if not left:
            return
        left = left.replace("()", "")
    if not left:
        return
    depth = deepest = 0
    for bracket in brackets:  # too deep, or brackets that do not pair (the decoder says where)
        depth += 1 if bracket == "(" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limits.max_depth:
                raise JsonInputError(
                    source, f"nested too deeply (more than {limits.max_depth} levels of objects and arrays)"
                )


def _plain_numbers(outside: str | None, limits: JsonLimits) -> bool:
    """Whether every number literal is within the length limit and has no exponent, so the
    decoder's own ``int`` and ``float`` read them exactly and finitely (most documents: then no
    Python call per number). Decided on the text outside strings, at C speed; a document with
    an escape in a string, an exponent or a long literal gets the per-number check."""
    if outside is None:
        return False
    bare = outside.replace("true", "").replace("false", "")
    if "e" in bare or "E" in bare:
        return False
    tokens = bare.translate(_SEPARATORS).split()
    return not tokens or max(map(len, tokens)) <= limits.max_number_chars


def _number_hooks(source: str, limits: JsonLimits) -> dict[str, Any]:
    return {
        "parse_int": lambda literal: _number(literal, int, source, limits),
        "parse_float": lambda literal: _number(literal, float, source, limits),
    }


def _number(literal: str, kind: type[int] | type[float], source: str, limits: JsonLimits) -> int | float:
    if len(literal) > limits.max_number_chars:
        raise JsonInputError(
            source,
            f"a number of {len(literal):,} characters ({literal[:_SHOWN]}...); "
            f"at most {limits.max_number_chars} allowed",
        )
    value = kind(literal)
    if isinstance(value, float) and not math.isfinite(value):
        raise JsonInputError(source, f"the number {literal} is too large (it is not finite)")
    return value


def _refuse_constant(literal: str, source: str) -> Any:
    raise JsonInputError(source, f"{literal} is not a number JSON allows; write a finite number or null")


def _flagged_objects(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(dotted path, problem) of each refused object, innermost first; a list item is ``[i]``.
    For a repeated key the path ends with the key."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flagged_objects(item, (*path, _short(key)))
        if isinstance(value, _Flagged):
            where = (*path, _short(value.key)) if value.key is not None else path
            yield ".".join(where), value.problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            where = (*path[:-1], f"{path[-1]}[{index}]") if path else (f"[{index}]",)
            yield from _flagged_objects(item, where)


def _repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key")  # pragma: no cover - called only when one exists


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"
