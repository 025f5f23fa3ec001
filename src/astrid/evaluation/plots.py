"""Plots of an injection–recovery evaluation (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from astropy.table import Table
from matplotlib.axes import Axes
from scipy.stats import norm

from astrid.evaluation.scoring import SNR_BINS

__all__ = ["draw_completeness_vs_snr", "plot_evaluation"]


def _binned(x: np.ndarray, found: np.ndarray, edges: np.ndarray) -> tuple[list[float], ...]:
    centres, comp, err, opt = [], [], [], []
    for lo, hi in itertools.pairwise(edges):
        m = (x >= lo) & (x < hi)
        if m.sum() == 0:
            continue
        p = float(found[m].mean())
        centres.append(0.5 * (lo + hi))
        comp.append(p)
        err.append(float(np.sqrt(max(p * (1 - p), 0.25 / m.sum()) / m.sum())))
        opt.append(float(m.sum()))
    return centres, comp, err, opt


def draw_completeness_vs_snr(ax: Axes, snr: np.ndarray, found: np.ndarray, *, label: str) -> None:
    """Binned completeness vs injected SNR with the matched-filter optimum Φ(SNR − 5)."""
    grid = np.geomspace(2.0, 60.0, 300)
    ax.plot(grid, norm.cdf(grid - 5), color="0.5", label="optimum Φ(SNR − 5)")
    c, p, e, _ = _binned(snr, found, np.asarray(SNR_BINS, float))
    ax.errorbar(c, p, yerr=e, fmt="o", label=label)
    ax.set_xscale("log")
    ax.set_xticks([3, 5, 10, 20, 40])
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.minorticks_off()
    ax.set_xlabel("injected matched-filter SNR")
    ax.set_ylabel("completeness")
    ax.set_ylim(-0.02, 1.05)
    ax.legend(loc="lower right")


def plot_evaluation(fakes: Table, out_dir: str | Path, *, title: str = "") -> dict[str, Path]:
    """Write completeness-vs-SNR, completeness-vs-magnitude and residual plots.

    Parameters
    ----------
    fakes : Table
        `EvaluationResult.fakes`.
    out_dir : path
        Folder for the PNG files.
    title : str
        Prefix of the plot titles.

    Returns
    -------
    dict
        Plot name → PNG path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    snr = np.asarray(fakes["snr"], float)
    mag = np.asarray(fakes["mag"], float)
    found = np.asarray(fakes["found"], bool)
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(6, 4))
    draw_completeness_vs_snr(ax, snr, found, label=f"recovered ({len(snr)} fakes)")
    ax.set_title(f"{title} completeness vs SNR".strip())
    paths["completeness_snr"] = out / "completeness_snr.png"
    fig.savefig(paths["completeness_snr"], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    edges = np.linspace(np.nanmin(mag), np.nanmax(mag), 13)
    c, p, e, _ = _binned(mag, found, edges)
    expected = [
        float(norm.cdf(snr[(mag >= lo) & (mag < hi)] - 5).mean())
        for lo, hi in itertools.pairwise(edges)
        if ((mag >= lo) & (mag < hi)).any()
    ]
    ax.errorbar(c, p, yerr=e, fmt="o", label="recovered")
    ax.plot(c, expected, color="0.5", label="optimum for these fakes")
    ax.axhline(0.5, color="0.8", lw=0.8)
    ax.axhline(0.9, color="0.8", lw=0.8)
    ax.set_xlabel("magnitude")
    ax.set_ylabel("completeness")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(f"{title} completeness vs magnitude".strip())
    ax.legend(loc="lower left")
    paths["completeness_mag"] = out / "completeness_mag.png"
    fig.savefig(paths["completeness_mag"], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ok = found & np.isfinite(np.asarray(fakes["flux_measured"], float))
    ratio = np.asarray(fakes["flux_measured"], float)[ok] / np.asarray(fakes["flux"], float)[ok]
    ax1.scatter(snr[ok], ratio, s=6)
    ax1.axhline(1.0, color="0.5")
    ax1.set_xscale("log")
    ax1.set_xticks([5, 10, 20, 40])
    ax1.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax1.minorticks_off()
    ax1.set_ylim(0.5, 1.5)
    ax1.set_xlabel("injected SNR")
    ax1.set_ylabel("recovered / injected flux")
    dx = np.asarray(fakes["x_measured"], float)[ok] - np.asarray(fakes["x"], float)[ok]
    dy = np.asarray(fakes["y_measured"], float)[ok] - np.asarray(fakes["y"], float)[ok]
    sc = ax2.scatter(dx, dy, s=6, c=np.log10(snr[ok]), cmap="viridis")
    ax2.set_xlim(-1.5, 1.5)
    ax2.set_ylim(-1.5, 1.5)
    ax2.set_aspect("equal")
    ax2.set_xlabel("Δx (px)")
    ax2.set_ylabel("Δy (px)")
    fig.colorbar(sc, ax=ax2, label="log10 SNR")
    fig.suptitle(f"{title} photometric and astrometric residuals".strip())
    paths["residuals"] = out / "residuals.png"
    fig.savefig(paths["residuals"], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths
