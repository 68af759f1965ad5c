"""Hostile JSON (issue 14): the strict reader every parser uses, and the surfaces that read JSON.

Each test reproduces one attack seen against the app or the command line. Before the strict
reader, ``json.loads`` raised ``RecursionError`` on deep nesting, ``ValueError`` past 4,300
digits, accepted ``NaN``/``Infinity`` and kept the last of two equal keys silently.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myelo_cds.errors import InputError, JsonInputError
from myelo_cds.findings import JsonLimits, parse_json, parse_json_object

DEEP_ARRAYS = "[" * 100_000 + "]" * 100_000
DEEP_OBJECTS = '{"a":' * 100_000 + "1" + "}" * 100_000
LONG_NUMBER = '{"patient": {"age_years": ' + "7" * 5_000 + "}}"
DUPLICATE_AGE = '{"patient": {"age_years": 70, "sex": "female", "age_years": 15}}'
HOSTILE: dict[str, str | bytes] = {
    "100k-deep arrays": DEEP_ARRAYS,
    "100k-deep objects": DEEP_OBJECTS,
    "5,000-digit number": LONG_NUMBER,
    "malformed UTF-8": b'{"case_id": "abc\xff\xfe", "patient": {"age_years": 60}}',
    "2 MB string": '{"case_id": "' + "x" * 2_000_000 + '"}',
    "NaN": '{"patient": {"age_years": NaN}}',
    "Infinity": '{"patient": {"age_years": Infinity}}',
    "overflowing float": '{"patient": {"age_years": 1e999}}',
    "a list at the top": "[1, 2, 3]",
    "a number at the top": "42",
    "duplicate key": DUPLICATE_AGE,
    "3,000 keys": "{" + ",".join(f'"k{i}": 1' for i in range(3_000)) + "}",
    "not JSON": '{"patient": {"age_years": 70,}}',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_document_is_refused_with_a_message_quickly(name: str) -> None:
    """Each hostile document raises the one input error, fast, with the source named."""
    started = time.perf_counter()
    with pytest.raises(JsonInputError) as caught:
        parse_json_object(HOSTILE[name], source="the case file")
    assert time.perf_counter() - started < 2.0
    assert isinstance(caught.value, InputError)
    assert str(caught.value).startswith("the case file is not valid JSON: ")


def test_100k_deep_nesting_is_refused_before_the_decoder_recurses() -> None:
    """Attack: 100,000 nested arrays. json.loads raised RecursionError (a Streamlit error page)."""
    with pytest.raises(RecursionError):
        json.loads(DEEP_ARRAYS)
    with pytest.raises(JsonInputError, match=r"nested too deeply \(more than 32 levels"):
        parse_json(DEEP_ARRAYS, source="the case file")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    """A free-text value full of brackets is text, not depth."""
    text = json.dumps({"note": "[" * 10_000 + "{" * 10_000 + '\\"]'})
    assert parse_json_object(text, source="x")["note"].startswith("[[[")


def test_5000_digit_number_names_the_limit_not_a_bare_value_error() -> None:
    """Attack: a 5,000-digit age. int() raised ValueError (Exceeds the limit (4300 digits))."""
    with pytest.raises(ValueError, match="4300"):
        json.loads(LONG_NUMBER)
    with pytest.raises(
        JsonInputError, match=r"a number of 5,000 characters \(7+\.\.\.\); at most 40 allowed"
    ):
        parse_json(LONG_NUMBER, source="the case file")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused(literal: str) -> None:
    """Attack: NaN/Infinity literals, which json.loads accepts and no clinical value can be."""
    assert json.loads(f"[{literal}]")
    with pytest.raises(JsonInputError, match=f"{literal} is not a number JSON allows"):
        parse_json(f'{{"a": {literal}}}', source="x")


def test_malformed_utf8_is_reported_with_its_byte_offset_and_line() -> None:
    """Attack: bytes that are not UTF-8 inside a case file."""
    data = b'{\n"case_id": "ab\xff"}'
    with pytest.raises(
        JsonInputError, match=r"the byte at offset 16 \(line 2\) is not valid UTF-8"
    ) as caught:
        parse_json(data, source="the case file")
    assert caught.value.offset == 16
    assert caught.value.line == 2


def test_byte_order_mark_is_allowed() -> None:
    assert parse_json_object(b'\xef\xbb\xbf{"a": 1}', source="x") == {"a": 1}


def test_duplicate_age_is_refused_naming_the_key_and_its_path() -> None:
    """Attack: age 70 then age 15 in one object; json.loads kept 15 and the pathway changed."""
    assert json.loads(DUPLICATE_AGE)["patient"]["age_years"] == 15
    with pytest.raises(JsonInputError) as caught:
        parse_json(DUPLICATE_AGE, source="the case file")
    assert caught.value.path == "patient.age_years"
    assert str(caught.value) == (
        "the case file is not valid JSON: patient.age_years: the key 'age_years' is written more than once (keep one)"
    )


def test_duplicate_key_inside_a_list_item_has_the_item_index() -> None:
    with pytest.raises(JsonInputError, match=r"levels\[1\]\.grade: the key 'grade'"):
        parse_json('{"levels": [{"grade": 1}, {"grade": 1, "grade": 2}]}', source="x")


def test_too_many_keys_in_one_object_are_refused() -> None:
    with pytest.raises(JsonInputError, match=r"the top level: 3,000 keys in one object \(at most 2,000"):
        parse_json(HOSTILE["3,000 keys"], source="x")


def test_size_limit_counts_encoded_bytes() -> None:
    """Multi-byte characters count as the bytes they take."""
    limits = JsonLimits(max_bytes=10)
    assert parse_json('"éé"', source="x", limits=limits) == "éé"
    with pytest.raises(JsonInputError, match=r"too large \(at most 10 bytes"):
        parse_json('"ééééé"', source="x", limits=limits)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(
        JsonInputError, match=r"the top level must be a JSON object \(\{...\}\), not an array"
    ):
        parse_json_object("[]", source="x")


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(JsonInputError, match=r"not valid JSON: .* at line 1, column 30") as caught:
        parse_json(HOSTILE["not JSON"], source="x")
    assert (caught.value.line, caught.value.column) == (1, 30)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_every_document_within_the_limits_reads_back_as_json_loads_does(value: object) -> None:
    text = json.dumps(value)
    assert parse_json(text, source="x") == json.loads(text)
    assert parse_json(text.encode(), source="x") == json.loads(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_or_text_give_a_value_or_the_input_error_never_another_exception(data: bytes | str) -> None:
    try:
        parse_json(data, source="x")
    except JsonInputError as error:
        message = str(error)
    else:
        message = "x is not valid JSON: (it was)"
    assert message.startswith("x is not valid JSON: ")


@pytest.mark.parametrize("depth", [31, 32, 33, 40])
def test_the_depth_limit_is_exact_with_and_without_escapes_in_strings(depth: int) -> None:
    """The quick paths of the depth check (few brackets; no backslash) agree with the limit."""
    for note in ("plain", 'with \\" an escaped quote and [brackets]'):
        text = "[" * (depth - 1) + json.dumps({"note": note, "list": [1]})[:-1] + "}" + "]" * (depth - 1)
        # depth - 1 arrays around an object holding a list: depth + 1 levels in all
        levels = depth + 1
        if levels <= 32:
            parse_json(text, source="x")
        else:
            with pytest.raises(JsonInputError, match="nested too deeply"):
                parse_json(text, source="x")


def test_brackets_in_strings_cannot_hide_nesting() -> None:
    """Strings holding "]" and "[" between real brackets do not make 40 levels look shallow."""
    text = '["]",' * 40 + '"["' + "]" * 40
    with pytest.raises(JsonInputError, match="nested too deeply"):
        parse_json(text, source="x")


@pytest.mark.parametrize(
    ("literal", "refused"),
    [
        ("1" * 40, False),
        ("1" * 41, True),
        ("1" * 20 + "." + "1" * 20, True),
        ("-" + "1" * 39, False),
        ("1e999", True),
        ("-1E+999", True),
        ("1e5", False),
    ],
)
def test_number_limits_hold_on_the_quick_path_and_the_checked_path(literal: str, refused: bool) -> None:
    """Documents without exponents or long literals skip the per-number check; the limits must
    come out the same either way, and a long digit run inside a string is text."""
    for text in (f'{{"n": {literal}}}', f'{{"note": "true false 1e999 {"9" * 50}", "n": {literal}}}'):
        if refused:
            with pytest.raises(JsonInputError, match="number"):
                parse_json(text, source="x")
        else:
            assert parse_json(text, source="x")["n"] == json.loads(literal)


def test_a_repeated_key_hidden_by_an_escaped_colon_is_refused() -> None:
    """Attack on the quick path's colon count: ``\\u003a`` in a string decodes to a colon the
    document does not show, making up for the pair the repeated key dropped."""
    text = '{"patient": {"age_years": 70, "age_years": 15}, "note": "\\u003a"}'
    with pytest.raises(JsonInputError) as caught:
        parse_json(text, source="line 3")
    assert str(caught.value) == (
        "line 3 is not valid JSON: patient.age_years: the key 'age_years' is written more than once (keep one)"
    )


@pytest.mark.parametrize("brackets", [32, 33])
def test_a_usual_row_reads_the_same_either_side_of_32_brackets(brackets: int) -> None:
    """Rows with more brackets than the depth limit are common (a full examination has 31-35)
    and shallow; they read, whichever way the quick path proves their depth."""
    value = {"levels": [{"grade": i} for i in range(brackets - 3)], "exam": {}}
    text = json.dumps(value)
    assert text.count("[") + text.count("{") == brackets
    assert parse_json_object(text, source="x") == value
