"""Evaluators of compiled alert filters: the small closures `compile_filter` nests.

Each evaluator takes the alert's values (a mapping of field name to value) and returns a
value, or None for *unknown* (a missing value, see `astrid.alerts.filter_language`). They
are small and flat on purpose, being the hot loop of alert filtering; chains of ``and``,
``or``, ``+`` and ``*`` are loops over their operands, so that a long flat expression does
not nest deeply. None of them raises for a value of the wrong type: that is unknown too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

__all__ = [
    "Evaluator",
    "absolute",
    "arithmetic",
    "binary_compare",
    "conjunction",
    "constant",
    "disjunction",
    "field_vs_constant",
    "getter",
    "is_null",
    "member",
    "negation",
    "negative",
]

#: An evaluator: the alert's values in, a value or None (unknown) out.
Evaluator = Callable[[Mapping[str, Any]], Any]
Operator = Callable[[Any, Any], Any]


def constant(value: Any) -> Evaluator:
    """An evaluator that always returns ``value``."""
    return lambda values: value


def getter(name: str) -> Evaluator:
    """The field's value; None when it is absent, None or NaN."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        value = values.get(name)
        if value is None or value != value:  # missing, None or NaN
            return None
        return value

    return evaluate


def field_vs_constant(name: str, op: Operator, constant: Any) -> Evaluator:
    """``field op constant``, in one closure (the common case, so the fastest)."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        value = values.get(name)
        if value is None or value != value:
            return None
        try:
            return op(value, constant)
        except TypeError:  # a value of the wrong type: unknown
            return None

    return evaluate


def binary_compare(left: Evaluator, op: Operator, right: Evaluator) -> Evaluator:
    """``left op right`` for any two evaluators."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        a = left(values)
        if a is None:
            return None
        b = right(values)
        if b is None:
            return None
        try:
            return op(a, b)
        except TypeError:
            return None

    return evaluate


def member(get: Evaluator, choices: frozenset[Any], negate: bool) -> Evaluator:
    """``value in choices`` (or ``not in`` when ``negate``)."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        value = get(values)
        if value is None:
            return None
        try:
            return (value not in choices) if negate else (value in choices)
        except TypeError:  # unhashable
            return None

    return evaluate


def is_null(get: Evaluator, negate: bool) -> Evaluator:
    """``value is null`` (or ``is not null``): true when unknown; never unknown."""
    if negate:
        return lambda values: get(values) is not None
    return lambda values: get(values) is None


def conjunction(fns: tuple[Evaluator, ...]) -> Evaluator:
    """SQL ``and``: false if any is false, else unknown if any is unknown."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        unknown = False
        for fn in fns:
            result = fn(values)
            if result is None:
                unknown = True
            elif not result:
                return False
        return None if unknown else True

    return evaluate


def disjunction(fns: tuple[Evaluator, ...]) -> Evaluator:
    """SQL ``or``: true if any is true, else unknown if any is unknown."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        unknown = False
        for fn in fns:
            result = fn(values)
            if result is None:
                unknown = True
            elif result:
                return True
        return None if unknown else False

    return evaluate


def negation(fn: Evaluator) -> Evaluator:
    """SQL ``not``: unknown stays unknown."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        result = fn(values)
        return None if result is None else not result

    return evaluate


def negative(fn: Evaluator) -> Evaluator:
    """Unary minus."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        value = fn(values)
        if value is None:
            return None
        try:
            return -value
        except TypeError:
            return None

    return evaluate


def absolute(fn: Evaluator) -> Evaluator:
    """``abs(value)``."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        value = fn(values)
        if value is None:
            return None
        try:
            return abs(value)
        except TypeError:
            return None

    return evaluate


def arithmetic(first: Evaluator, steps: tuple[tuple[Operator, Evaluator], ...]) -> Evaluator:
    """A left-to-right chain of ``+ - * /``; division by zero is unknown."""

    def evaluate(values: Mapping[str, Any]) -> Any:
        result = first(values)
        # Only numbers: "ab" * 10**9 would build a huge string from a mistyped value.
        if result is None or not isinstance(result, Real):
            return None
        for op, fn in steps:
            operand = fn(values)
            if operand is None or not isinstance(operand, Real):
                return None
            try:
                result = op(result, operand)
            except (ArithmeticError, TypeError):  # division by zero, int overflow: unknown
                return None
        return None if result != result else result  # inf - inf is NaN: unknown

    return evaluate
