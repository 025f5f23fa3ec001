"""Evaluation: how well the pipeline finds what was injected (simulations, fakes).

`match_to_truth` matches a candidate table to a truth table and scores it with the
reference scorer's definitions (completeness, efficiency vs Φ(SNR − 5), bogus count,
photometry, astrometry); `evaluate_pair` injects fakes into a real pair, runs the
difference stage and scores the recovery; `plot_evaluation` / `draw_completeness_vs_snr`
draw the figures.

Examples
--------
>>> from astrid.simulation import SimulationConfig, simulate_pair
>>> from astrid.evaluation import match_to_truth
>>> sim = simulate_pair(SimulationConfig(shape=(256, 256), n_stars=60, n_galaxies=10,
...                                      n_transients=10, n_transients_on_galaxies=2),
...                     seed=1)
>>> match_to_truth(sim.truth, sim.truth)["completeness_all"]  # the truth finds itself
1.0
"""

from astrid.evaluation.evaluate import (
    EvaluationConfig,
    EvaluationResult,
    completeness_magnitude,
    evaluate_pair,
)
from astrid.evaluation.plots import draw_completeness_vs_snr, plot_evaluation
from astrid.evaluation.scoring import SNR_BINS, match_to_truth

__all__ = [
    "SNR_BINS",
    "EvaluationConfig",
    "EvaluationResult",
    "completeness_magnitude",
    "draw_completeness_vs_snr",
    "evaluate_pair",
    "match_to_truth",
    "plot_evaluation",
]
