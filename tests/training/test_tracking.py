"""MLflow logging helpers (MLflow itself is optional and not installed in CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from astrid.errors import ConfigurationError
from astrid.training.tracking import flat_metrics, log_to_mlflow


def test_flat_metrics_keeps_numeric_leaves() -> None:
    metrics = {"test": {"auc": 0.99, "per_kind": {"noise": {"n": 3}}, "bins": [1, 2]}, "ok": True}
    metrics["test"]["nan"] = float("nan")
    assert flat_metrics(metrics) == {"test.auc": 0.99, "test.per_kind.noise.n": 3.0}


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="mlflow installed")
def test_without_mlflow_the_error_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="pip install mlflow"):
        log_to_mlflow(tmp_path / "m.onnx", {})
