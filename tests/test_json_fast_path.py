"""The strict JSON reader's quick path (issue 14 follow-up): it must accept and refuse exactly
what the strict path does, with the same value or the same message, and it must be the path the
usual batch row and case file take (else the batch is slow again).

``_read_quickly`` answers ``_UNPROVEN`` whenever it cannot prove the strict reader's answer;
``parse_json`` then gives the strict reader's value or message. So the invariants are:

- ``parse_json`` gives exactly what ``_read_strictly`` gives (value with its types and key order,
  or the same :class:`JsonInputError` message and place);
- a value from ``_read_quickly`` is one the strict reader gives too (never a document it refuses).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.generate import generate_cases
from myelo_cds.errors import JsonInputError
from myelo_cds.findings import JsonLimits, parse_json
from myelo_cds.findings._json import _UNPROVEN, DEFAULT_LIMITS, _read_quickly, _read_strictly

ROOT = Path(__file__).resolve().parents[1]
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _typed(value: Any) -> Any:
    """A value with its types and key order spelled out: ``1``, ``1.0`` and ``True`` are equal
    in Python but not the same reading, nor are ``0.0`` and ``-0.0``, nor two key orders."""
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    return (type(value).__name__, repr(value))


def _outcome(read: Any, data: str | bytes, limits: JsonLimits) -> tuple[str, Any]:
    try:
        return "value", _typed(read(data, source="row 7", limits=limits))
    except JsonInputError as error:
        where = (error.path, error.line, error.column, error.offset)
        return "refused", (str(error), where)


def _strictly(data: str | bytes, *, source: str, limits: JsonLimits) -> Any:
    return _read_strictly(data, source, limits)


def assert_same_reading(data: str | bytes, limits: JsonLimits = DEFAULT_LIMITS) -> tuple[str, Any]:
    """``parse_json`` == the strict reader; a quick value is the strict value."""
    strict = _outcome(_strictly, data, limits)
    assert _outcome(parse_json, data, limits) == strict
    quick = _read_quickly(data, limits)
    if quick is not _UNPROVEN:
        assert strict == ("value", _typed(quick))
    return strict


# --- documents: valid ones, written in several ways, and damaged ones --------------------------

_KEYS = st.sampled_from(["a", "b", "age_years", "a:b", "x", "é", "[", "{", "\\", '"', "\u003a"]) | st.text(
    max_size=6
)
_STRINGS = st.text(max_size=12) | st.sampled_from(
    ["", ":", "::", "[[", "]", "}{", "NaN", "Infinity", "1e999", "9" * 45]
)
_NUMBERS = st.integers(-(10**45), 10**45) | st.floats(allow_nan=False, allow_infinity=False)
_SCALARS = st.none() | st.booleans() | _NUMBERS | _STRINGS
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=25,
)


@st.composite
def written(draw: st.DrawFn, values: st.SearchStrategy[Any] = JSON_VALUES) -> str | bytes:
    """A value written the way people and programs write JSON: compact or indented, escaped or
    not, as text or bytes, sometimes with a byte-order mark or a trailing newline."""
    value = draw(values)
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.none() | st.integers(0, 2)),
        separators=draw(st.sampled_from([None, (",", ":"), (", ", " : ")])),
    )
    if draw(st.booleans()):
        text += draw(st.sampled_from(["\n", "\r\n", " "]))
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text


def _nested(depth: int, inner: str) -> str:
    return '{"a": ' * depth + inner + "}" * depth


@st.composite
def repeated_keys(draw: st.DrawFn) -> str:
    """An object with a key written twice, hidden among others (colons in strings, escaped
    colons, nesting), as an attacker would write it."""
    key = draw(st.sampled_from(["age_years", "a", ":", "a:b", "\\u003a"]))
    filler = draw(
        st.lists(st.sampled_from(['"n": 1', '"s": ":"', '"t": "\\u003a"', '"u": "\\u003A:"']), max_size=3)
    )
    pairs = [f'"{key}": 70', *filler, f'"{key}": {draw(st.sampled_from(["15", chr(34) + ":" + chr(34)]))}']
    body = "{" + ", ".join(pairs) + "}"
    return _nested(draw(st.integers(0, 3)), body)


# Pieces of near-JSON: every token the checks look at, so random joins of them hit the edges.
_PIECES = st.sampled_from(
    ["{", "}", "[", "]", ":", ",", '"', '"a"', '"a":', '"\\u003a"', '"\\ud800"', "\\", "1", "-", ".", "e",
     "E", "+", "0", "9" * 41, "1e999", "NaN", "Infinity", "-Infinity", "true", "false", "null", " ", "\n",
     "\ufeff", "\x00", "\x0b", "é", '"x"'],
)  # fmt: skip
NEAR_JSON = st.lists(_PIECES, max_size=40).map("".join)


@PROPERTY
@given(written())
@example('{"n": 0.1000000000000000055511151231257827}')
@example('{"n": 123456789012345678901234567890123456789}')
@example('{"n": -0.0, "m": -0, "k": 1E2, "j": 1e-400}')
@example('{"a": "\\ud83d\\ude00", "b": "\\u00e9"}')
def test_any_written_value_reads_the_same_on_both_paths(data: str | bytes) -> None:
    assert_same_reading(data)


@PROPERTY
@given(repeated_keys())
def test_a_repeated_key_is_refused_with_its_path_however_it_is_hidden(data: str) -> None:
    kind, (message, _) = assert_same_reading(data)
    assert kind == "refused"
    assert "is written more than once" in message


@PROPERTY
@given(NEAR_JSON | st.binary(max_size=120) | st.text(max_size=80))
def test_any_hostile_text_reads_or_is_refused_the_same_on_both_paths(data: str | bytes) -> None:
    assert_same_reading(data)


@PROPERTY
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,44})(\.[0-9]{1,44})?([eE][+-]?[0-9]{1,4})?", fullmatch=True))
def test_any_number_literal_reads_the_same_or_is_refused_the_same(literal: str) -> None:
    """Literal length (40), exponents and overflow to infinity, and the value's last bit."""
    assert_same_reading(f'{{"n": {literal}}}')
    assert_same_reading(f"[{literal}, {literal}]")


