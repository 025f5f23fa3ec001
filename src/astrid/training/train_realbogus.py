"""Train, calibrate, evaluate and export the real/bogus model (PyTorch; ``train`` extra).

Recipe (every choice is recorded in the model card):

- sampling: each epoch draws as many training candidates as the split holds, with
  replacement, so that real and bogus weigh equally and, within each, every kind weighs
  equally (a rare artifact kind is not drowned by noise peaks); plain cross-entropy;
- augmentation: one of the eight rotations/flips per batch (the cutouts have no preferred
  orientation; the scalar features are orientation-free), and a fraction of each batch made
  partial (`astrid.training.cnn.partial_stamps`: a smaller stamp padded, or one cut at a
  chip edge), so a partial stamp is scored on what it has;
- AdamW, cosine learning-rate decay, early stopping on the validation loss (with the same
  balanced weights), keeping the best epoch;
- calibration on the validation split: a temperature for ``rb`` (Guo et al. 2017), the
  class means and Ledoit-Wolf shared covariance of the penultimate features (computed on
  the training split) for the Mahalanobis distance, and the OOD percentile tables
  (`astrid.detection.ood`);
- export: one ONNX graph with inputs ``cutouts`` ``(n, 4, 63, 63)``, ``scalars``
  ``(n, 9)`` and outputs ``logits`` (temperature applied), ``features``, ``mahalanobis``;
  the model card (JSON) and the calibration live in the file's metadata under ``astrid``.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from astrid.detection.features import INPUT_CHANNELS, NORMALISATION_VERSION, SCALAR_FEATURES
from astrid.detection.ood import OodCalibration, ood_scores, softmax
from astrid.detection.realbogus import RealBogusModel
from astrid.errors import ModelError
from astrid.training.cnn import ExportedModel, RealBogusNet, dihedral, partial_stamps
from astrid.training.export import export_onnx
from astrid.training.finetune import freeze_batch_norm, network_from_onnx
from astrid.training.labels import BOGUS_KINDS, REAL_KINDS
from astrid.training.metrics import (
    fnr_at_fpr,
    fpr_at_fnr,
    per_kind_rates,
    reliability,
    roc_auc,
)
from astrid.training.training_set import TrainingSet

__all__ = [
    "CARD_NAME",
    "RealBogusTrainConfig",
    "TrainedModel",
    "evaluate_split",
    "export_realbogus",
    "predict",
    "realbogus_card",
    "train_and_export",
    "train_realbogus",
]

log = logging.getLogger(__name__)

#: The model card's name for the CNN backbone (the ViT's ends in ``-vit``).
CARD_NAME = "astrid-realbogus-cnn"


@dataclass(frozen=True)
class RealBogusTrainConfig:
    """Training settings.

    Attributes
    ----------
    epochs, batch_size, lr, weight_decay, patience : training loop
    width : int
        First-block channels of the CNN.
    seed : int
        Seeds initialisation, sampling and augmentation.
    threads : int
        PyTorch intra-op threads.
    epoch_size : int, optional
        Most candidates drawn per epoch (default and cap: as many as the split holds).
    min_epoch_size : int
        Fewest candidates drawn per epoch (with replacement): a few hundred labels still
        give a fine-tuning run enough optimiser steps.
    max_train : int, optional
        Use at most this many training candidates (a random subset), for quick runs.
    exclude_kinds : tuple of str
        Kinds dropped from training and validation (leave-one-kind-out).
    exclude_sources : tuple of str
        Units dropped from training and validation, by name or by a prefix ending in ``*``
        (leave-one-instrument-out: ``("real-*",)`` trains without the real pairs).
    backbone : str
        ``"cnn"`` (`astrid.training.cnn`, the default) or ``"vit"``
        (`astrid.training.vit`, the comparison in docs/models.md).
    init_from : str or None
        Fine-tune: start from this exported CNN model (`astrid.training.finetune`) with its
        batch-norm statistics frozen, instead of from random weights.
    partial_fraction : float
        Share of each batch made partial by `partial_stamps` (0 turns it off).
    """

    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 5
    width: int = 16
    seed: int = 0
    threads: int = 2
    epoch_size: int | None = 30_000
    min_epoch_size: int = 0
    max_train: int | None = None
    exclude_kinds: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    backbone: str = "cnn"
    partial_fraction: float = 0.15
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.backbone not in ("cnn", "vit"):
            raise ModelError(
                f"RealBogusTrainConfig.backbone must be 'cnn' or 'vit', got {self.backbone!r}"
            )


@dataclass
class TrainedModel:
    """A trained, calibrated model before export."""

    model: ExportedModel
    calibration: OodCalibration
    temperature: float
    history: list[dict[str, float]]
    config: RealBogusTrainConfig
    data_digest: str
    counts: dict[str, dict[str, int]]
    seconds: float
    card: dict[str, Any] = field(default_factory=dict)


def _kept(data: TrainingSet, config: RealBogusTrainConfig) -> np.ndarray:
    """Candidates not left out by ``exclude_kinds`` / ``exclude_sources``."""
    keep = ~np.isin(data.kind, list(config.exclude_kinds))
    source = data.source.astype(str)
    for name in config.exclude_sources:
        keep &= ~(np.char.startswith(source, name[:-1]) if name.endswith("*") else source == name)
    return keep


def _balanced_weights(label: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Per-candidate weights: classes equal, kinds equal within a class; mean 1."""
    w = np.zeros(len(label))
    for cls in (0, 1):
        in_cls = label == cls
        kinds = np.unique(kind[in_cls])
        for k in kinds:
            sel = in_cls & (kind == k)
            w[sel] = 1.0 / (2 * len(kinds) * sel.sum())
    return w * len(label) / w.sum()


