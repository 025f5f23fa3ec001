"""The alert filter language: the example filter, operators, precedence, missing values,
errors with their positions, canonical text, and hypothesis fuzzing of parser and evaluator."""

from __future__ import annotations

import math
import pickle
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astrid.alerts.filter_language import (
    MAX_NESTING,
    AlertFilter,
    FieldKind,
    FilterSyntaxError,
    compile_filter,
)
from astrid.alerts.filter_tokens import MAX_EXPRESSION_LENGTH, tokenize
from astrid.errors import AstridError

FIELDS: dict[str, FieldKind] = {
    "rb": "number",
    "ood": "number",
    "mag": "number",
    "host_mag": "number",
    "n_detections": "number",
    "context_class": "text",
    "band": "text",
    "is_negative": "bool",
    "known": "bool",
}
EXAMPLE = (
    'rb > 0.8 and ood < 0.99 and context_class in ("supernova_candidate", "orphan") '
    "and mag < 19.5 and n_detections >= 2"
)
PASSING: dict[str, Any] = {
    "rb": 0.93,
    "ood": 0.2,
    "context_class": "orphan",
    "mag": 18.7,
    "n_detections": 3,
}


def matches(expression: str, **values: Any) -> bool:
    return compile_filter(expression, FIELDS).matches(values)


def evaluate(expression: str, **values: Any) -> bool | None:
    return compile_filter(expression, FIELDS).evaluate(values)


def syntax_error(expression: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(expression, FIELDS)
    error = info.value
    assert error.expression == expression
    assert str(error).startswith(f"column {error.position + 1}: ")
    return error


# -- the example ------------------------------------------------------------------------


def test_example_matches_a_passing_alert() -> None:
    f = compile_filter(EXAMPLE, FIELDS)
    assert isinstance(f, AlertFilter)
    assert f.matches(PASSING)
    assert f.expression == EXAMPLE
    assert f.fields_used == {"rb", "ood", "context_class", "mag", "n_detections"}


@pytest.mark.parametrize(
    "change",
    [
        {"rb": 0.8},
        {"ood": 0.995},
        {"context_class": "Orphan"},  # case-sensitive
        {"context_class": "variable_star"},
        {"mag": 19.5},
        {"n_detections": 1},
        {"rb": None},
        {"mag": math.nan},
    ],
)
def test_example_rejects_when_one_condition_fails(change: dict[str, Any]) -> None:
    assert not compile_filter(EXAMPLE, FIELDS).matches({**PASSING, **change})


def test_example_rejects_when_a_field_is_absent() -> None:
    values = dict(PASSING)
    del values["n_detections"]
    assert not compile_filter(EXAMPLE, FIELDS).matches(values)


def test_evaluates_many_records_quickly_without_error() -> None:
    f = compile_filter(EXAMPLE, FIELDS)
    records = [
        {**PASSING, "rb": (i % 100) / 100, "mag": 17 + (i % 40) / 10, "n_detections": i % 4}
        for i in range(10_000)
    ]
    passed = sum(f.matches(record) for record in records)
    expected = sum(r["rb"] > 0.8 and r["mag"] < 19.5 and r["n_detections"] >= 2 for r in records)
    assert passed == expected > 0


# -- operators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rb > 0.5", True),
        ("rb > 0.6", False),
        ("rb >= 0.6", True),
        ("rb < 0.6", False),
        ("rb <= 0.6", True),
        ("rb == 0.6", True),
        ("rb = 0.6", True),
        ("rb != 0.6", False),
        ("0.5 < rb", True),
        ("0.7 <= rb", False),
        ("n_detections == 3", True),
        ("n_detections in (1, 2, 3)", True),
        ("n_detections not in (1, 2, 3)", False),
        ("n_detections in (-3, 3.0,)", True),
        ("band == 'g'", True),
        ('band == "G"', False),
        ("band != 'r'", True),
        ("band in ('g', 'r')", True),
        ("band not in ('g', 'r')", False),
        ("is_negative", False),
        ("known", True),
        ("not is_negative", True),
        ("known == true", True),
        ("is_negative != false", False),
        ("known in (true)", True),
        ("mag - host_mag < -2", True),
        ("mag - host_mag < -3", False),
        ("host_mag - mag > 2 and host_mag - mag < 2.6", True),
        ("mag + 1 == 19", True),
        ("mag * 2 == 36", True),
        ("mag / 2 == 9", True),
        ("-mag == -18", True),
        ("abs(mag - host_mag) > 2.4", True),
        ("abs(-rb) == 0.6", True),
        ("mag < 1.9e1", True),
        ("mag < 1.7E+1", False),
        ("rb > 6e-1", False),
        ("rb > .5", True),
        ("true", True),
        ("false", False),
        ("1 < 2", True),
        ("ood is null", True),
        ("ood is not null", False),
        ("rb is not null", True),
        ("mag - ood is null", True),
        ("rb > 0.5 AND band = 'g' OR FALSE", True),
        ("NOT rb > 0.7", True),
    ],
)
def test_operators(expression: str, expected: bool) -> None:
    values = {
        "rb": 0.6,
        "mag": 18.0,
        "host_mag": 20.5,
        "n_detections": 3,
        "band": "g",
        "is_negative": False,
        "known": True,
    }
    assert compile_filter(expression, FIELDS).matches(values) is expected


