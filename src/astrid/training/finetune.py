"""Fine-tuning a shipped real/bogus model on new data: curator labels, a new instrument.

A model is fine-tuned from its ONNX file, so any exported version can be adapted, not only
one whose PyTorch weights were kept. The exporter folds each batch norm into the
convolution before it (``W' = W γ / σ``, ``b' = β - μ γ / σ``); `network_from_onnx` puts the
folded weights back into a `RealBogusNet` whose batch norms are the identity (mean 0,
variance 1, ``γ = √(1 + ε)``, ``β = b'``), which computes exactly what the file computes.
Fine-tuning then trains every weight with the batch-norm statistics frozen (the usual way
to adapt a network on a small set: the few hundred new candidates cannot re-estimate them).

`concat_sets` joins the labelled candidates with a *replay* of the original training set
so that the model keeps what it knew (without it, a few hundred labels of one instrument
make it forget the others); the balanced sampling of `train_realbogus` gives every kind of
each class, the curators' labels included, the same weight.

`compare_models` is the promotion rule of ``astrid train --with-labels``: the new version
is registered only when it beats the base model on the held-out slice of the labels.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from astrid.detection.features import (
    INPUT_CHANNELS,
    SCALAR_FEATURES,
    normalise_cutouts,
    scalar_features,
)
from astrid.detection.realbogus import RealBogusModel
from astrid.errors import ModelError
from astrid.training.cnn import RealBogusNet
from astrid.training.metrics import fnr_at_fpr, roc_auc
from astrid.training.training_set import PER_CANDIDATE, TrainingSet

__all__ = [
    "compare_models",
    "concat_sets",
    "freeze_batch_norm",
    "labelled_set",
    "network_from_onnx",
]

_BN_EPS = nn.BatchNorm2d(1).eps  # the eps of every batch norm of RealBogusNet


def _initializers(path: Path) -> tuple[dict[str, np.ndarray], list[tuple[str, str | None]]]:
    """The file's named weights, and the (weight, bias) names of its convolutions in order."""
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load(str(path))
    except Exception as e:  # onnx raises DecodeError, OSError, ...
        raise ModelError(f"{path}: not an ONNX model ({e})", path=str(path)) from e
    weights = {i.name: np.array(numpy_helper.to_array(i)) for i in proto.graph.initializer}
    convs = [
        (n.input[1], n.input[2] if len(n.input) > 2 else None)
        for n in proto.graph.node
        if n.op_type == "Conv"
    ]
    return weights, convs


