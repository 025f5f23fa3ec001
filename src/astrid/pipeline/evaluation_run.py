"""Injection–recovery on a pair of FITS files, with its products written to a folder.

`evaluate_files` is what ``astrid evaluate`` does, callable from Python: read the pair,
load the real/bogus model (and the U-Net when the config picks that detector), run
`astrid.evaluation.evaluate.evaluate_pair`, and write ``fakes.csv``, ``summary.json``,
the plots and ``report.html`` into the output folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astrid.evaluation.evaluate import EvaluationConfig, EvaluationResult, evaluate_pair
from astrid.evaluation.plots import plot_evaluation

__all__ = ["EvaluationFiles", "evaluate_files"]


@dataclass(frozen=True)
class EvaluationFiles:
    """The evaluation and where its products went.

    Attributes
    ----------
    result : EvaluationResult
        Fakes with their recovery and the summary figures.
    fakes : Path
        ``fakes.csv``.
    summary : Path
        ``summary.json`` (the summary plus the inputs and the seed).
    plots : dict of str to Path
        PNG plots by name.
    report : Path
        ``report.html``.
    """

    result: EvaluationResult
    fakes: Path
    summary: Path
    plots: dict[str, Path]
    report: Path


def evaluate_files(
    science: str | os.PathLike[str],
    reference: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: EvaluationConfig = EvaluationConfig(),
    *,
    score: bool = True,
    model_file: str | os.PathLike[str] | None = None,
) -> EvaluationFiles:
    """Inject fakes into `science`, difference against `reference`, write the products.

    Parameters
    ----------
    science, reference : path
        The FITS pair.
    out : path
        Output folder (created).
    config : EvaluationConfig
        Fakes and pipeline settings (``config.subtract.detector == "unet"`` loads the
        U-Net).
    score : bool
        Also report after the real/bogus cut.
    model_file : path, optional
        Real/bogus ONNX model (default: the shipped one).

    Returns
    -------
    EvaluationFiles

    Raises
    ------
    AstridError
        If an image or a model cannot be read (nothing is written then).
    """
    from astrid.detection.realbogus import RealBogusModel
    from astrid.observations.fits_reader import read_image
    from astrid.pipeline.frame import unet_detector
    from astrid.pipeline.report import write_evaluation_report

    science, reference, folder = Path(science), Path(reference), Path(out)
    model = RealBogusModel.load(model_file) if score else None
    unet = unet_detector() if config.subtract.detector == "unet" else None
    result = evaluate_pair(
        read_image(science), read_image(reference), config, model=model, detector_model=unet
    )
    folder.mkdir(parents=True, exist_ok=True)
    fakes = folder / "fakes.csv"
    result.fakes.write(fakes, format="ascii.csv", overwrite=True)
    summary: dict[str, Any] = {
        **result.summary,
        "science": str(science),
        "reference": str(reference),
        "seed": config.seed,
        "n_fakes_requested": config.n_fakes,
    }
    summary_path = folder / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=1, default=float))
    plots = plot_evaluation(result.fakes, folder, title=science.name)
    report = write_evaluation_report(
        folder / "report.html",
        summary=result.summary,
        plots=plots,
        title=f"AstrID evaluation: {science.name}",
    )
    return EvaluationFiles(
        result=result, fakes=fakes, summary=summary_path, plots=plots, report=report
    )