def test_string_escapes() -> None:
    values = {"band": 'it\'s "g"\\'}
    assert compile_filter("band == 'it\\'s \"g\"\\\\'", FIELDS).matches(values)
    assert compile_filter('band == "it\'s \\"g\\"\\\\"', FIELDS).matches(values)


# -- precedence -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # a or (b and c): a true, b and c false
        ("known or is_negative and rb > 1", True),
        ("(known or is_negative) and rb > 1", False),
        ("is_negative and rb > 1 or known", True),
        ("not known or known", True),
        ("not (known or known)", False),
        ("not not known", True),
        ("mag - 1 - 1 == 16", True),  # left-associative
        ("mag - (1 - 1) == 18", True),
        ("2 + mag * 2 == 38", True),
        ("(2 + mag) * 2 == 40", True),
        ("mag / 2 / 3 == 3", True),
        ("-mag * 2 == -36", True),
        ("- -mag == 18", True),
    ],
)
def test_precedence(expression: str, expected: bool) -> None:
    values = {"known": True, "is_negative": False, "rb": 0.5, "mag": 18.0}
    assert compile_filter(expression, FIELDS).matches(values) is expected


def test_keywords_are_case_insensitive() -> None:
    f = compile_filter(
        "Rb > 1 Or NOT (band IN ('g') AnD known Is Not NuLL)", {**FIELDS, "Rb": "number"}
    )
    assert f.to_text() == 'Rb > 1 or not (band in ("g") and known is not null)'


# -- missing values: SQL three-valued logic ----------------------------------------------


@pytest.mark.parametrize("missing", [{}, {"rb": None}, {"rb": math.nan}])
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rb > 0.5", None),
        ("rb <= 0.5", None),
        ("not rb > 0.5", None),
        ("not (rb > 0.5)", None),
        ("rb == 1", None),
        ("rb != 1", None),
        ("rb in (1, 2)", None),
        ("rb not in (1, 2)", None),
        ("rb + 1 > 0", None),
        ("abs(rb) >= 0", None),
        ("-rb < 0", None),
        ("rb > 0.5 and known", None),
        ("rb > 0.5 and not known", False),
        ("rb > 0.5 or known", True),
        ("rb > 0.5 or not known", None),
        ("not (rb > 0.5 or not known)", None),
        ("rb is null", True),
        ("rb is not null", False),
        ("not rb is null", False),
        ("rb is null or rb <= 0.5", True),
        ("(rb > 0.5) is null", True),
    ],
)
def test_missing_values_are_unknown(
    missing: dict[str, Any], expression: str, expected: bool | None
) -> None:
    values = {"known": True, **missing}
    f = compile_filter(expression, FIELDS)
    assert f.evaluate(values) is expected
    assert f.matches(values) is (expected is True)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("mag / ood > 0", None),  # division by zero
        ("mag / (ood - ood) > 0", None),
        ("not mag / ood > 0", None),
        ("mag / ood is null", True),
        ("rb - rb > -1", None),  # inf - inf is NaN
        ("rb > 1e308", True),
        ("band == 'g'", None),  # NaN in a text field is missing too
    ],
)
def test_arithmetic_edge_cases(expression: str, expected: bool | None) -> None:
    values = {"mag": 18.0, "ood": 0.0, "rb": math.inf, "band": math.nan}
    assert compile_filter(expression, FIELDS).evaluate(values) is expected


def test_values_of_the_wrong_type_are_unknown() -> None:
    values = {"rb": "high", "mag": [1], "band": 3}
    assert evaluate("rb > 0.5") is None  # absent
    f = compile_filter("rb > 0.5", FIELDS)
    assert f.evaluate(values) is None
    assert compile_filter("rb + 1 > 0", FIELDS).evaluate(values) is None
    assert compile_filter("mag in (1, 2)", FIELDS).evaluate(values) is None
    assert compile_filter("band == 'g'", FIELDS).evaluate(values) is False


def test_numpy_values() -> None:
    np = pytest.importorskip("numpy")
    values = {"rb": np.float64(0.9), "n_detections": np.int64(2), "known": np.bool_(True)}
    assert matches("rb > 0.8 and n_detections >= 2 and known", **values)
    assert compile_filter("not known", FIELDS).evaluate(values) is False
    assert compile_filter("rb > 0.8", FIELDS).evaluate({"rb": np.float64("nan")}) is None


# -- errors and their positions ---------------------------------------------------------


def test_syntax_error_is_an_astrid_error() -> None:
    error = syntax_error("rbb > 1")
    assert isinstance(error, AstridError)
    assert error.details["position"] == 0
    assert error.pointer().endswith("\n^")


def test_syntax_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(syntax_error("rb > 0.8 and rbb > 1")))
    assert isinstance(error, FilterSyntaxError)
    assert (error.position, error.field) == (13, "rbb")
    assert str(error).startswith("column 14: unknown field 'rbb'")


def test_unknown_field_suggests_close_names() -> None:
    error = syntax_error("rb > 0.8 and rbb > 1")
    assert error.position == 13
    assert error.field == "rbb"
    assert str(error) == "column 14: unknown field 'rbb' (did you mean 'rb'?)"
    assert "did you mean 'context_class'" in str(syntax_error("contxt_class == 'x'"))
    assert "did you mean" not in str(syntax_error("zzzz > 1"))
    assert "did you mean 'rb'" in str(syntax_error("RB > 1"))


@pytest.mark.parametrize(
    ("expression", "position", "fragment"),
    [
        ("", 0, "empty expression"),
        ("   ", 0, "empty expression"),
        ("rb > 'high'", 5, "cannot compare field 'rb' (a number) with \"high\" (text)"),
        ("'high' < rb", 0, "cannot compare field 'rb'"),
        ("band == 1", 8, "expected text"),
        ("known == 1", 9, "expected a boolean"),
        ("rb == true", 6, "cannot compare"),
        ("rb + mag == band", 12, "cannot compare"),
        ("band < 'x'", 5, "'<' compares numbers, found field 'band' (text)"),
        ("context_class >= 'a'", 14, "use ==, != or in"),
        ("known > false", 6, "'>' compares numbers"),
        ("band in ('g', 2)", 14, "field 'band' (text) holds 2 (a number); all its values must"),
        ("rb in (1, 'x')", 10, "the 'in' list of field 'rb'"),
        ("rb in ('x', 1)", 7, "the 'in' list"),
        ("rb in (mag)", 7, "expected a literal"),
        ("rb in ()", 7, "expected a value"),
        ("rb in 1", 6, "expected '(' after 'in'"),
        ("rb in (1, 2", 11, "expected ')' to close the '(' at column 7"),
        ("rb > 0.8 xyz", 9, "expected 'and', 'or' or the end of the expression, found 'xyz'"),
        ("rb > 0.8)", 8, "without a matching '('"),
        ("0 < rb < 1", 7, "comparisons cannot be chained"),
        ("rb > 0.8 and", 12, "found end of expression"),
        ("rb >", 4, "expected a value"),
        ("(rb > 1", 7, "expected ')' to close the '(' at column 1"),
        ("band == 'g", 8, "unterminated string"),
        ('rb > 1 and band == "g', 19, "unterminated string"),
        ("band == 'a\\nb'", 10, "unknown escape"),
        ("rb > 1 # comment", 7, "unexpected character '#'"),
        ("rb ! 1", 3, "use != for 'not equal'"),
        ("rb > 1.2.3", 5, "malformed number '1.2.3'"),
        ("rb > 2abc", 5, "malformed number '2abc'"),
        ("rb > 1e", 5, "malformed number '1e'"),
        ("rb", 0, "expected a condition, found field 'rb' (a number)"),
        ("mag - host_mag", 0, "expected a condition"),
        ("band", 0, "expected a condition"),
        ("rb > 1 and mag", 11, "'and' needs a boolean, found field 'mag'"),
        ("band or known", 0, "'or' needs a boolean, found field 'band'"),
        ("not rb", 4, "'not' needs a boolean"),
        ("band + 1 > 0", 0, "'+' needs a number, found field 'band'"),
        ("rb * known > 0", 5, "'*' needs a number, found field 'known'"),
        ("-band == 'x'", 1, "unary '-' needs a number"),
        ("abs(band) > 1", 4, "abs() needs a number"),
        ("sqrt(rb) > 1", 0, "unknown function 'sqrt'"),
        ("rb == null", 6, "is null"),
        ("rb in (null)", 7, "is null"),
        ("rb is 1", 6, "expected 'null' after 'is'"),
        ("rb is not 1", 10, "expected 'null' after 'is not'"),
        ("rb not > 1", 7, "expected 'in' after 'not'"),
        ("rb > > 1", 5, "expected a value"),
        ("and rb > 1", 0, "expected a value"),
    ],
)
def test_errors_point_at_the_offending_token(expression: str, position: int, fragment: str) -> None:
    error = syntax_error(expression)
    assert error.position == position, str(error)
    assert fragment in str(error)


def test_the_leftmost_error_is_reported() -> None:
    assert syntax_error("rbb > 1 and band == 'x").position == 0
    assert syntax_error("rb > 1 and band == 'x").position == 19
    assert syntax_error("rb > 1 and (band == 'x' #").position == 24


def test_too_long_expression() -> None:
    expression = " or ".join(["rb > 0.5"] * 300)
    assert len(expression) > MAX_EXPRESSION_LENGTH
    error = syntax_error(expression)
    assert error.position == MAX_EXPRESSION_LENGTH
    assert f"{len(expression)} characters long" in str(error)
    assert "at most 2000" in str(error)
    longest = " or ".join(["rb > 0.5"] * 167)
    assert len(longest) == MAX_EXPRESSION_LENGTH
    assert compile_filter(longest, FIELDS).matches({"rb": 1})


