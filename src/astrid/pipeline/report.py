"""A self-contained HTML report of one run: frames, difference images, candidates, cutouts, truth.

Images are PNGs (cutouts with Pillow, zscale stretch; maps and plots with matplotlib)
inlined as base64, so the report is one file that opens anywhere.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.visualization import ZScaleInterval
from jinja2 import Environment, PackageLoader, select_autoescape
from PIL import Image as PILImage

from astrid.alerts import DEFAULT_OPERATING_THRESHOLD
from astrid.catalog import Catalog
from astrid.catalog.model_registry import list_models
from astrid.evaluation.plots import draw_completeness_vs_snr
from astrid.store import ObjectStore

if TYPE_CHECKING:
    from astrid.pipeline.runner import FrameReport

__all__ = ["FRAME_COLUMNS", "frame_row", "write_evaluation_report", "write_report"]

MAX_CUTOUT_ROWS = 40  # candidates with cutouts, per frame
MAX_REPORT_CUTOUT_ROWS = 200  # and in the whole report (each triplet costs three renders)
MAX_TABLE_ROWS = 300


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _zscale_png(data: np.ndarray, zoom: int = 2) -> str:
    """A grey PNG of a cutout (zscale limits, north of the array up, ``zoom``× nearest).

    Written with Pillow, not matplotlib: a report holds hundreds of these and a matplotlib
    figure costs ~30 ms each, a Pillow image well under 1 ms.
    """
    finite = np.isfinite(data)
    grey = np.zeros(data.shape, np.uint8)
    if finite.any():
        lo, hi = ZScaleInterval().get_limits(data[finite])
        span = hi - lo if hi > lo else 1.0
        scaled = np.clip((np.where(finite, data, lo) - lo) / span, 0.0, 1.0)
        grey = np.round(scaled * 255.0).astype(np.uint8)
    image = PILImage.fromarray(np.ascontiguousarray(grey[::-1]))  # origin lower
    image = image.resize((image.width * zoom, image.height * zoom), PILImage.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


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


FRAME_COLUMNS = ("frame", "status", "candidates", "S_corr std", "align rms px", "seconds")


def frame_row(frame: FrameReport) -> dict[str, str]:
    """One frame of a run as display strings, keyed by `FRAME_COLUMNS` (plus ``error``).

    The frame is its file name, whole; ``error`` is ``"stage: message"`` or empty.
    """
    stats = frame.stats
    rms = (
        f"{(stats['align_rms_x'] ** 2 + stats['align_rms_y'] ** 2) ** 0.5:.3f}"
        if "align_rms_x" in stats and "align_rms_y" in stats
        else ""
    )
    return {
        "frame": Path(frame.path).name,
        "status": frame.status,
        "candidates": str(frame.n_candidates),
        "S_corr std": f"{stats['scorr_std']:.3f}" if "scorr_std" in stats else "",
        "align rms px": rms,
        "seconds": f"{sum(frame.timings.values()):.1f}" if frame.timings else "",
        "error": f"{frame.failed_stage}: {frame.error}" if frame.error else "",
    }


def _candidate_rows(
    candidates: list[dict[str, Any]],
    store: ObjectStore,
    versions: dict[int, Any],
    n_cutouts: int,
) -> list[dict[str, Any]]:
    """Table rows (the first `MAX_TABLE_ROWS`), cutouts for the first `n_cutouts`."""
    rows = []
    for k, cand in enumerate(candidates[:MAX_TABLE_ROWS]):
        row = dict(cand)
        record = versions.get(cand.get("model_version_id") or -1)
        row["model_label"] = f"{record.name} v{record.version}" if record else None
        if k < n_cutouts:
            row["cutouts"] = [
                _zscale_png(fits.getdata(io.BytesIO(store.get_bytes(cand[f"cutout_{kind}_key"]))))
                for kind in ("science", "reference", "difference")
                if cand.get(f"cutout_{kind}_key")
            ]
        rows.append(row)
    return rows


def write_report(
    path: str | Path,
    *,
    catalog: Catalog,
    store: ObjectStore,
    frames: Sequence[FrameReport],
    score: dict[str, Any] | None = None,
    truth: Table | None = None,
    title: str = "AstrID run report",
) -> Path:
    """Render the report of one pipeline run (`RunReport.frames`) as one HTML file.

    The page has the frame table (every frame, failures with their stage and message),
    then per frame with a catalog run: its statistics, the S_corr map, and its candidates
    (most significant first; at most `MAX_TABLE_ROWS`, with science / reference /
    difference cutouts side by side for the first `MAX_CUTOUT_ROWS`, and for no more than
    `MAX_REPORT_CUTOUT_ROWS` in all; the page says when it shows fewer than all).

    Parameters
    ----------
    path : path
        Output HTML file.
    catalog : Catalog
        Source of the runs' candidates.
    store : ObjectStore
        Source of the cutouts.
    frames : sequence of FrameReport
        The frames of the run, as `astrid.pipeline.runner.Pipeline.run` reports them.
    score, truth : optional
        `astrid.evaluation.scoring.match_to_truth` output and the truth table, for the
        completeness section (simulated data).
    title : str
        Page title.
    """
    out = Path(path)
    versions = {r.id: r for r in list_models(catalog)}
    sections = []
    scored: list[dict[str, Any]] = []
    cutouts_left = MAX_REPORT_CUTOUT_ROWS
    reported: set[int] = set()
    for frame in frames:
        if frame.run_id is None or frame.run_id in reported:
            continue  # failed before a run, or a duplicate of a frame already shown
        reported.add(frame.run_id)
        candidates = catalog.candidates(run_id=frame.run_id)
        candidates.sort(key=lambda c: -abs(c["scorr"]))
        scored += [c for c in candidates if c.get("rb") is not None]
        scorr_map = frame.products_local.get("score_corr")
        n_cutouts = min(len(candidates), MAX_CUTOUT_ROWS, cutouts_left)
        cutouts_left -= n_cutouts
        sections.append(
            {
                "name": Path(frame.path).name,
                "n_candidates": len(candidates),
                "rows": _candidate_rows(candidates, store, versions, n_cutouts),
                "n_cutouts": n_cutouts,
                "difference_png": _difference_png(Path(scorr_map)) if scorr_map else None,
                "stats": frame.stats,
            }
        )
    used = [v for v in dict.fromkeys(c.get("model_version_id") for c in scored) if v in versions]
    thresholds = (versions[v].card.get("operating_threshold") for v in used)
    rb_threshold = next((t for t in thresholds if t is not None), DEFAULT_OPERATING_THRESHOLD)
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
        columns=FRAME_COLUMNS,
        frames=[frame_row(frame) for frame in frames],
        sections=sections,
        n_candidates=sum(s["n_candidates"] for s in sections),
        n_scored=len(scored),
        n_real=sum(c["rb"] > rb_threshold for c in scored),
        n_ood=sum((c.get("ood") or 0) > 0.99 for c in scored),
        rb_threshold=rb_threshold,
        max_cutout_rows=MAX_CUTOUT_ROWS,
        max_report_cutout_rows=MAX_REPORT_CUTOUT_ROWS,
        completeness_png=_completeness_png(score, truth) if score and truth is not None else None,
        completeness_rows=score.get("completeness", []) if score else [],
        summary=summary,
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