def _tensors(data: TrainingSet, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    cut = torch.from_numpy(np.asarray(data.cutouts[idx], np.float32))
    return cut, torch.from_numpy(np.asarray(data.scalars[idx], np.float32))


@torch.no_grad()
def _outputs(module: nn.Module, data: TrainingSet, batch: int = 1024) -> list[np.ndarray]:
    """Every output of `module` for every candidate of `data` (eval mode, no augmentation)."""
    module.eval()
    parts = [
        [
            t.numpy()
            for t in module(*_tensors(data, np.arange(start, min(start + batch, len(data)))))
        ]
        for start in range(0, max(len(data), 1), batch)  # one empty batch for an empty set
    ]
    return [np.concatenate(column) for column in zip(*parts, strict=True)]


def _forward_all(net: nn.Module, data: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
    """Logits and features of every candidate of `data`."""
    logits, features = _outputs(net, data)
    return logits, features


def _weighted_loss(logits: np.ndarray, label: np.ndarray, weights: np.ndarray) -> float:
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-(weights * logp[np.arange(len(label)), label]).sum() / weights.sum())


def _fit_temperature(logits: np.ndarray, label: np.ndarray) -> float:
    """Temperature minimising the validation negative log-likelihood (golden search)."""

    def nll(log_t: float) -> float:
        return _weighted_loss(logits / math.exp(log_t), label, np.ones(len(label)))

    lo, hi = math.log(0.05), math.log(20.0)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return math.exp((lo + hi) / 2)


def _mahalanobis_stats(features: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class means and the Ledoit-Wolf shrunk shared precision matrix."""
    from sklearn.covariance import LedoitWolf

    means = np.stack([features[label == c].mean(axis=0) for c in (0, 1)])
    centred = features - means[label]
    lw = LedoitWolf(assume_centered=True).fit(centred)
    return means.astype(np.float32), lw.precision_.astype(np.float32)


def train_realbogus(
    data: TrainingSet,
    config: RealBogusTrainConfig = RealBogusTrainConfig(),
    *,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainedModel:
    """Train on the ``train`` split, stop early and calibrate on ``val``.

    Raises
    ------
    ModelError
        If a split has no candidates of a class.
    """
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    torch.set_num_threads(max(1, config.threads))
    rng = np.random.default_rng(config.seed)
    keep = _kept(data, config)
    train = data.subset((data.split == "train") & keep)
    val = data.subset((data.split == "val") & keep)
    if config.max_train is not None and len(train) > config.max_train:
        train = train.subset(
            np.isin(np.arange(len(train)), rng.choice(len(train), config.max_train, replace=False))
        )
    for name, split in (("train", train), ("val", val)):
        if len(np.unique(split.label)) < 2:
            raise ModelError(f"training set {data.directory}: the {name} split lacks a class")
    weights = _balanced_weights(train.label, train.kind)
    val_weights = _balanced_weights(val.label, val.kind)
    net: nn.Module
    if config.init_from is not None:
        net = network_from_onnx(config.init_from)
    elif config.backbone == "vit":
        from astrid.training.vit import RealBogusViT

        net = RealBogusViT(
            len(SCALAR_FEATURES),
            train.scalars.mean(axis=0),
            train.scalars.std(axis=0),
            in_channels=len(INPUT_CHANNELS),
        )
    else:
        net = RealBogusNet(
            len(SCALAR_FEATURES),
            train.scalars.mean(axis=0),
            train.scalars.std(axis=0),
            in_channels=len(INPUT_CHANNELS),
            width=config.width,
        )
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    epoch_size = max(min(len(train), config.epoch_size or len(train)), config.min_epoch_size)
    steps_per_epoch = math.ceil(epoch_size / config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=config.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss()
    best: tuple[float, dict[str, Any]] | None = None
    history: list[dict[str, float]] = []
    stale = 0
    p = weights / weights.sum()
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        net.train()
        if config.init_from is not None:
            freeze_batch_norm(net)
        order = rng.choice(len(train), size=steps_per_epoch * config.batch_size, p=p)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = np.sort(order[step * config.batch_size : (step + 1) * config.batch_size])
            cut, sca = _tensors(train, idx)
            cut = dihedral(cut, int(rng.integers(0, 8)))
            cut = partial_stamps(cut, rng, config.partial_fraction)
            target = torch.from_numpy(train.label[idx])
            optimiser.zero_grad()
            logits, _ = net(cut, sca)
            loss = loss_fn(logits, target)
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += float(loss.detach())
        val_logits, _ = _forward_all(net, val)
        val_loss = _weighted_loss(val_logits, val.label, val_weights)
        row = {
            "epoch": epoch + 1,
            "train_loss": total / steps_per_epoch,
            "val_loss": val_loss,
            "val_auc": roc_auc(val.label, val_logits[:, 1] - val_logits[:, 0]),
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        log.info("epoch %(epoch)d: train %(train_loss).4f val %(val_loss).4f", row)
        if on_epoch:
            on_epoch(row)
        if best is None or val_loss < best[0]:
            best, stale = (val_loss, copy.deepcopy(net.state_dict())), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    assert best is not None
    net.load_state_dict(best[1])
    net.eval()
    _, train_features = _forward_all(net, train)
    means, precision = _mahalanobis_stats(train_features, train.label)
    val_logits, _ = _forward_all(net, val)
    temperature = _fit_temperature(val_logits, val.label)
    model = ExportedModel(net, temperature, means, precision).eval()
    val_out = predict(model, val)
    calibration = OodCalibration.fit(val_out["logits"], val_out["mahalanobis"])
    return TrainedModel(
        model=model,
        calibration=calibration,
        temperature=temperature,
        history=history,
        config=config,
        data_digest=data.digest,
        counts=data.counts(),
        seconds=time.perf_counter() - start,
    )


def predict(model: ExportedModel, data: TrainingSet) -> dict[str, np.ndarray]:
    """``logits``, ``features``, ``mahalanobis`` and ``rb`` of every candidate (PyTorch)."""
    logits, features, mahalanobis = _outputs(model, data)
    return {
        "logits": logits,
        "features": features,
        "mahalanobis": mahalanobis,
        "rb": softmax(logits.astype(np.float64))[:, 1],
    }


def evaluate_split(
    scores: dict[str, np.ndarray],
    data: TrainingSet,
    calibration: OodCalibration,
    *,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Error rates of ``rb`` and the OOD false-flag rate on one split's predictions.

    ``threshold`` is the operating point (called real iff ``rb > threshold``); by default
    the one giving FPR = 1 % on these candidates.
    """
    label, rb = data.label, scores["rb"]
    fnr1, t_fpr1 = fnr_at_fpr(label, rb, 0.01)
    fpr1, t_fnr1 = fpr_at_fnr(label, rb, 0.01)
    op = t_fpr1 if threshold is None else threshold
    ood = ood_scores(scores["logits"], scores["mahalanobis"], calibration)["ood"]
    real = label == 1
    snr_bins = [3, 5, 7, 10, 20, 1e9]
    recall_by_snr = []
    for lo, hi in itertools.pairwise(snr_bins):
        sel = real & (data.snr_true >= lo) & (data.snr_true < hi)
        recall_by_snr.append(
            {
                "snr_lo": lo,
                "snr_hi": hi if hi < 1e9 else None,
                "n": int(sel.sum()),
                "recall": float(np.mean(rb[sel] > op)) if sel.any() else None,
            }
        )
    return {
        "n": int(len(label)),
        "n_real": int(real.sum()),
        "n_bogus": int((~real).sum()),
        "auc": roc_auc(label, rb),
        "fnr_at_fpr_1pct": fnr1,
        "threshold_at_fpr_1pct": t_fpr1,
        "fpr_at_fnr_1pct": fpr1,
        "threshold_at_fnr_1pct": t_fnr1,
        "operating_threshold": op,
        "fpr_at_operating": float(np.mean(rb[~real] > op)),
        "fnr_at_operating": float(np.mean(rb[real] <= op)),
        "per_kind": per_kind_rates(data.kind, rb, op),
        "recall_by_snr": recall_by_snr,
        "reliability": reliability(label, rb),
        "ood_flag_rate_0.99": float(np.mean(ood > 0.99)),
        "ood_flag_rate_0.95": float(np.mean(ood > 0.95)),
    }


def realbogus_card(
    trained: TrainedModel,
    metrics: dict[str, Any],
    *,
    version: str,
    data_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The model card: what the model is, what it was trained on, how well it does."""
    return {
        "name": CARD_NAME if trained.config.backbone == "cnn" else f"{CARD_NAME[:-4]}-vit",
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {
            "cutouts": {"channels": list(INPUT_CHANNELS), "size": 63},
            "scalars": list(SCALAR_FEATURES),
            "normalisation_version": NORMALISATION_VERSION,
        },
        "outputs": ["logits", "features", "mahalanobis"],
        "classes": ["bogus", "real"],
        "real_kinds": list(REAL_KINDS),
        "bogus_kinds": list(BOGUS_KINDS),
        "temperature": trained.temperature,
        "data": {
            "digest": trained.data_digest,
            "counts": trained.counts,
            "config": data_config or {},
        },
        "training": {
            **asdict(trained.config),
            "history": trained.history,
            "seconds": round(trained.seconds, 1),
            "torch": torch.__version__,
            "machine": "CPU",
        },
        "metrics": metrics,
        "operating_threshold": metrics.get("val", {}).get("threshold_at_fpr_1pct"),
    }


def export_realbogus(trained: TrainedModel, path: str | Path, card: dict[str, Any]) -> Path:
    """Write the model, its calibration and card to one ONNX file; returns the path."""
    n_scalars = len(SCALAR_FEATURES)
    example = (torch.zeros(2, len(INPUT_CHANNELS), 63, 63), torch.zeros(2, n_scalars))
    outputs = ("logits", "features", "mahalanobis")
    return export_onnx(
        copy.deepcopy(trained.model),
        example,
        path,
        {**card, "calibration": trained.calibration.to_json()},
        input_names=("cutouts", "scalars"),
        output_names=outputs,
        dynamic_axes={k: {0: "n"} for k in ("cutouts", "scalars", *outputs)},
    )


def _throughput(path: Path, data: TrainingSet, threads: int = 2) -> float:
    """Candidates per second through onnxruntime (normalised inputs, batches of 512)."""
    model = RealBogusModel.load(path, threads=threads)
    n = min(len(data), 8192)
    inputs = np.asarray(data.cutouts[:n], np.float32)
    scalars = np.asarray(data.scalars[:n], np.float32)
    model.score_inputs(inputs[:512], scalars[:512])  # warm-up
    start = time.perf_counter()
    model.score_inputs(inputs, scalars)
    return n / (time.perf_counter() - start)


def train_and_export(
    data: TrainingSet,
    out: str | Path,
    config: RealBogusTrainConfig = RealBogusTrainConfig(),
    *,
    data_config: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train, evaluate on ``val`` and ``test``, export and verify the ONNX file.

    The exported file is loaded back with onnxruntime and must reproduce the PyTorch
    scores on the test split (else `ModelError`); its throughput is measured and recorded.

    Returns
    -------
    (Path, dict)
        The ONNX file and its model card.
    """
    trained = train_realbogus(data, config, on_epoch=on_epoch)
    keep = _kept(data, config)
    val = data.subset((data.split == "val") & keep)
    test = data.subset(data.split == "test")
    val_scores = predict(trained.model, val)
    val_metrics = evaluate_split(val_scores, val, trained.calibration)
    metrics: dict[str, Any] = {"val": val_metrics}
    if len(test):
        test_scores = predict(trained.model, test)
    else:  # e.g. curator labels judged elsewhere: the export is checked on val
        test, test_scores = val, val_scores
    if test is not val:
        test_metrics = evaluate_split(
            test_scores,
            test,
            trained.calibration,
            threshold=val_metrics["threshold_at_fpr_1pct"],
        )
        test_metrics["at_own_fpr_1pct"] = {
            "fnr": test_metrics["fnr_at_fpr_1pct"],
            "threshold": test_metrics["threshold_at_fpr_1pct"],
        }
        metrics["test"] = test_metrics
    version = f"{datetime.now(UTC):%Y%m%d}-{data.digest[:8]}-s{config.seed}"
    left_out = (*config.exclude_kinds, *(n.rstrip("*") for n in config.exclude_sources))
    if left_out:
        version += "-without-" + "-".join(left_out)
    card = realbogus_card(trained, metrics, version=version, data_config=data_config)
    path = export_realbogus(trained, out, card)

    loaded = RealBogusModel.load(path)
    onnx_rb = loaded.score_inputs(np.asarray(test.cutouts, np.float32), test.scalars).rb
    worst = float(np.max(np.abs(onnx_rb - test_scores["rb"]))) if len(test) else 0.0
    if worst > 1e-3:
        raise ModelError(f"{path}: ONNX scores differ from PyTorch by up to {worst:.2g}")
    card["metrics"]["onnx_max_abs_rb_difference"] = worst
    card["metrics"]["throughput_candidates_per_s_2_threads"] = round(_throughput(path, test), 1)
    path = export_realbogus(trained, out, card)
    return path, card
