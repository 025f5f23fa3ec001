"""Log a trained model to MLflow (only when ``MLFLOW_TRACKING_URI`` is set; lazy import)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from astrid.errors import ConfigurationError

__all__ = ["flat_metrics", "log_to_mlflow"]


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested metrics as ``a.b.c`` → float (lists and text left out)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int | float) and value == value:  # finite-or-inf, not NaN
            out[name] = float(value)
    return out


def log_to_mlflow(path: Path, card: Mapping[str, Any]) -> str:
    """One MLflow run: training params, flat metrics, the model card and the ONNX file.

    Returns the MLflow run id.

    Raises
    ------
    ConfigurationError
        If ``mlflow`` is not installed.
    """
    try:
        import mlflow
    except ImportError as e:
        raise ConfigurationError(
            "MLFLOW_TRACKING_URI is set but mlflow is not installed: pip install mlflow"
        ) from e
    training = {k: v for k, v in card.get("training", {}).items() if k != "history"}
    with mlflow.start_run(run_name=str(card.get("version"))) as run:
        mlflow.log_params({k: str(v) for k, v in training.items()})
        mlflow.log_param("data_digest", card.get("data", {}).get("digest", ""))
        mlflow.log_metrics(
            {k.replace("@", "_at_"): v for k, v in flat_metrics(card.get("metrics", {})).items()}
        )
        with tempfile.TemporaryDirectory() as tmp:
            card_path = Path(tmp) / "model_card.json"
            card_path.write_text(json.dumps(card, indent=2, default=str))
            mlflow.log_artifact(str(card_path))
        mlflow.log_artifact(str(path))
        return str(run.info.run_id)