@PROPERTY
@given(JSON_VALUES, st.integers(1, 6), st.integers(1, 12), st.integers(1, 30))
def test_under_smaller_limits_both_paths_refuse_the_same(
    value: Any, depth: int, keys: int, digits: int
) -> None:
    """Each limit is checked by the quick path's own means, so move every limit."""
    limits = JsonLimits(max_bytes=400, max_depth=depth, max_keys=keys, max_number_chars=digits)
    assert_same_reading(json.dumps(value), limits)


@pytest.mark.parametrize("depth", [30, 31, 32, 33, 34, 100])
@pytest.mark.parametrize("inner", ["1", "[]", "{}", '"[[[[{{"'])
def test_the_depth_limit_is_exact_on_the_container_walk(depth: int, inner: str) -> None:
    """The quick path's walk over the containers finds the strict limit, in objects, arrays and
    a mix, with brackets in strings too."""
    around = depth - 1 if inner in ("[]", "{}") else depth  # the containers around ``inner``
    half = around // 2
    for text in (
        _nested(around, inner),
        "[" * around + inner + "]" * around,
        "[" * (around % 2) + '{"x": [' * half + inner + "]}" * half + "]" * (around % 2),
    ):
        kind, _ = assert_same_reading(text)
        assert kind == ("value" if depth <= DEFAULT_LIMITS.max_depth else "refused"), text


def test_a_key_written_twice_behind_an_escaped_colon_is_refused() -> None:
    """Attack on the colon count: ``\\u003a`` decodes to a colon the document does not show, which
    would make up for the colon the repeated key lost. The strict reader reads such documents."""
    text = '{"age_years": 70, "age_years": 15, "note": "\\u003a"}'
    assert _read_quickly(text, DEFAULT_LIMITS) is _UNPROVEN
    with pytest.raises(JsonInputError, match="age_years: the key 'age_years' is written more than once"):
        parse_json(text, source="row 7")


def test_an_overflowing_float_is_refused_with_the_strict_message() -> None:
    with pytest.raises(JsonInputError, match=r"the number 1e999 is too large \(it is not finite\)"):
        parse_json('{"n": 1e999}', source="row 7")


def test_the_usual_batch_row_and_case_files_take_the_quick_path() -> None:
    """The point of the quick path: every generated batch row (about half have more than 32
    brackets) and every shipped case file, but for one whose references hold a digit before an
    "e" (a DOI such as 10.1097/BRS.0b013e...), which looks like an exponent and is read strictly."""
    rows = [json.dumps(case, separators=(",", ":")).encode() for case in generate_cases(300, seed=7)]
    assert any(row.count(b"{") + row.count(b"[") > 32 for row in rows)
    files = sorted((ROOT / "data" / "examples").glob("*.json")) + sorted(
        (ROOT / "data" / "cases").glob("*.json")
    )
    assert len(files) > 40
    strict = []
    for data in [*rows, *(path.read_bytes() for path in files)]:
        quick = _read_quickly(data, DEFAULT_LIMITS)
        if quick is _UNPROVEN:
            assert re.search(rb"[0-9][eE]", data), data[:80]
            strict.append(data)
        else:
            assert _typed(quick) == _typed(_read_strictly(data, "x", DEFAULT_LIMITS))
    assert len(strict) <= 2


def test_colons_in_strings_are_proved_by_encoding_again_and_stay_on_the_quick_path() -> None:
    """A time or a note with colons makes the key count and the colon count differ; the value
    encoded again shows that no pair was dropped."""
    text = '{"note": "seen 10:30, again 14:05", "times": ["08:00"], "patient": {"age_years": 70}}'
    assert _typed(_read_quickly(text, DEFAULT_LIMITS)) == _typed(json.loads(text))
    with pytest.raises(JsonInputError, match="the key 'note' is written more than once"):
        parse_json('{"note": "10:30", "note": "11:00"}', source="row 7")


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"n": 1e5}',
        '{"n": 1e999}',
        '{"n": ' + "1" * 41 + "}",
        '{"n": NaN}',
        "[" * 33 + "]" * 33,
        "{" + ",".join(f'"k{i}": 1' for i in range(2_001)) + "}",
        '"\\ud800"',
        b'"\xff"',
        '\ufeff{"a": 1}',
        "x" * (DEFAULT_LIMITS.max_bytes + 1),
    ],
)
def test_each_thing_the_strict_reader_refuses_or_rereads_is_left_to_it(text: str | bytes) -> None:
    assert _read_quickly(text, DEFAULT_LIMITS) is _UNPROVEN
