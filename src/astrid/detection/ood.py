"""Out-of-distribution scores, calibrated into percentiles and combined (pure NumPy).

Three component scores, each larger for a candidate less like the training data:

- ``msp``: 1 − the maximum softmax probability (Hendrycks & Gimpel 2017);
- ``energy``: −logsumexp of the logits (Liu et al. 2020);
- ``mahalanobis``: the smallest squared Mahalanobis distance of the penultimate features
  to a class mean under a shared, Ledoit-Wolf shrunk covariance (Lee et al. 2018).

Each raw score means little on its own, so each is **calibrated** on held-out
in-distribution candidates (the validation split) into a percentile: ``p = F(s)``, the
fraction of in-distribution candidates scoring below ``s`` (mid-rank for ties), read from
a stored table of quantiles. The **ensemble** combines the three percentiles the way
Fisher combines p-values, ``X = −2 Σ log(1 − p_i)`` (one extreme component is enough to
raise ``X``; agreement of several raises it more), and, because the components are
correlated (so ``X`` is not χ²₆), ``X`` is calibrated once more on the same held-out
candidates: ``ood = F_X(X)``. By construction ``P(ood > t)`` ≈ ``1 − t`` for
in-distribution candidates: ``ood > 0.99`` flags about 1 % of them, and far more of
anything unlike the training data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from astrid.errors import ModelError

__all__ = ["COMPONENTS", "OodCalibration", "component_scores", "ood_scores", "softmax"]

COMPONENTS = ("msp", "energy", "mahalanobis")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, classes)`` logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def component_scores(logits: np.ndarray, mahalanobis: np.ndarray) -> dict[str, np.ndarray]:
    """Raw ``msp``, ``energy`` and ``mahalanobis`` scores (larger = less familiar)."""
    logits = np.asarray(logits, np.float64)
    top = logits.max(axis=1)
    energy = -(top + np.log(np.exp(logits - top[:, None]).sum(axis=1)))
    return {
        "msp": 1.0 - softmax(logits).max(axis=1),
        "energy": energy,
        "mahalanobis": np.asarray(mahalanobis, np.float64),
    }


def _quantiles(values: np.ndarray, n: int) -> np.ndarray:
    levels = (np.arange(n) + 0.5) / n
    return np.quantile(np.asarray(values, np.float64), levels)


def _percentile(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Empirical CDF from a quantile table (mid-rank for ties), in [0, 1]."""
    lo = np.searchsorted(table, values, side="left")
    hi = np.searchsorted(table, values, side="right")
    return (lo + hi) / (2.0 * len(table))


def _fisher(percentiles: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    floor = 0.5 / n  # a percentile of 1 would be an infinite statistic
    logs = [np.log(np.maximum(1.0 - p, floor)) for p in percentiles.values()]
    return np.asarray(-2.0 * np.sum(logs, axis=0), np.float64)


@dataclass(frozen=True)
class OodCalibration:
    """Quantile tables of each component and of the ensemble statistic.

    Attributes
    ----------
    tables : dict of str to ndarray
        ``msp``, ``energy``, ``mahalanobis`` and ``ensemble`` quantiles (ascending) of the
        in-distribution calibration candidates.
    n_calibration : int
        How many candidates they were measured on.
    """

    tables: dict[str, np.ndarray]
    n_calibration: int

    @classmethod
    def fit(
        cls, logits: np.ndarray, mahalanobis: np.ndarray, *, n_quantiles: int = 2000
    ) -> OodCalibration:
        """Calibrate on in-distribution candidates' logits and Mahalanobis distances."""
        raw = component_scores(logits, mahalanobis)
        n = min(n_quantiles, len(raw["msp"]))
        if n < 20:
            raise ModelError(f"OOD calibration needs at least 20 candidates, got {n}")
        tables = {k: _quantiles(v, n) for k, v in raw.items()}
        percentiles = {k: _percentile(v, tables[k]) for k, v in raw.items()}
        tables["ensemble"] = _quantiles(_fisher(percentiles, n), n)
        return cls(tables=tables, n_calibration=len(raw["msp"]))

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (for the model file's metadata)."""
        return {
            "method": "percentiles on held-out in-distribution data; Fisher combination, "
            "re-calibrated",
            "n_calibration": self.n_calibration,
            "tables": {k: [float(f"{x:.7g}") for x in v] for k, v in self.tables.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OodCalibration:
        """Inverse of `to_json`; `ModelError` when a table is missing or not ascending."""
        try:
            tables = {
                k: np.asarray(data["tables"][k], np.float64) for k in (*COMPONENTS, "ensemble")
            }
            n_calibration = int(data["n_calibration"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"model card: OOD calibration incomplete ({e!r})") from e
        for name, table in tables.items():
            if table.ndim != 1 or len(table) < 2 or np.any(np.diff(table) < 0):
                raise ModelError(f"model card: OOD table {name!r} is not an ascending list")
        return cls(tables=tables, n_calibration=n_calibration)


def ood_scores(
    logits: np.ndarray, mahalanobis: np.ndarray, calibration: OodCalibration
) -> dict[str, np.ndarray]:
    """``ood`` (ensemble) and ``ood_msp``, ``ood_energy``, ``ood_mahalanobis`` percentiles."""
    raw = component_scores(logits, mahalanobis)
    tables = calibration.tables
    percentiles = {k: _percentile(v, tables[k]) for k, v in raw.items()}
    n = len(tables["ensemble"])
    out = {f"ood_{k}": v for k, v in percentiles.items()}
    out["ood"] = _percentile(_fisher(percentiles, n), tables["ensemble"])
    return out
