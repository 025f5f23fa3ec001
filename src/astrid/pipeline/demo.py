"""The demo: simulate a field with known transients, run the pipeline on it, score, report.

`run_demo` is what ``astrid demo`` does, callable from Python: it writes the simulated pair
and its truth table to ``OUT/inputs``, runs the `Pipeline` on it (products in ``OUT``),
scores the candidates against the truth and writes ``OUT/report.html`` and
``OUT/score.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.table import Table

from astrid.evaluation.scoring import match_to_truth
from astrid.pipeline.report import write_report
from astrid.pipeline.runner import FrameReport, Pipeline, RunReport
from astrid.simulation import SimulationConfig, simulate_pair

__all__ = ["DemoResult", "demo_sky", "run_demo"]


def demo_sky(size: int) -> SimulationConfig:
    """The demo's field: a ``size``×``size`` sky, source counts scaled from 1024 px."""
    scale = (size / 1024) ** 2
    return SimulationConfig(
        shape=(size, size),
        n_stars=max(60, int(375 * scale)),
        n_galaxies=max(10, int(75 * scale)),
        n_transients=max(10, int(100 * scale)),
        n_transients_on_galaxies=max(2, int(20 * scale)),
    )


@dataclass(frozen=True)
class DemoResult:
    """What the demo wrote and measured.

    Attributes
    ----------
    inputs : dict of str to Path
        The simulated ``science``, ``reference`` and ``truth`` files.
    simulate_seconds : float
        Time to simulate and write the pair.
    run : RunReport
        The pipeline's report of the run.
    score : dict
        `astrid.evaluation.scoring.match_to_truth` against the injected truth.
    report : Path
        The HTML report.
    """

    inputs: dict[str, Path]
    simulate_seconds: float
    run: RunReport
    score: dict[str, Any]
    report: Path


def run_demo(
    pipeline: Pipeline,
    out: str | os.PathLike[str],
    *,
    size: int = 1024,
    seed: int = 0,
    on_stage: Callable[[str, str], None] | None = None,
    on_frame: Callable[[FrameReport], None] | None = None,
) -> DemoResult:
    """Simulate a seeded field, difference it with `pipeline`, score and report.

    Parameters
    ----------
    pipeline : Pipeline
        Runs the frame (its catalog and store receive the run).
    out : path
        Output folder: ``inputs/``, ``candidates.csv``, ``difference/``, ``report.html``,
        ``score.json``.
    size : int
        Image side in pixels.
    seed : int
        Simulation seed.
    on_stage, on_frame : callable, optional
        Progress callbacks, passed to `Pipeline.run`.

    Returns
    -------
    DemoResult

    Raises
    ------
    AstridError
        If the pipeline cannot run at all (e.g. the model is unusable).
    """
    folder = Path(out)
    start = time.perf_counter()
    sim = simulate_pair(demo_sky(size), seed=seed)
    inputs = sim.write(folder / "inputs")
    simulate_seconds = time.perf_counter() - start
    run = pipeline.run(
        inputs["reference"], [inputs["science"]], folder, on_stage=on_stage, on_frame=on_frame
    )
    candidates = (
        Table.read(run.candidates_csv, format="ascii.csv") if run.candidates_csv else Table()
    )
    score = match_to_truth(sim.truth, candidates)
    report = write_report(
        folder / "report.html",
        catalog=pipeline.catalog,
        store=pipeline.store,
        frames=run.frames,
        score=score,
        truth=sim.truth,
        title=f"AstrID demo: simulated {size}×{size} field, seed {seed}",
    )
    plain = {k: v for k, v in score.items() if k not in ("found", "bogus_mask")}
    (folder / "score.json").write_text(json.dumps(plain, indent=1))
    return DemoResult(
        inputs=inputs, simulate_seconds=simulate_seconds, run=run, score=score, report=report
    )
