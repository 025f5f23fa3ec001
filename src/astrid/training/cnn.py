"""The real/bogus network (PyTorch; the ``train`` extra): a small CNN in the spirit of braai.

Input: the four normalised cutout channels (`astrid.detection.features.INPUT_CHANNELS`,
63×63) and the scalar features (`SCALAR_FEATURES`). The network looks at two scales, as
eight 31×31 channels: the central 31×31 pixels at full resolution (the PSF-scale shape of
the candidate) and the whole 63×63 cutout averaged 2×2 (its surroundings: a trail, a
column, a bright star). Four 3×3 convolution blocks (batch norm, ReLU, 2×2 max pooling
after the first three) make a 64-channel 3×3 map; global average and max pooling make a
128-vector, the standardised scalars join it, and one hidden layer gives the 64-d
penultimate features on which the two-class head and the Mahalanobis distance work.
About 70 k parameters and 7 MFLOP per candidate: a CPU trains it in minutes (the
single-scale 63×63 version costs 3.5× more for the same receptive field).

`ExportedModel` is what goes into the ONNX file: the network with its temperature and
the Mahalanobis statistics (class means, shared precision matrix) baked in, so the
runtime needs no PyTorch and no side files.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ExportedModel",
    "FeatureHead",
    "RealBogusNet",
    "dihedral",
    "partial_stamps",
    "two_scales",
]


def _block(c_in: int, c_out: int, *, pool: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def two_scales(cutouts: torch.Tensor) -> torch.Tensor:
    """``(n, c, 63, 63)`` → ``(n, 2c, 31, 31)``: the centre at full resolution, all at half."""
    size = cutouts.shape[-1]
    half = size // 2
    lo = half - half // 2
    centre = cutouts[:, :, lo : lo + half, lo : lo + half]
    coarse = F.avg_pool2d(cutouts[:, :, : 2 * half, : 2 * half], 2)
    return torch.cat([centre, coarse], dim=1)


class FeatureHead(nn.Module):
    """Image features + standardised scalars → penultimate features → two logits.

    Shared by the CNN and the ViT; the scalars' training mean and spread are buffers.
    """

    scalar_mean: torch.Tensor
    scalar_std: torch.Tensor

    def __init__(
        self,
        n_image: int,
        n_scalars: int,
        scalar_mean: np.ndarray,
        scalar_std: np.ndarray,
        feature_dim: int = 64,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if len(scalar_mean) != n_scalars or len(scalar_std) != n_scalars:
            raise ValueError(f"scalar mean/std must have {n_scalars} entries")
        std = np.where(np.asarray(scalar_std) > 1e-6, scalar_std, 1.0)
        self.register_buffer("scalar_mean", torch.as_tensor(scalar_mean, dtype=torch.float32))
        self.register_buffer("scalar_std", torch.as_tensor(std, dtype=torch.float32))
        self.hidden = nn.Sequential(
            nn.Linear(n_image + n_scalars, feature_dim), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, 2)

    def forward(
        self, image: torch.Tensor, scalars: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = (scalars - self.scalar_mean) / self.scalar_std
        features = self.hidden(torch.cat([image, z], dim=1))
        return self.head(self.dropout(features)), features


class RealBogusNet(nn.Module):
    """Cutouts ``(n, 4, s, s)`` and scalars ``(n, k)`` → logits ``(n, 2)``, features ``(n, d)``.

    Parameters
    ----------
    n_scalars : int
        Scalar features per candidate.
    scalar_mean, scalar_std : array
        Standardisation of the scalars (from the training split), kept as buffers.
    width : int
        Channels of the first block (doubling to ``4 * width``).
    feature_dim : int
        Size of the penultimate features.
    dropout : float
        Dropout before the head.
    """

    def __init__(
        self,
        n_scalars: int,
        scalar_mean: np.ndarray,
        scalar_std: np.ndarray,
        *,
        in_channels: int = 4,
        width: int = 16,
        feature_dim: int = 64,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _block(2 * in_channels, width),
            _block(width, 2 * width),
            _block(2 * width, 4 * width),
            _block(4 * width, 4 * width, pool=False),
        )
        self.top = FeatureHead(8 * width, n_scalars, scalar_mean, scalar_std, feature_dim, dropout)

    def forward(
        self, cutouts: torch.Tensor, scalars: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.conv(two_scales(cutouts))
        pooled = torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], dim=1)
        return self.top(pooled, scalars)


class ExportedModel(nn.Module):
    """The network plus calibration, as exported: outputs logits, features, mahalanobis.

    ``net`` is any module mapping (cutouts, scalars) to (logits, features): the CNN here or
    `astrid.training.vit.RealBogusViT`.

    ``logits`` are divided by the fitted temperature; ``mahalanobis`` is the smallest
    squared Mahalanobis distance of the features to a class mean under the shared
    (Ledoit-Wolf shrunk) covariance.
    """

    inv_temperature: torch.Tensor
    class_means: torch.Tensor
    precision: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        temperature: float,
        class_means: np.ndarray,
        precision: np.ndarray,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature))
        self.register_buffer("class_means", torch.as_tensor(class_means, dtype=torch.float32))
        self.register_buffer("precision", torch.as_tensor(precision, dtype=torch.float32))

    def forward(
        self, cutouts: torch.Tensor, scalars: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, features = self.net(cutouts, scalars)
        diff = features.unsqueeze(1) - self.class_means.unsqueeze(0)  # (n, classes, d)
        d2 = ((diff @ self.precision) * diff).sum(dim=2)
        return logits * self.inv_temperature, features, d2.amin(dim=1)


def dihedral(batch: torch.Tensor, k: int) -> torch.Tensor:
    """One of the eight rotations/flips (``k`` in 0..7) of a batch of square images."""
    out = torch.rot90(batch, k % 4, dims=(2, 3))
    return torch.flip(out, dims=(3,)) if k >= 4 else out


def partial_stamps(batch: torch.Tensor, rng: np.random.Generator, fraction: float) -> torch.Tensor:
    """Stamps as alert streams deliver some of them: smaller and padded, or cut at an edge.

    A `fraction` of the (normalised) batch loses pixels, which become what
    `astrid.detection.features.normalise_cutouts` makes of missing ones (0 in the data
    channels, 1 in the last, mask, channel): half keep only a centred square of 15 to
    54 px (a 30×30 stamp padded to 63×63), half lose 4 to 27 rows or columns from one side
    (a chip edge). The candidate at the centre is always kept.
    """
    n, channels, size, _ = batch.shape
    chosen = np.flatnonzero(rng.random(n) < fraction)
    if len(chosen) == 0:
        return batch
    out = batch.clone()
    for i in chosen:
        missing = torch.ones(size, size, dtype=torch.bool)
        if rng.random() < 0.5:
            side = int(rng.integers(15, size - 8))
            lo = (size - side) // 2
            missing[lo : lo + side, lo : lo + side] = False
        else:
            missing[:] = False
            depth = int(rng.integers(4, size // 2 - 4))
            edge = int(rng.integers(0, 4))
            if edge == 0:
                missing[:depth, :] = True
            elif edge == 1:
                missing[size - depth :, :] = True
            elif edge == 2:
                missing[:, :depth] = True
            else:
                missing[:, size - depth :] = True
        out[i, : channels - 1, missing] = 0.0
        out[i, channels - 1, missing] = 1.0
    return out
