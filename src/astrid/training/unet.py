"""The U-Net second detector: model, training by injection, ONNX export (PyTorch; ``train`` extra).

A small U-Net (two poolings; ``w, 2w, 4w`` channels) over the three input channels of
`astrid.detection.unet_detect.unet_inputs` (S_corr, asinh D, mask) that outputs, per
pixel, the probability that a real astrophysical change is centred within
``TARGET_RADIUS`` px. Run time needs only onnxruntime (`UNetDetector`).

Training data are the S_corr/D maps that `astrid.training.training_set` keeps for each
simulated field (``map_*`` arrays), with the truth positions of every real change
(transients, on galaxies, next to stars, variables):

- **target**: 1 within ``TARGET_RADIUS`` of a real change of true SNR ≥ ``min_snr``;
  pixels within ``IGNORE_RADIUS`` of a fainter real change get zero weight. Below SNR ≈ 4
  a source is at or under the noise; teaching the net that such a pixel is "real" trains
  it to fire on noise bumps (false candidates everywhere), teaching it that it is "not
  real" is wrong. So the faint ones are left out of the loss, and the net learns what is
  detectable from the data rather than from a threshold.
- **samples**: random ``crop``² windows of the train fields, half of them centred
  (± crop/3) on a real change so positives are not swamped, in one of the eight
  rotations/flips; masked pixels count like any other (the mask channel tells the net).
- **loss**: binary cross-entropy with a positive-pixel weight (positives are ~1 % of the
  pixels of a crop). Adam, cosine learning rate, early stopping on the loss of fixed
  crops of the val fields.

``astrid train-unet --set DIR --out FILE`` (`train_unet_from_set`) trains and writes the ONNX file
with its model card (data digest, seeds, recipe, training metrics) in the ``astrid``
metadata entry; ``benchmarks/unet_vs_scorr.py --stamp`` adds the measured detection
metrics and the operating threshold.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from astrid.detection.unet_detect import UNET_CHANNELS, UNET_NORMALISATION_VERSION, unet_inputs
from astrid.errors import ConfigurationError
from astrid.training.export import export_onnx

__all__ = [
    "IGNORE_RADIUS",
    "TARGET_RADIUS",
    "TrainedUNet",
    "UNet",
    "UNetTrainConfig",
    "export_unet",
    "load_fields",
    "target_maps",
    "train_unet",
    "train_unet_from_set",
    "unet_card",
]

log = logging.getLogger(__name__)

TARGET_RADIUS = 2.0
IGNORE_RADIUS = 3.0


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Maps ``(n, 3, h, w)`` → logits ``(n, 1, h, w)``; ``h, w`` multiples of `downsample`.

    Parameters
    ----------
    width : int
        Channels of the first level (then ``2 width``, ``4 width``).
    """

    downsample = 4
    #: Receptive-field radius (px): 2 convs per level at strides 1, 2, 4, 2, 1 plus pooling.
    receptive_radius = 24

    def __init__(self, width: int = 16, in_channels: int = len(UNET_CHANNELS)) -> None:
        super().__init__()
        w = width
        self.enc1 = _double_conv(in_channels, w)
        self.enc2 = _double_conv(w, 2 * w)
        self.mid = _double_conv(2 * w, 4 * w)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = _double_conv(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = _double_conv(2 * w, w)
        self.head = nn.Conv2d(w, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.head(d1)


class _Exported(nn.Module):
    """The network with its sigmoid, as written to ONNX: ``maps`` → ``prob``."""

    def __init__(self, net: UNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(maps))


# -- data ---------------------------------------------------------------------------------


def target_maps(
    shape: tuple[int, int], xy: np.ndarray, snr: np.ndarray, min_snr: float
) -> tuple[np.ndarray, np.ndarray]:
    """Target (uint8, 1 near a real change of SNR ≥ `min_snr`) and ignore (bool) maps."""
    target = np.zeros(shape, np.uint8)
    ignore = np.zeros(shape, bool)
    r = int(math.ceil(IGNORE_RADIUS))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    ny, nx = shape
    for (x, y), s in zip(np.asarray(xy, float), np.asarray(snr, float), strict=True):
        cx, cy = int(round(x)), int(round(y))
        yy, xx = cy + oy, cx + ox
        d2 = (xx - x) ** 2 + (yy - y) ** 2
        inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
        if s >= min_snr:
            sel = inside & (d2 <= TARGET_RADIUS**2)
            target[yy[sel], xx[sel]] = 1
        else:
            sel = inside & (d2 <= IGNORE_RADIUS**2)
            ignore[yy[sel], xx[sel]] = True
    ignore &= target == 0
    return target, ignore


@dataclass(frozen=True, eq=False)
class _Field:
    name: str
    inputs: np.ndarray  # (3, ny, nx) float16
    target: np.ndarray  # (ny, nx) uint8
    ignore: np.ndarray  # (ny, nx) bool
    positives: np.ndarray  # (k, 2) x, y of SNR ≥ min_snr changes


def load_fields(files: list[Path], min_snr: float) -> list[Any]:
    """Inputs, targets and positive positions of field files with ``map_*`` arrays."""
    out: list[Any] = []
    for path in files:
        with np.load(path) as data:
            if "map_score_corr" not in data.files:
                continue
            x = unet_inputs(data["map_score_corr"], data["map_difference"], data["map_mask"])
            xy, snr = data["map_truth_xy"], data["map_truth_snr"]
        target, ignore = target_maps(x.shape[1:], xy, snr, min_snr)
        out.append(_Field(path.stem, x.astype(np.float16), target, ignore, xy[snr >= min_snr]))
    return out


def _crops(
    fields: list[Any], n: int, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` random crops (half centred near a positive), each in a random dihedral pose."""
    xs = np.empty((n, len(UNET_CHANNELS), size, size), np.float32)
    ts = np.empty((n, 1, size, size), np.float32)
    ws = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        f = fields[int(rng.integers(len(fields)))]
        ny, nx = f.target.shape
        if len(f.positives) and rng.uniform() < 0.5:
            cx, cy = f.positives[int(rng.integers(len(f.positives)))]
            jitter = rng.uniform(-size / 3, size / 3, 2)
            x0 = int(np.clip(cx + jitter[0] - size / 2, 0, nx - size))
            y0 = int(np.clip(cy + jitter[1] - size / 2, 0, ny - size))
        else:
            x0, y0 = int(rng.integers(0, nx - size + 1)), int(rng.integers(0, ny - size + 1))
        sl = (slice(y0, y0 + size), slice(x0, x0 + size))
        k = int(rng.integers(8))
        xs[i] = _dihedral(f.inputs[(slice(None), *sl)], k)
        ts[i, 0] = _dihedral(f.target[sl], k)
        ws[i, 0] = ~_dihedral(f.ignore[sl], k)
    return xs, ts, ws


def _dihedral(a: np.ndarray, k: int) -> np.ndarray:
    """Rotation by ``k % 4`` quarter turns of the last two axes, flipped if ``k ≥ 4``."""
    out = np.rot90(a, k % 4, axes=(-2, -1))
    return out[..., ::-1] if k >= 4 else out


# -- training -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UNetTrainConfig:
    """How to train.

    Attributes
    ----------
    width : int
        U-Net first-level channels.
    crop, batch : int
        Training window side and crops per step.
    steps : int
        Most optimiser steps.
    lr : float
        Peak learning rate (Adam, cosine decay).
    pos_weight : float
        BCE weight of positive pixels.
    min_snr : float
        Real changes at least this bright are targets; fainter ones are ignored.
    eval_every, patience : int
        Val-loss evaluation period (steps) and evaluations without improvement to stop.
    val_crops : int
        Fixed val crops for early stopping.
    seed : int
    threads : int
        torch intra-op threads.
    """

    width: int = 16
    crop: int = 128
    batch: int = 8
    steps: int = 1200
    lr: float = 3e-3
    pos_weight: float = 10.0
    min_snr: float = 4.0
    eval_every: int = 100
    patience: int = 4
    val_crops: int = 64
    seed: int = 0
    threads: int = 1


@dataclass(frozen=True, eq=False)
class TrainedUNet:
    """A trained network with its history."""

    net: UNet
    config: UNetTrainConfig
    best_step: int
    best_val_loss: float
    history: list[dict[str, float]]
    seconds: float


def _loss(net: nn.Module, x: np.ndarray, t: np.ndarray, w: np.ndarray, pos: float) -> torch.Tensor:
    logits = net(torch.from_numpy(x))
    target = torch.from_numpy(t)
    weight = torch.from_numpy(w) * (1.0 + (pos - 1.0) * target)
    per_pixel = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (per_pixel * weight).sum() / weight.sum().clamp(min=1.0)


def train_unet(train: list[Any], val: list[Any], config: UNetTrainConfig) -> TrainedUNet:
    """Train on `train` fields, early-stop on fixed crops of `val` fields (see `load_fields`)."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    val_x, val_t, val_w = _crops(val, config.val_crops, config.crop, np.random.default_rng(12345))
    net = UNet(config.width)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.steps)
    best = (math.inf, 0, copy.deepcopy(net.state_dict()))
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    running = 0.0
    stale = 0
    for step in range(1, config.steps + 1):
        net.train()
        x, t, w = _crops(train, config.batch, config.crop, rng)
        loss = _loss(net, x, t, w, config.pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running += float(loss.detach())
        if step % config.eval_every == 0 or step == config.steps:
            net.eval()
            with torch.no_grad():
                vl = float(
                    sum(
                        _loss(
                            net,
                            val_x[i : i + 16],
                            val_t[i : i + 16],
                            val_w[i : i + 16],
                            config.pos_weight,
                        )
                        * len(val_x[i : i + 16])
                        for i in range(0, len(val_x), 16)
                    )
                    / len(val_x)
                )
            n_since = step - (history[-1]["step"] if history else 0)
            history.append(
                {"step": step, "train_loss": running / n_since, "val_loss": vl,
                 "seconds": time.perf_counter() - start}
            )  # fmt: skip
            log.info("step %d train %.4f val %.4f", step, running / n_since, vl)
            running = 0.0
            if vl < best[0]:
                best = (vl, step, copy.deepcopy(net.state_dict()))
                stale = 0
            else:
                stale += 1
                if stale >= config.patience:
                    break
    net.load_state_dict(best[2])
    net.eval()
    return TrainedUNet(net, config, best[1], best[0], history, time.perf_counter() - start)


def export_unet(trained: TrainedUNet, path: str | Path, card: dict[str, Any]) -> Path:
    """Write the network (with sigmoid) and its card to one ONNX file; returns the path."""
    return export_onnx(
        _Exported(copy.deepcopy(trained.net).eval()),
        (torch.zeros(1, len(UNET_CHANNELS), 64, 64),),
        path,
        card,
        input_names=("maps",),
        output_names=("prob",),
        dynamic_axes={
            "maps": {0: "n", 2: "height", 3: "width"},
            "prob": {0: "n", 2: "height", 3: "width"},
        },
    )


def unet_card(
    trained: TrainedUNet, digest: str, train_names: list[str], val_names: list[str]
) -> dict[str, Any]:
    """The card written into the file: recipe, data, seeds, training metrics."""
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    n_params = sum(p.numel() for p in trained.net.parameters())
    return {
        "name": "astrid-unet",
        "kind": "unet",
        "version": f"unet-{created:%Y%m%d%H%M%S}",
        "created": created.isoformat(),
        "inputs": {
            "normalisation_version": UNET_NORMALISATION_VERSION,
            "channels": list(UNET_CHANNELS),
        },
        "downsample": UNet.downsample,
        "receptive_radius": UNet.receptive_radius,
        "parameters": int(n_params),
        "data": {
            "training_set_digest": digest,
            "train_fields": train_names,
            "val_fields": val_names,
            "target": {
                "radius_px": TARGET_RADIUS,
                "min_snr": trained.config.min_snr,
                "ignore_radius_px": IGNORE_RADIUS,
            },
        },
        "recipe": asdict(trained.config),
        "training": {
            "best_step": trained.best_step,
            "best_val_loss": round(trained.best_val_loss, 5),
            "history": [{k: round(v, 5) for k, v in h.items()} for h in trained.history],
            "seconds": round(trained.seconds, 1),
            "torch": torch.__version__,
            "machine": "CPU",
        },
        "threshold": None,
        "metrics": {},
    }


def _field_files(directory: Path, split: str) -> list[Path]:
    manifest_path = directory / "manifest.json"
    if manifest_path.is_file():
        units = json.loads(manifest_path.read_text())["units"]
        return [
            directory / "fields" / f"{u['name']}.npz"
            for u in units
            if u["kind"] == "simulated" and u["split"] == split
        ]
    return sorted((directory / "fields").glob(f"sim-{split}-*.npz"))


def train_unet_from_set(
    directory: str | Path, out: str | Path, config: UNetTrainConfig = UNetTrainConfig()
) -> tuple[Path, TrainedUNet]:
    """Train on the maps of a training set's train fields, early-stop on its val fields, export.

    Parameters
    ----------
    directory : path
        A training set folder built with ``keep_maps=True`` (`build_training_set`).
    out : path
        The ONNX file to write, with its model card (`unet_card`).
    config : UNetTrainConfig
        The recipe.

    Returns
    -------
    (Path, TrainedUNet)
        The written file and the trained network with its history.

    Raises
    ------
    ConfigurationError
        If the set has no train or no val fields with S_corr/D maps.
    """
    directory = Path(directory)
    train = load_fields(_field_files(directory, "train"), config.min_snr)
    val = load_fields(_field_files(directory, "val"), config.min_snr)
    if not train or not val:
        raise ConfigurationError(
            f"{directory}: no train or no val fields with S_corr/D maps "
            f"(found {len(train)} train, {len(val)} val); build the set with keep_maps=True",
            train=len(train),
            val=len(val),
        )
    manifest = directory / "manifest.json"
    digest = json.loads(manifest.read_text())["digest"] if manifest.is_file() else directory.name
    log.info("%d train, %d val fields; %s", len(train), len(val), config)
    trained = train_unet(train, val, config)
    card = unet_card(trained, digest, [f.name for f in train], [f.name for f in val])
    path = export_unet(trained, out, card)
    log.info("wrote %s (best step %d, val loss %.4f, %.0f s)", path, trained.best_step,
             trained.best_val_loss, trained.seconds)  # fmt: skip
    return path, trained
