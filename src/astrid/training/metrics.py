"""Error rates of a real/bogus score (pure NumPy): the numbers the model card reports.

Convention: a candidate is called real when its score is **above** the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "fnr_at_fpr",
    "fpr_at_fnr",
    "per_kind_rates",
    "reliability",
    "roc_auc",
    "tpr_at_fpr",
]


def _split(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, np.float64)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    return scores[labels], scores[~labels]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half). NaN if a class is empty."""
    pos, neg = _split(labels, scores)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def fnr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> tuple[float, float]:
    """``(fnr, threshold)`` at the lowest threshold whose false-positive rate is ≤ `fpr`."""
    pos, neg = _split(labels, scores)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    neg = np.sort(neg)
    allowed = int(np.floor(fpr * len(neg)))  # bogus allowed above the threshold
    threshold = neg[len(neg) - allowed - 1]
    return float(np.mean(pos <= threshold)), float(threshold)


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """True-positive rate above the ``1 - fpr`` quantile of the negatives' scores."""
    pos, neg = _split(labels, scores)
    threshold = np.quantile(neg, 1.0 - fpr)
    return float(np.mean(pos > threshold))


def fpr_at_fnr(labels: np.ndarray, scores: np.ndarray, fnr: float = 0.01) -> tuple[float, float]:
    """``(fpr, threshold)`` at the highest threshold whose false-negative rate is ≤ `fnr`."""
    pos, neg = _split(labels, scores)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    pos = np.sort(pos)
    allowed = int(np.floor(fnr * len(pos)))  # reals allowed at or below the threshold
    # Called real iff score > threshold: put the threshold just below the first kept real.
    threshold = np.nextafter(pos[allowed], -np.inf)
    return float(np.mean(neg > threshold)), float(threshold)


def reliability(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability curve of a probability: per bin, mean prediction vs observed fraction.

    Returns ``{"bins": [{lo, hi, n, mean_predicted, fraction_real}], "ece": float}``; ECE
    is the count-weighted mean |prediction − observed|.
    """
    labels = np.asarray(labels).astype(bool)
    probs = np.asarray(probs, np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    rows: list[dict[str, float]] = []
    ece = 0.0
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        row = {"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n}
        if n:
            mean_p, frac = float(probs[sel].mean()), float(labels[sel].mean())
            row.update(mean_predicted=mean_p, fraction_real=frac)
            ece += n * abs(mean_p - frac)
        rows.append(row)
    return {"bins": rows, "ece": ece / max(len(probs), 1)}


def per_kind_rates(
    kinds: Sequence[str] | np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, dict[str, float]]:
    """Per kind: count and the fraction called real (score > threshold).

    For a bogus kind ``1 − called_real`` is its rejection; for a real kind ``called_real``
    is its recall.
    """
    kinds = np.asarray(kinds).astype(str)
    scores = np.asarray(scores, np.float64)
    return {
        str(k): {
            "n": int(np.sum(kinds == k)),
            "called_real": float(np.mean(scores[kinds == k] > threshold)),
        }
        for k in np.unique(kinds)
    }