@pytest.mark.parametrize(("opening", "closing"), [("(", ")"), ("not ", ""), ("abs(", ")")])
def test_nesting_limit(opening: str, closing: str) -> None:
    def nested(depth: int) -> str:
        inner = "rb > 0" if opening == "not " else "rb"
        body = opening * depth + inner + closing * depth
        return body if opening == "not " else f"{body} > 0"

    f = compile_filter(nested(MAX_NESTING), FIELDS)
    assert f.evaluate({"rb": 1.0}) is not None
    error = syntax_error(nested(MAX_NESTING + 1))
    assert error.position == len(opening) * MAX_NESTING
    assert "nesting deeper than 50" in str(error)


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 900 + "rb > 1" + ")" * 900,
        "not " * 450 + "known",
        "rb > " + "-" * 1900 + "1",
        "abs(" * 400,
        "rb in ((" + "-(" * 500,
    ],
)
def test_deep_nesting_never_recurses_too_far(expression: str) -> None:
    error = syntax_error(expression)
    assert "nesting deeper than 50" in str(error)


def test_long_flat_chains_evaluate_without_deep_recursion() -> None:
    expression = "rb" + " + rb" * 390 + " > 0"
    assert compile_filter(expression, FIELDS).matches({"rb": 1.0})
    expression = " and ".join(["known"] * 190)
    assert compile_filter(expression, FIELDS).matches({"known": True})


def test_bad_field_kind() -> None:
    with pytest.raises(ValueError, match="field kinds must be one of"):
        compile_filter("x > 1", {"x": "float"})  # type: ignore[dict-item]


# -- canonical text, pickling ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "canonical"),
    [
        (EXAMPLE, EXAMPLE),
        ("rb>0.8 AND(band='g' OR band = \"r\")", 'rb > 0.8 and (band == "g" or band == "r")'),
        ("((rb > 1))", "rb > 1"),
        ("not (not known)", "not not known"),
        ("(mag - host_mag) < - 2", "mag - host_mag < -2"),
        ("mag - (host_mag - 1) > 0", "mag - (host_mag - 1) > 0"),
        ("(mag * 2) + (1 / rb) > -(mag)", "mag * 2 + 1 / rb > -mag"),
        ("-(mag + 1) < 0", "-(mag + 1) < 0"),
        ("- - 2 < rb", "2 < rb"),
        ("(rb > 1) IS NULL", "(rb > 1) is null"),
        ("not (rb > 1 and known)", "not (rb > 1 and known)"),
        ("band in ('it\\'s',)", 'band in ("it\'s")'),
        ("(known and known) and known", "known and known and known"),
        ("known and (known or known)", "known and (known or known)"),
        ("ABS( rb ) > 1E3", "abs(rb) > 1E3"),
    ],
)
def test_canonical_text(expression: str, canonical: str) -> None:
    f = compile_filter(expression, FIELDS)
    assert f.to_text() == canonical
    assert compile_filter(canonical, FIELDS).to_text() == canonical


def test_filters_pickle_and_compare() -> None:
    f = compile_filter(EXAMPLE, FIELDS)
    g = pickle.loads(pickle.dumps(f))
    assert g == f
    assert g.matches(PASSING)
    assert hash(g) == hash(f)
    assert "expression=" in repr(f)
    assert compile_filter(EXAMPLE, {**FIELDS, "unused": "text"}) == f  # only used fields count
    as_number = compile_filter("x is null", {"x": "number"})
    assert as_number != compile_filter("x is null", {"x": "text"})


def test_tokenizer_positions() -> None:
    tokens = tokenize("rb>=.5 and  band=='g'")
    assert [(t.kind, t.value, t.position) for t in tokens] == [
        ("name", "rb", 0),
        ("op", ">=", 2),
        ("number", 0.5, 4),
        ("keyword", "and", 7),
        ("name", "band", 12),
        ("op", "==", 16),
        ("string", "g", 18),
        ("end", None, 21),
    ]
    assert tokenize("dia_source.band")[0].value == "dia_source.band"


# -- fuzzing ------------------------------------------------------------------------------


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.printable, max_size=80))
def test_random_text_compiles_or_raises_filter_syntax_error(text: str) -> None:
    try:
        f = compile_filter(text, FIELDS)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(text)
        return
    f.matches({})