def _named(weights: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    # Files written before the head was shared with the ViT name it without "top.".
    for name in (f"net.{key}", f"net.{key.replace('top.', '', 1)}"):
        if name in weights:
            return weights[name]
    raise ModelError(
        f"{path}: no weight {key!r}: not an AstrID CNN real/bogus model", path=str(path)
    )


def network_from_onnx(path: str | Path) -> RealBogusNet:
    """The `RealBogusNet` of an exported model, computing the same logits (before ÷T).

    Raises
    ------
    ModelError
        If the file is not an AstrID CNN real/bogus model (a ViT, another network).
    """
    path = Path(path)
    weights, convs = _initializers(path)
    if len(convs) != 4:
        raise ModelError(
            f"{path}: {len(convs)} convolutions, not the CNN's 4 (only the CNN backbone "
            "can be fine-tuned)",
            path=str(path),
        )
    width = int(weights[convs[0][0]].shape[0])
    hidden = _named(weights, "top.hidden.0.weight", path)
    mean = _named(weights, "top.scalar_mean", path).copy()
    std = _named(weights, "top.scalar_std", path).copy()
    if len(mean) != len(SCALAR_FEATURES):
        raise ModelError(f"{path}: {len(mean)} scalar features, not {len(SCALAR_FEATURES)}")
    net = RealBogusNet(
        len(SCALAR_FEATURES),
        mean,
        std,
        in_channels=len(INPUT_CHANNELS),
        width=width,
        feature_dim=int(hidden.shape[0]),
    )
    state = net.state_dict()
    for i, (w_name, b_name) in enumerate(convs):
        prefix = f"conv.{i}"
        conv_weight = state[f"{prefix}.0.weight"]
        w = weights[w_name]
        if tuple(w.shape) != tuple(conv_weight.shape):
            raise ModelError(f"{path}: convolution {w_name} has shape {w.shape}", path=str(path))
        b = weights[b_name] if b_name else np.zeros(w.shape[0], np.float32)
        state[f"{prefix}.0.weight"] = torch.as_tensor(w)
        state[f"{prefix}.1.running_mean"] = torch.zeros(w.shape[0])
        state[f"{prefix}.1.running_var"] = torch.ones(w.shape[0])
        state[f"{prefix}.1.weight"] = torch.full((w.shape[0],), math.sqrt(1.0 + _BN_EPS))
        state[f"{prefix}.1.bias"] = torch.as_tensor(b)
    for key in state:
        if key.startswith("top."):
            state[key] = torch.as_tensor(_named(weights, key, path).copy())
    net.load_state_dict(state)
    return net.eval()


def freeze_batch_norm(net: nn.Module) -> None:
    """Put every batch norm of `net` in eval mode (its statistics stay as they are)."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def concat_sets(*sets: TrainingSet, directory: Path) -> TrainingSet:
    """One training set of several; its digest hashes theirs in order."""
    if not sets:
        raise ValueError("concat_sets needs at least one set")
    digest = hashlib.sha256("".join(s.digest for s in sets).encode()).hexdigest()
    joined = {n: np.concatenate([getattr(s, n) for s in sets]) for n in PER_CANDIDATE}
    for name in ("kind", "variant", "split", "source"):
        joined[name] = joined[name].astype(str)
    return replace(sets[0], **joined, digest=digest, directory=directory)


def _share(seed: int, key: int) -> float:
    """A stable draw in [0, 1) for one candidate: the same id lands in the same split."""
    h = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


def labelled_set(
    rows: Sequence[Mapping[str, Any]],
    triplets: np.ndarray,
    label: np.ndarray,
    kind: np.ndarray,
    *,
    directory: Path,
    held_out: float = 0.25,
    val: float = 0.15,
    seed: int = 0,
) -> TrainingSet:
    """Curator-labelled candidates (catalog rows and raw cutout triplets) as a training set.

    Kinds are the curators' labels prefixed ``labelled:``, so that mixed with a replayed
    training set they weigh as kinds of their own. Each candidate's split follows from a
    hash of its id and `seed` (``test`` with probability `held_out`, ``val`` with `val`,
    else ``train``), so a candidate stays in its
    split as more labels arrive: a model fine-tuned on today's training labels is never
    judged on them tomorrow.
    """
    if not 0 < held_out < 1 or not 0 < val < 1 or held_out + val >= 1:
        raise ValueError(f"held_out={held_out}, val={val}: each in (0, 1), sum below 1")
    n = len(rows)
    if not len(triplets) == len(label) == len(kind) == n:
        raise ValueError("rows, triplets, label and kind must have one entry per candidate")
    ids = [int(r["id"]) for r in rows]
    share = np.array([_share(seed, i) for i in ids])
    split = np.where(share < held_out, "test", np.where(share < held_out + val, "val", "train"))
    for name in ("train", "val", "test"):
        if len(np.unique(np.asarray(label)[split == name])) < 2:
            raise ModelError(
                f"{n} labelled candidates ({int(np.sum(label))} real): the {name} split "
                "lacks a class; label more candidates of both classes (a few hundred)"
            )
    snr = np.array([float(r.get("snr") or np.nan) for r in rows], np.float32)
    digest = hashlib.sha256(
        ";".join(f"{i}:{int(y)}" for i, y in zip(ids, label, strict=True)).encode()
    ).hexdigest()
    return TrainingSet(
        cutouts=normalise_cutouts(np.asarray(triplets, np.float32)).astype(np.float16),
        scalars=scalar_features(list(rows)),
        label=np.asarray(label, np.int64),
        kind=np.char.add("labelled:", np.asarray(kind, dtype=str)),
        variant=np.full(n, "curator"),
        split=split,
        source=np.array([f"run-{r.get('run_id')}" for r in rows], dtype=str),
        snr_true=np.where(np.asarray(label) == 1, snr, np.nan).astype(np.float32),
        scorr=np.array([float(r.get("scorr") or np.nan) for r in rows], np.float32),
        x=np.array([float(r.get("x") or np.nan) for r in rows], np.float32),
        y=np.array([float(r.get("y") or np.nan) for r in rows], np.float32),
        digest=digest,
        directory=directory,
    )


def _rates(model: RealBogusModel, data: TrainingSet) -> dict[str, Any]:
    scores = model.score_inputs(data.cutouts.astype(np.float32), data.scalars)
    op = float(model.card.get("operating_threshold") or 0.5)
    real = data.label == 1
    fnr1, _ = fnr_at_fpr(data.label, scores.rb, 0.01)
    return {
        "auc": roc_auc(data.label, scores.rb),
        "fnr_at_fpr_1pct": fnr1,
        "operating_threshold": op,
        "fpr_at_operating": float(np.mean(scores.rb[~real] > op)),
        "fnr_at_operating": float(np.mean(scores.rb[real] <= op)),
        "ood_flag_rate_0.99": float(np.mean(scores.ood > 0.99)),
    }


def compare_models(base: str | Path, new: str | Path, held_out: TrainingSet) -> dict[str, Any]:
    """Both models on the held-out candidates, and whether ``new`` should replace ``base``.

    ``new`` wins when its AUC is higher and its balanced error at its own operating point
    (the mean of FPR and FNR) is not higher: a better ranking that the chosen threshold
    turns into worse calls is not promoted.

    Raises
    ------
    ModelError
        If the held-out slice lacks a class (no AUC can be measured).
    """
    if len(np.unique(held_out.label)) < 2:
        raise ModelError(
            f"the held-out labels ({len(held_out)}) lack a class: label more candidates",
        )
    out: dict[str, Any] = {"n": len(held_out), "n_real": int(held_out.label.sum())}
    for name, path in (("base", base), ("new", new)):
        out[name] = _rates(RealBogusModel.load(path, threads=2), held_out)
    err = {
        k: (out[k]["fpr_at_operating"] + out[k]["fnr_at_operating"]) / 2 for k in ("base", "new")
    }
    out["better"] = bool(out["new"]["auc"] > out["base"]["auc"] and err["new"] <= err["base"])
    return out
