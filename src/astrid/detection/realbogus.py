"""Score candidates with a real/bogus ONNX model (onnxruntime, CPU; no PyTorch).

`RealBogusModel.load` checks everything that could make scores wrong before any is
produced: the file exists and is ONNX, its inputs are ``cutouts (n, 4, 63, 63)`` and
``scalars (n, 9)``, its outputs are ``logits``, ``features``, ``mahalanobis``, and its model
card was written for this code's input normalisation and carries the OOD calibration.
Any failure is a `ModelError` naming the file and the problem.

`RealBogusModel.score` takes the candidate table (or catalog rows) and raw cutout
triplets as the difference stage makes them and returns, per candidate, ``rb`` (the
temperature-calibrated probability of being real), ``ood`` (the calibrated ensemble;
``ood > t`` for a fraction ``≈ 1 − t`` of in-distribution candidates) and its three
components as percentiles (`astrid.detection.ood`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from astrid.detection.features import (
    INPUT_CHANNELS,
    NORMALISATION_VERSION,
    SCALAR_FEATURES,
    normalise_cutouts,
    scalar_features,
)
from astrid.detection.onnx_file import open_session, read_card
from astrid.detection.ood import OodCalibration, ood_scores, softmax
from astrid.errors import ModelError

__all__ = ["SCORE_COLUMNS", "RealBogusModel", "Scores", "shipped_model_path"]

SCORE_COLUMNS = ("rb", "ood", "ood_msp", "ood_energy", "ood_mahalanobis")
_OUTPUTS = ("logits", "features", "mahalanobis")


def shipped_model_path() -> Path:
    """The model file shipped in the package."""
    return Path(str(resources.files("astrid.detection") / "models" / "realbogus.onnx"))


@dataclass(frozen=True)
class Scores:
    """Per-candidate scores (arrays of equal length), keyed as `SCORE_COLUMNS`."""

    rb: np.ndarray
    ood: np.ndarray
    ood_msp: np.ndarray
    ood_energy: np.ndarray
    ood_mahalanobis: np.ndarray

    def __len__(self) -> int:
        return len(self.rb)

    def columns(self) -> dict[str, np.ndarray]:
        """The scores by column name."""
        return {name: getattr(self, name) for name in SCORE_COLUMNS}


def _check_dims(path: Path, name: str, shape: list[Any], expected: tuple[int, ...]) -> None:
    fixed = tuple(shape[1:])
    if len(shape) != len(expected) + 1 or fixed != expected:
        raise ModelError(
            f"{path}: input {name!r} has shape {shape}, expected (n, "
            f"{', '.join(map(str, expected))}) for this version of AstrID",
            path=str(path),
        )


class RealBogusModel:
    """A loaded, validated real/bogus model.

    Attributes
    ----------
    path : Path
    card : dict
        The model card from the file (name, version, data, metrics, ...).
    sha256 : str
        Of the file's bytes.
    """

    def __init__(
        self, path: Path, session: Any, card: dict[str, Any], sha256: str, threads: int = 0
    ) -> None:
        self.path = path
        #: Threads normalising cutouts (0: one per CPU), as onnxruntime's intra-op threads.
        self.threads = threads
        self._session = session
        self.card = card
        self.sha256 = sha256
        self.calibration = OodCalibration.from_json(card["calibration"])
        self.cutout_size = int(card["inputs"]["cutouts"]["size"])

    @property
    def version(self) -> str:
        """The model's version string (from its card)."""
        return str(self.card.get("version", self.sha256[:12]))

    @cached_property
    def public_card(self) -> dict[str, Any]:
        """The card without the calibration tables (for catalogs and reports)."""
        return {k: v for k, v in self.card.items() if k != "calibration"}

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, threads: int = 0
    ) -> RealBogusModel:
        """Open and validate a model file (default: the shipped one).

        Parameters
        ----------
        path : path, optional
            An ONNX file written by ``astrid train``.
        threads : int
            onnxruntime intra-op threads (0: its default).

        Raises
        ------
        ModelError
            Missing, unreadable, not ONNX, wrong inputs/outputs, no or foreign card.
        """
        file = shipped_model_path() if path is None else Path(path)
        session, sha256 = open_session(file, threads=threads)
        inputs = {i.name: i.shape for i in session.get_inputs()}
        if set(inputs) != {"cutouts", "scalars"}:
            raise ModelError(
                f"{file}: model inputs are {sorted(inputs)}, expected ['cutouts', 'scalars']",
                path=str(file),
            )
        outputs = [o.name for o in session.get_outputs()]
        if tuple(outputs) != _OUTPUTS:
            raise ModelError(
                f"{file}: model outputs are {outputs}, expected {list(_OUTPUTS)}", path=str(file)
            )
        card = read_card(file, session)
        try:
            size = int(card["inputs"]["cutouts"]["size"])
            version = card["inputs"]["normalisation_version"]
            channels = tuple(card["inputs"]["cutouts"]["channels"])
            scalars = tuple(card["inputs"]["scalars"])
            card["calibration"]
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{file}: model card unreadable ({e!r})", path=str(file)) from e
        if (
            version != NORMALISATION_VERSION
            or channels != INPUT_CHANNELS
            or scalars != SCALAR_FEATURES
        ):
            raise ModelError(
                f"{file}: model expects inputs v{version} {channels} + {scalars}; this "
                f"AstrID makes v{NORMALISATION_VERSION} {INPUT_CHANNELS} + {SCALAR_FEATURES}",
                path=str(file),
            )
        _check_dims(file, "cutouts", inputs["cutouts"], (len(INPUT_CHANNELS), size, size))
        _check_dims(file, "scalars", inputs["scalars"], (len(SCALAR_FEATURES),))
        try:
            return cls(file, session, card, sha256, threads)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{file}: model card incomplete ({e!r})", path=str(file)) from e

    def run(
        self, inputs: np.ndarray, scalars: np.ndarray, batch: int = 512
    ) -> dict[str, np.ndarray]:
        """Raw outputs for normalised inputs (``(n, 4, s, s)``, ``(n, 9)`` float32)."""
        parts: list[list[np.ndarray]] = []
        for start in range(0, len(inputs), batch):
            feed = {
                "cutouts": np.ascontiguousarray(inputs[start : start + batch], np.float32),
                "scalars": np.ascontiguousarray(scalars[start : start + batch], np.float32),
            }
            parts.append(self._session.run(list(_OUTPUTS), feed))
        if not parts:
            return {
                "logits": np.zeros((0, 2)),
                "features": np.zeros((0, 0)),
                "mahalanobis": np.zeros(0),
            }
        return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(_OUTPUTS)}

    def score_inputs(self, inputs: np.ndarray, scalars: np.ndarray) -> Scores:
        """Scores of normalised inputs."""
        out = self.run(inputs, scalars)
        logits = out["logits"].astype(np.float64)
        ood = ood_scores(logits, out["mahalanobis"], self.calibration)
        return Scores(rb=softmax(logits)[:, 1], **ood)

    def score(self, candidates: Any, cutouts: np.ndarray) -> Scores:
        """Scores of candidates (astropy Table, column mapping or row dicts) and their triplets.

        Raises
        ------
        ModelError
            If the cutouts are not ``(n, 3, s, s)`` with the model's size and one per
            candidate.
        """
        cutouts = np.asarray(cutouts)
        scalars = scalar_features(candidates)
        if cutouts.ndim != 4 or cutouts.shape[1:] != (3, self.cutout_size, self.cutout_size):
            raise ModelError(
                f"{self.path}: cutouts of shape {cutouts.shape}, the model needs "
                f"(n, 3, {self.cutout_size}, {self.cutout_size})",
                path=str(self.path),
            )
        if len(cutouts) != len(scalars):
            raise ModelError(
                f"{len(cutouts)} cutout triplets for {len(scalars)} candidates",
                path=str(self.path),
            )
        threads = self.threads or os.cpu_count() or 1
        return self.score_inputs(normalise_cutouts(cutouts, threads=threads), scalars)
