"""An optional summary rewriter: loaded by name, checked against the facts, never in the way."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from astrid.alerts.summary_rewrite import (
    MAX_REWRITE_CHARS,
    RewriteBudget,
    check_rewrite,
    load_rewriter,
    rewrite_summary,
)
from astrid.errors import ConfigurationError

SUMMARY = (
    "A point source detected for the 3rd time of r = 18.9, 2.1″ (0.6 DLR) from the centre "
    "of galaxy NGC 1 at 82 Mpc (M = −15.7), brightening by 0.41 mag/day over 3 detections; "
    "real/bogus 0.97, typical of the training data."
)


@pytest.fixture
def plugin() -> Iterator[types.ModuleType]:
    module = types.ModuleType("astrid_test_rewriter")
    module.shout = lambda summary, fields: summary.upper()  # type: ignore[attr-defined]
    module.not_callable = 3  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_a_rewriter_is_loaded_by_name(plugin: types.ModuleType) -> None:
    rewriter = load_rewriter("astrid_test_rewriter:shout")
    assert rewriter("a b", {}) == "A B"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("astrid_test_rewriter", "expected 'package.module:function'"),
        ("os.path:join; rm -rf", "expected 'package.module:function'"),
        ("no_such_module_here:f", "does not import"),
        ("astrid_test_rewriter:missing", "has no callable missing"),
        ("astrid_test_rewriter:not_callable", "has no callable not_callable"),
    ],
)
def test_bad_rewriter_names_are_refused(plugin: types.ModuleType, spec: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected) as caught:
        load_rewriter(spec)
    assert caught.value.details["field"] == "summary_rewriter"


@pytest.mark.parametrize(
    "text",
    [
        "Seen for the 3rd time at r = 18.9, 2.1″ (0.6 DLR) from NGC 1 (82 Mpc, M = −15.7).",
        "NGC 1, 82 Mpc: a source brightening 0.41 mag/day; real/bogus 0.97.",
        "M = -15.7 at 82 Mpc.",  # an ASCII minus for the summary's true minus
        "A brightening transient near a galaxy.",  # no numbers at all
    ],
)
def test_rewrites_with_the_summarys_numbers_are_kept(text: str) -> None:
    assert check_rewrite(SUMMARY, text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A source of r = 18.4 near NGC 1.", "numbers the summary has not: 18.4"),
        ("M = 15.7 at 82 Mpc.", "numbers the summary has not: 15.7"),  # the sign lost
        ("A supernova at z = 0.02.", "numbers the summary has not: 0.02"),
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("x" * (MAX_REWRITE_CHARS + 1), "characters long"),
        (None, "returned NoneType, not text"),
        ({"text": "hi"}, "returned dict, not text"),
    ],
)
def test_rewrites_that_change_facts_are_refused(text: object, expected: str) -> None:
    why = check_rewrite(SUMMARY, text)
    assert why is not None and expected in why


def test_a_rewriter_that_fails_leaves_no_rewrite_and_is_counted() -> None:
    def broken(summary: str, fields: Mapping[str, Any]) -> str:
        raise TimeoutError("model did not answer")

    budget = RewriteBudget(seconds=5.0)
    assert rewrite_summary(broken, SUMMARY, {}, budget) is None
    assert rewrite_summary(lambda s, f: "r = 21.0", SUMMARY, {}, budget) is None
    assert rewrite_summary(lambda s, f: f"  {s.lower()} ", SUMMARY, {}, budget) == SUMMARY.lower()
    assert (budget.calls, budget.kept) == (3, 1)
    assert budget.refused == {"it raised TimeoutError:": 1, "it has numbers": 1}


def test_the_time_budget_bounds_the_rewriting() -> None:
    calls: list[str] = []

    def slow(summary: str, fields: Mapping[str, Any]) -> str:
        calls.append(summary)
        time.sleep(0.05)
        return summary

    budget = RewriteBudget(seconds=0.08)
    results = [rewrite_summary(slow, SUMMARY, {}, budget) for _ in range(5)]
    assert len(calls) == 2 and budget.exhausted
    assert results == [SUMMARY, SUMMARY, None, None, None]


def test_the_rewriter_gets_the_fields_as_a_copy() -> None:
    fields = {"rb": 0.97, "mag": 18.9}

    def meddle(summary: str, given: Mapping[str, Any]) -> str:
        assert dict(given) == fields
        given["rb"] = 0.1  # type: ignore[index]
        return summary

    rewrite_summary(meddle, SUMMARY, fields, RewriteBudget())
    assert fields["rb"] == 0.97