_TOKENS = [
    "rb", "mag", "band", "known", "(", ")", "and", "or", "not", "in", "is", "null", "<",
    ">=", "==", "!=", "+", "-", "*", "/", ",", "1", "0.5", "'g'", '"r"', "true", "abs(",
]  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.sampled_from(_TOKENS), max_size=25))
def test_random_token_soup_compiles_or_raises_filter_syntax_error(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        f = compile_filter(text, FIELDS)
    except FilterSyntaxError:
        return
    assert compile_filter(f.to_text(), FIELDS).to_text() == f.to_text()
    f.matches({"rb": 0.0, "mag": math.nan, "band": "g", "known": None})


_NUMBER_FIELDS = [name for name, kind in FIELDS.items() if kind == "number"]
_TEXT_FIELDS = [name for name, kind in FIELDS.items() if kind == "text"]
_BOOL_FIELDS = [name for name, kind in FIELDS.items() if kind == "bool"]

_number_literal = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from(["0", "0.0", "1e-3", "2.5E+4", ".5", "1e308", "1e999"]),
)
_text_literal = st.text(alphabet=string.ascii_letters + "'\" \\", max_size=6).map(
    lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
)


def _numbers_to(depth: int) -> st.SearchStrategy[str]:
    """Numeric expressions nested at most ``depth`` deep (built level by level, not with
    st.recursive, whose argument check misfires on these nested maps)."""
    leaf = st.one_of(st.sampled_from(_NUMBER_FIELDS), _number_literal)
    if depth == 0:
        return leaf
    inner = _numbers_to(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"-{x}"),
        inner.map(lambda x: f"abs({x})"),
    )


_numbers = _numbers_to(2)
_texts = st.one_of(st.sampled_from(_TEXT_FIELDS), _text_literal)


def _comparisons() -> st.SearchStrategy[str]:
    ops = st.sampled_from(["<", "<=", ">", ">=", "==", "=", "!="])
    number_lists = st.lists(_number_literal, min_size=1, max_size=4).map(", ".join)
    text_lists = st.lists(_text_literal, min_size=1, max_size=4).map(", ".join)
    return st.one_of(
        st.tuples(_numbers, ops, _numbers).map(" ".join),
        st.tuples(_texts, st.sampled_from(["==", "!="]), _texts).map(" ".join),
        st.tuples(_numbers, st.sampled_from(["in", "not in"]), number_lists).map(
            lambda t: f"{t[0]} {t[1]} ({t[2]})"
        ),
        st.tuples(_texts, st.sampled_from(["in", "NOT IN"]), text_lists).map(
            lambda t: f"{t[0]} {t[1]} ({t[2]})"
        ),
        st.tuples(
            st.one_of(_numbers, _texts, st.sampled_from(_BOOL_FIELDS)),
            st.sampled_from(["is null", "is not null"]),
        ).map(" ".join),
        st.sampled_from([*_BOOL_FIELDS, "true", "False"]),
    )


def _conditions_to(depth: int) -> st.SearchStrategy[str]:
    """Conditions nested at most ``depth`` deep."""
    if depth == 0:
        return _comparisons()
    inner = _conditions_to(depth - 1)
    return st.one_of(
        _comparisons(),
        st.tuples(inner, st.sampled_from(["and", "or", "AND"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"not ({x})"),
    )


_conditions = _conditions_to(3)
_values = st.one_of(
    st.none(),
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.floats(),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.text(max_size=3),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_conditions, st.lists(st.dictionaries(st.sampled_from(list(FIELDS)), _values), max_size=5))
def test_valid_expressions_compile_and_never_raise(
    expression: str, records: list[dict[str, Any]]
) -> None:
    f = compile_filter(expression, FIELDS)
    again = compile_filter(f.to_text(), FIELDS)
    assert again.to_text() == f.to_text()
    for values in records:
        result = f.evaluate(values)
        assert result in (True, False, None)
        assert f.matches(values) is (result is True)
        assert again.evaluate(values) is result
