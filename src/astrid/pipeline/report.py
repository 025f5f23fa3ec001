"""A self-contained HTML report of one run: difference image, candidates, cutouts, truth.

Images are PNGs rendered with matplotlib (zscale stretch) and inlined as base64, so the
report is one file that opens anywhere.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.visualization import ZScaleInterval
from jinja2 import Environment, PackageLoader, select_autoescape

from astrid.catalog import Catalog
from astrid.catalog.model_registry import list_models
from astrid.evaluation.plots import draw_completeness_vs_snr
from astrid.store import ObjectStore

__all__ = ["write_evaluation_report", "write_report"]

MAX_CUTOUT_ROWS = 40
MAX_TABLE_ROWS = 300


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _zscale_png(data: np.ndarray, size_in: float = 1.6, cmap: str = "gray") -> str:
    finite = np.isfinite(data)
    fig, ax = plt.subplots(figsize=(size_in, size_in))
    if finite.any():
        lo, hi = ZScaleInterval().get_limits(data[finite])
        ax.imshow(np.where(finite, data, lo), origin="lower", cmap=cmap, vmin=lo, vmax=hi)
    ax.set_axis_off()
    return _png(fig)


def _difference_png(path: Path) -> str | None:
    if not path.exists():
        return None
    data = fits.getdata(path).astype(float)
    step = max(1, max(data.shape) // 800)
    small = data[::step, ::step]
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.imshow(np.clip(small, -5, 5), origin="lower", cmap="RdBu_r", vmin=-5, vmax=5)
    ax.set_title("S_corr (clipped at ±5)")
    ax.set_axis_off()
    return _png(fig)


def _completeness_png(score: dict[str, Any], truth: Table) -> str:
    kinds = np.asarray([str(k) for k in truth["kind"]])
    snr = np.asarray(truth["snr"], float)[np.char.startswith(kinds, "transient")]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    draw_completeness_vs_snr(ax, snr, np.asarray(score["found"], bool), label="AstrID")
    return _png(fig)


def write_report(
    path: str | Path,
    *,
    catalog: Catalog,
    store: ObjectStore,
    run_id: int | None,
    difference_path: str | Path | None = None,
    score: dict[str, Any] | None = None,
    truth: Table | None = None,
    stats: dict[str, float] | None = None,
    title: str = "AstrID run report",
) -> Path:
    """Render the report of one run.

    Parameters
    ----------
    path : path
        Output HTML file.
    catalog : Catalog
        Source of the run's candidates.
    store : ObjectStore
        Source of the cutouts.
    run_id : int or None
        The run to report (None: an empty report with the error state).
    difference_path : path, optional
        S_corr FITS to show as a thumbnail.
    score, truth : optional
        `astrid.evaluation.scoring.match_to_truth` output and the truth table, for the
        completeness section.
    stats : dict, optional
        Run statistics (noise, alignment) to list.
    title : str
        Page title.
    """
    out = Path(path)
    candidates = catalog.candidates(run_id=run_id) if run_id is not None else []
    candidates.sort(key=lambda c: -abs(c["scorr"]))
    versions = {r.id: r for r in list_models(catalog)}
    scored = [c for c in candidates if c.get("rb") is not None]
    used = [v for v in dict.fromkeys(c.get("model_version_id") for c in scored) if v in versions]
    thresholds = (versions[v].card.get("operating_threshold") for v in used)
    rb_threshold = next((t for t in thresholds if t is not None), 0.5)
    rows = []
    for k, cand in enumerate(candidates[:MAX_TABLE_ROWS]):
        row = dict(cand)
        record = versions.get(cand.get("model_version_id") or -1)
        row["model_label"] = f"{record.name} v{record.version}" if record else None
        if k < MAX_CUTOUT_ROWS:
            row["cutouts"] = [
                _zscale_png(fits.getdata(io.BytesIO(store.get_bytes(cand[f"cutout_{kind}_key"]))))
                for kind in ("science", "reference", "difference")
                if cand.get(f"cutout_{kind}_key")
            ]
        rows.append(row)
    env = Environment(
        loader=PackageLoader("astrid.pipeline", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    summary = None
    if score is not None:
        summary = {
            k: v for k, v in score.items() if k not in ("found", "bogus_mask", "completeness")
        }
    html = env.get_template("report.html").render(
        title=title,
        n_candidates=len(candidates),
        n_scored=len(scored),
        n_real=sum(c["rb"] > rb_threshold for c in scored),
        n_ood=sum((c.get("ood") or 0) > 0.99 for c in scored),
        rb_threshold=rb_threshold,
        rows=rows,
        difference_png=_difference_png(Path(difference_path)) if difference_path else None,
        completeness_png=_completeness_png(score, truth) if score and truth is not None else None,
        completeness_rows=score.get("completeness", []) if score else [],
        summary=summary,
        stats=stats or {},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html)
    return out


def write_evaluation_report(
    path: str | Path,
    *,
    summary: dict[str, Any],
    plots: dict[str, Path],
    title: str = "AstrID evaluation",
) -> Path:
    """Render the injection–recovery section (summary table, SNR bins, plots) as HTML."""
    env = Environment(
        loader=PackageLoader("astrid.pipeline", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    scalars = {
        k: v for k, v in summary.items() if not isinstance(v, list | dict) and k != "magnitudes"
    }
    images = {name: base64.b64encode(Path(p).read_bytes()).decode() for name, p in plots.items()}
    html = env.get_template("evaluation.html").render(
        title=title, summary=summary, scalars=scalars, plots=images
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html)
    return out
