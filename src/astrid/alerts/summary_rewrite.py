"""An optional rewrite of alert summaries (a language model, say), checked against the facts.

AstrID writes every alert's summary itself, deterministically (`plain_summary`); that text
stays the summary of record. A site may plug in a rewriter, a Python callable named by the
setting ``ASTRID_SUMMARY_REWRITER`` (``"package.module:function"``; off by default, never
required): it gets the summary and the alert's fields and returns a text, which is kept
beside the summary (sidecar ``summary_rewritten``), never instead of it. AstrID calls no
model and ships none; the callable owns its client, prompt and credentials.

A rewrite is kept only if it passes `check_rewrite`: a non-empty string of at most
`MAX_REWRITE_CHARS` characters in which **every number is one the summary has** (a model
that invents or changes a magnitude, a distance or a score is refused, whatever it says
around them). A rewriter that raises, returns something else or fails the check leaves no
rewrite for that alert and a warning in the log; the time spent rewriting in one publish is
bounded (`RewriteBudget`), after which alerts go out with their summary only. Nothing here
can stop or delay an alert beyond that budget.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from astrid.errors import ConfigurationError

__all__ = [
    "MAX_REWRITE_CHARS",
    "RewriteBudget",
    "Rewriter",
    "check_rewrite",
    "load_rewriter",
    "rewrite_summary",
]

log = logging.getLogger(__name__)

#: A rewriter: (summary, alert fields) → text.
Rewriter = Callable[[str, Mapping[str, Any]], str]

#: The longest rewrite kept.
MAX_REWRITE_CHARS = 1000

# A number, with its sign when the sign stands alone (``M = −15.7``, not ``ZTF-26``).
_NUMBER = re.compile(r"(?:(?<![\w.])[-−+])?\d+(?:\.\d+)?")
_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def load_rewriter(spec: str) -> Rewriter:
    """The callable named ``"package.module:function"``.

    Raises
    ------
    ConfigurationError
        If the name is malformed, the module does not import or the attribute is not
        callable (``field`` is ``summary_rewriter``).
    """
    if not _SPEC.match(spec):
        raise ConfigurationError(
            f"summary_rewriter {spec!r}: expected 'package.module:function'",
            field="summary_rewriter",
        )
    module_name, name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigurationError(
            f"summary_rewriter {spec!r}: module {module_name} does not import ({e})",
            field="summary_rewriter",
        ) from e
    rewriter = getattr(module, name, None)
    if not callable(rewriter):
        raise ConfigurationError(
            f"summary_rewriter {spec!r}: {module_name} has no callable {name}",
            field="summary_rewriter",
        )
    return rewriter


def _numbers(text: str) -> set[str]:
    return {n.replace("−", "-") for n in _NUMBER.findall(text)}


def check_rewrite(summary: str, text: object) -> str | None:
    """Why a rewrite is refused, or None when it may be kept.

    Examples
    --------
    >>> summary = "A new point source of r = 18.9 appeared; real/bogus 0.97."
    >>> check_rewrite(summary, "Real/bogus 0.97: a new r = 18.9 source.") is None
    True
    >>> check_rewrite(summary, "A new r = 18.4 source.")
    'it has numbers the summary has not: 18.4'
    """
    if not isinstance(text, str):
        return f"it returned {type(text).__name__}, not text"
    if not text.strip():
        return "it is empty"
    if len(text) > MAX_REWRITE_CHARS:
        return f"it is {len(text)} characters long (at most {MAX_REWRITE_CHARS})"
    added = sorted(_numbers(text) - _numbers(summary), key=lambda n: (len(n), n))
    if added:
        return f"it has numbers the summary has not: {', '.join(added[:5])}"
    return None


@dataclass
class RewriteBudget:
    """Seconds of rewriting allowed in one publish; spent as rewrites are called."""

    seconds: float = 10.0
    spent: float = 0.0
    calls: int = 0
    kept: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason's first words -> count

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.seconds


def rewrite_summary(
    rewriter: Rewriter, summary: str, fields: Mapping[str, Any], budget: RewriteBudget
) -> str | None:
    """The rewrite of one summary if the rewriter gives one that passes `check_rewrite`."""
    if budget.exhausted:
        return None
    start = time.perf_counter()
    why: str | None
    try:
        text: object = rewriter(summary, dict(fields))
    except Exception as e:
        text, why = None, f"it raised {type(e).__name__}: {e}"
    else:
        why = check_rewrite(summary, text)
    finally:
        budget.spent += time.perf_counter() - start
        budget.calls += 1
    if why is not None:
        log.warning("summary rewrite refused: %s", why)
        key = " ".join(why.split()[:3])
        budget.refused[key] = budget.refused.get(key, 0) + 1
        return None
    budget.kept += 1
    assert isinstance(text, str)
    return text.strip()
