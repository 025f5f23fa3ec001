"""The U-Net detector at run time: ONNX model, tiled inference, probability peaks (no PyTorch).

A second detector beside S_corr thresholding (`astrid.difference.peaks`): a small U-Net
(`astrid.training.unet`, trained by injection) turns the S_corr and D maps of one
difference into a per-pixel probability that a real astrophysical change is centred
there; its local maxima above a threshold are the candidates (`unet_peaks`).

Conventions: arrays are ``[y, x]``, positions ``(x, y)`` 0-based pixels of the science
image. The network input is three channels (`unet_inputs`, version
`UNET_NORMALISATION_VERSION`):

1. ``scorr``: S_corr in units of the 5σ threshold, clipped to ±10 (±50σ);
2. ``difference``: ``asinh(D / σ_D)``, with σ_D the robust (MAD) spread of D on unmasked
   pixels, so the net sees D's shape at any flux scale;
3. ``mask``: 1 where a pixel is masked or off the reference footprint (both maps are 0
   there).

`UNetDetector.probability` runs the net over a frame in overlapping tiles: each tile's
core is computed with a halo of context at least the network's receptive-field radius and
tiles start on multiples of its downsampling factor, so a tiled map equals the untiled
one (to float rounding) while memory stays bounded by the tile size.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from astrid.detection.onnx_file import open_session, read_card
from astrid.difference.peaks import find_peaks
from astrid.errors import ModelError

__all__ = [
    "UNET_CHANNELS",
    "UNET_NORMALISATION_VERSION",
    "UNetDetector",
    "shipped_unet_path",
    "unet_inputs",
    "unet_peaks",
]

#: Input channels of the network, in order.
UNET_CHANNELS = ("scorr", "difference", "mask")
#: Version of `unet_inputs`; a model records the version it was trained with.
UNET_NORMALISATION_VERSION = 1
#: The U-Net's default probability threshold when its card names none.
DEFAULT_THRESHOLD = 0.5
_INPUT = "maps"
_OUTPUT = "prob"
_SCORR_UNIT = 5.0
_SCORR_CLIP = 10.0


def shipped_unet_path() -> Path:
    """The U-Net model file shipped in the package."""
    return Path(str(resources.files("astrid.detection") / "models" / "unet.onnx"))


def _robust_sigma(values: np.ndarray) -> float:
    """1.4826 × MAD of finite values (1.0 if none or degenerate)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    if v.size > 1_000_000:  # a regular subsample is plenty for a spread
        v = v[:: v.size // 1_000_000]
    sigma = 1.4826 * float(np.median(np.abs(v - np.median(v))))
    return sigma if sigma > 0 else 1.0


def unet_inputs(score_corr: np.ndarray, difference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The network input ``(3, ny, nx)`` float32 of one difference (see the module docstring).

    Parameters
    ----------
    score_corr, difference : ndarray
        S_corr and D of the difference, same shape. NaN/inf pixels count as masked.
    mask : ndarray of bool
        Masked or off-footprint pixels.

    Returns
    -------
    ndarray
        Channels `UNET_CHANNELS`.
    """
    s = np.asarray(score_corr, np.float32)
    d = np.asarray(difference, np.float32)
    m = np.asarray(mask, bool)
    if s.shape != d.shape or s.shape != m.shape or s.ndim != 2:
        raise ValueError(
            f"unet_inputs: S_corr {s.shape}, D {d.shape} and mask {m.shape} must be one 2-D shape"
        )
    bad = m | ~np.isfinite(s) | ~np.isfinite(d)
    out = np.empty((3, *s.shape), np.float32)
    out[0] = np.clip(s / _SCORR_UNIT, -_SCORR_CLIP, _SCORR_CLIP)
    out[1] = np.arcsinh(d / np.float32(_robust_sigma(d[~bad])))
    out[0][bad] = 0.0
    out[1][bad] = 0.0
    out[2] = bad
    return out


class UNetDetector:
    """A loaded, validated U-Net model.

    Attributes
    ----------
    path : Path
    card : dict
        The model card from the file (recipe, data digest, seeds, metrics, threshold).
    sha256 : str
        Of the file's bytes.
    downsample : int
        The network's total downsampling; tiles start on its multiples.
    receptive_radius : int
        Pixels of context a pixel's output depends on, on each side.
    threshold : float
        The card's operating threshold (`DEFAULT_THRESHOLD` if it names none).
    """

    def __init__(self, path: Path, session: Any, card: dict[str, Any], sha256: str) -> None:
        self.path = path
        self._session = session
        self.card = card
        self.sha256 = sha256
        self.downsample = int(card["downsample"])
        self.receptive_radius = int(card["receptive_radius"])
        self.threshold = float(card.get("threshold") or DEFAULT_THRESHOLD)

    @property
    def version(self) -> str:
        """The model's version string (from its card, else the file hash)."""
        return str(self.card.get("version", self.sha256[:12]))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, threads: int = 0) -> UNetDetector:
        """Open and validate a U-Net file (default: the shipped one).

        Parameters
        ----------
        path : path, optional
            An ONNX file written by ``astrid train-unet`` (`astrid.training.train_unet_from_set`).
        threads : int
            onnxruntime intra-op threads (0: its default).

        Raises
        ------
        ModelError
            Missing, unreadable, not ONNX, wrong inputs/outputs, no or foreign card.
        """
        file = shipped_unet_path() if path is None else Path(path)
        session, sha256 = open_session(file, threads=threads, what="U-Net model")
        inputs = session.get_inputs()
        names = [i.name for i in inputs]
        if names != [_INPUT]:
            raise ModelError(
                f"{file}: model inputs are {names}, expected [{_INPUT!r}] (is this a U-Net?)",
                path=str(file),
            )
        shape = list(inputs[0].shape)
        if len(shape) != 4 or shape[1] != len(UNET_CHANNELS):
            raise ModelError(
                f"{file}: input {_INPUT!r} has shape {shape}, expected "
                f"(n, {len(UNET_CHANNELS)}, height, width) with channels {list(UNET_CHANNELS)}",
                path=str(file),
                shape=shape,
            )
        outputs = [o.name for o in session.get_outputs()]
        if outputs != [_OUTPUT]:
            raise ModelError(
                f"{file}: model outputs are {outputs}, expected [{_OUTPUT!r}]", path=str(file)
            )
        card = read_card(file, session)
        try:
            kind = card["kind"]
            version = card["inputs"]["normalisation_version"]
            channels = tuple(card["inputs"]["channels"])
            int(card["downsample"])
            int(card["receptive_radius"])
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{file}: model card unreadable ({e!r})", path=str(file)) from e
        if kind != "unet":
            raise ModelError(f"{file}: model card is for a {kind!r}, not a U-Net", path=str(file))
        if version != UNET_NORMALISATION_VERSION or channels != UNET_CHANNELS:
            raise ModelError(
                f"{file}: model expects inputs v{version} {channels}; this AstrID makes "
                f"v{UNET_NORMALISATION_VERSION} {UNET_CHANNELS}",
                path=str(file),
            )
        return cls(file, session, card, sha256)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Probability ``(ny, nx)`` of one input block ``(3, ny, nx)`` in a single pass.

        Both sides must be multiples of `downsample`.
        """
        feed = {_INPUT: np.ascontiguousarray(inputs[None], np.float32)}
        return np.asarray(self._session.run([_OUTPUT], feed)[0][0, 0], np.float32)

    def probability(
        self,
        score_corr: np.ndarray,
        difference: np.ndarray,
        mask: np.ndarray,
        *,
        tile: int = 1024,
        halo: int | None = None,
    ) -> np.ndarray:
        """Per-pixel probability of a real change, over a whole frame in tiles.

        Parameters
        ----------
        score_corr, difference, mask : ndarray
            S_corr, D and the masked/off-footprint pixels of one difference.
        tile : int
            Core size of a tile (rounded up to a multiple of `downsample`); memory grows
            with ``(tile + 2 halo)²``.
        halo : int, optional
            Context around each core (default: the receptive radius, rounded up to a
            multiple of `downsample`). Smaller halos change values near tile seams.

        Returns
        -------
        ndarray
            float32, the frame's shape; 0 on masked pixels.
        """
        x = unet_inputs(score_corr, difference, mask)
        ny, nx = x.shape[1:]
        step = self.downsample
        halo = self.receptive_radius if halo is None else int(halo)
        halo = -(-halo // step) * step
        tile = max(step, -(-int(tile) // step) * step)
        # Pad to multiples of the downsampling with masked pixels, as off-footprint sky.
        py, px = -(-ny // step) * step, -(-nx // step) * step
        padded = np.zeros((3, py, px), np.float32)
        padded[:, :ny, :nx] = x
        padded[2, ny:, :] = 1.0
        padded[2, :, nx:] = 1.0
        out = np.zeros((py, px), np.float32)
        for y0 in range(0, py, tile):
            for x0 in range(0, px, tile):
                y1, x1 = min(y0 + tile, py), min(x0 + tile, px)
                ya, xa = max(0, y0 - halo), max(0, x0 - halo)
                yb, xb = min(py, y1 + halo), min(px, x1 + halo)
                prob = self.run(padded[:, ya:yb, xa:xb])
                out[y0:y1, x0:x1] = prob[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        out = out[:ny, :nx]
        out[x[2] > 0] = 0.0
        return out


def unet_peaks(
    prob: np.ndarray,
    mask: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    merge_radius: float = 4.0,
    edge: int = 2,
) -> Table:
    """Candidates of a U-Net probability map: its local maxima ≥ `threshold`.

    Parameters
    ----------
    prob : ndarray
        The probability map (`UNetDetector.probability`).
    mask : ndarray of bool, optional
        Pixels where no candidate may be (masked, off footprint).
    threshold : float
        Minimum probability.
    merge_radius : float
        Maxima closer than this (pixels) to a higher one are folded into it (the net's
        blobs are a few pixels wide whatever the PSF).
    edge : int
        Maxima this close to the border are dropped.

    Returns
    -------
    Table
        ``x, y`` (int pixels) and ``prob``, by decreasing probability.
    """
    valid = None if mask is None else ~np.asarray(mask, bool)
    peaks = find_peaks(
        np.asarray(prob, np.float32),
        threshold=float(threshold),
        merge_radius=merge_radius,
        edge=edge,
        valid=valid,
    )
    # find_peaks looks at both signs; a probability has no negative peaks above 0.
    keep = peaks.sign > 0
    return Table(
        {
            "x": peaks.x[keep],
            "y": peaks.y[keep],
            "prob": peaks.scorr[keep].astype(np.float32),
        }
    )
