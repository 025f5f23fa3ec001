"""Offline training of the detection models: training sets, torch models, loops, export.

- training sets built by injection: `TrainingSetConfig` (the recipe, `field_specs`),
  `build_field` (one unit's labelled candidates, `label_candidates`, the perturbations
  `misregister` / `mismatch_psf`), `build_training_set` / `load_training_set`;
- the real/bogus model: `train_realbogus`, `evaluate_split` (with `metrics`),
  `realbogus_card`, `export_realbogus`, `train_and_export` (networks in `cnn` and `vit`);
- the U-Net detector: `train_unet_from_set` (`astrid train-unet`), `UNet`, `unet_card`,
  `export_unet`;
- `log_to_mlflow` for experiment tracking.

The models run with `astrid.detection` (onnxruntime only); this package imports it,
never the reverse. Names that need PyTorch (the ``train`` extra) are imported on first
use, so ``import astrid.training`` and the training-set builders work without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from astrid.training.field import build_field
from astrid.training.labels import BOGUS_KINDS, REAL_KINDS, KnownSources, label_candidates
from astrid.training.metrics import fnr_at_fpr, fpr_at_fnr, per_kind_rates, reliability, roc_auc
from astrid.training.perturb import mismatch_psf, misregister
from astrid.training.recipe import SPLITS, FieldSpec, TrainingSetConfig, field_specs
from astrid.training.tracking import flat_metrics, log_to_mlflow
from astrid.training.training_set import TrainingSet, build_training_set, load_training_set

if TYPE_CHECKING:
    from astrid.training.export import export_onnx
    from astrid.training.train_realbogus import (
        RealBogusTrainConfig,
        TrainedModel,
        evaluate_split,
        export_realbogus,
        predict,
        realbogus_card,
        train_and_export,
        train_realbogus,
    )
    from astrid.training.unet import (
        TrainedUNet,
        UNet,
        UNetTrainConfig,
        export_unet,
        train_unet,
        train_unet_from_set,
        unet_card,
    )

#: Names that import PyTorch, and the module of each.
_TORCH_NAMES = {
    "export_onnx": "export",
    **dict.fromkeys(
        (
            "RealBogusTrainConfig",
            "TrainedModel",
            "evaluate_split",
            "export_realbogus",
            "predict",
            "realbogus_card",
            "train_and_export",
            "train_realbogus",
        ),
        "train_realbogus",
    ),
    **dict.fromkeys(
        (
            "TrainedUNet",
            "UNet",
            "UNetTrainConfig",
            "export_unet",
            "train_unet",
            "train_unet_from_set",
            "unet_card",
        ),
        "unet",
    ),
}

__all__ = [
    "BOGUS_KINDS",
    "REAL_KINDS",
    "SPLITS",
    "FieldSpec",
    "KnownSources",
    "RealBogusTrainConfig",
    "TrainedModel",
    "TrainedUNet",
    "TrainingSet",
    "TrainingSetConfig",
    "UNet",
    "UNetTrainConfig",
    "build_field",
    "build_training_set",
    "evaluate_split",
    "export_onnx",
    "export_realbogus",
    "export_unet",
    "field_specs",
    "flat_metrics",
    "fnr_at_fpr",
    "fpr_at_fnr",
    "label_candidates",
    "load_training_set",
    "log_to_mlflow",
    "mismatch_psf",
    "misregister",
    "per_kind_rates",
    "predict",
    "realbogus_card",
    "reliability",
    "roc_auc",
    "train_and_export",
    "train_realbogus",
    "train_unet",
    "train_unet_from_set",
    "unet_card",
]


def __getattr__(name: str) -> Any:
    """Import a PyTorch name on first use (PEP 562)."""
    if name in _TORCH_NAMES:
        module = importlib.import_module(f"astrid.training.{_TORCH_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'astrid.training' has no attribute {name!r}")
