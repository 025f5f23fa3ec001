"""Process one science frame against a reference: the unit of work of a pipeline run.

`process_frame` reads both frames (files, or registered observations in the object store:
`astrid.pipeline.inputs.FrameSource`), calibrates the science frame with master bias / dark /
flat files when given (the reference is used as it is: normally an already-reduced
template), runs the preprocess and difference stages, scores the candidates with the
real/bogus model when given one, writes the D and S_corr images and the flux product
(forced photometry's input, `astrid.difference.DifferenceProduct`) and returns a
picklable `FrameOutcome`: either the products or the stage that failed and why.
It runs in a worker process, so it never raises for a problem in the data; the parent
records failures in the catalog.

A worker keeps the last reference it prepared (masks, background, stars on its own grid),
and given a folder keeps it there for other processes and later runs
(`astrid.pipeline.reference_cache`), so a night of frames against one reference masks it
once, not once per frame; the candidates are the same either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from threadpoolctl import threadpool_limits

from astrid.detection.unet_detect import UNetDetector
from astrid.difference.products import DifferenceProduct
from astrid.difference.psf_variation import correct_flux_for_psf_variation
from astrid.difference.subtract import subtract
from astrid.errors import AstridError
from astrid.observations.validate import check_compatible
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.inputs import FrameSource
from astrid.pipeline.photometric_reference import frame_catalogue, frame_photometry
from astrid.pipeline.reference_cache import ReferenceCache
from astrid.pipeline.scoring import ScoringModel, add_realbogus_scores
from astrid.preprocess.master_files import read_masters
from astrid.preprocess.pair import prepare_frame, prepare_pair

__all__ = ["FRAME_STAGES", "FrameOutcome", "process_frame", "unet_detector"]

log = logging.getLogger(__name__)

StageCallback = Callable[[str], None]

#: The stages of `process_frame`, in order (``calibrate`` and ``score`` only when asked for).
FRAME_STAGES = (
    "read",
    "calibrate",
    "validate",
    "prepare_reference",
    "preprocess",
    "difference",
    "score",
    "write",
)


@dataclass
class FrameOutcome:
    """What a worker hands back: products on success, the failing stage otherwise."""

    science: str  # the science frame's label
    ok: bool
    candidates: Table | None = None
    cutouts: np.ndarray | None = None
    products: dict[str, str] = field(default_factory=dict)
    # products already in the object store (from a Dask worker): name → key; ``products``
    # then holds each one's path relative to the output folder
    product_keys: dict[str, str] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    photometry: dict[str, Any] = field(default_factory=dict)
    failed_stage: str | None = None
    error: str | None = None


class _Timer:
    def __init__(self, on_stage: StageCallback | None) -> None:
        self.timings: dict[str, float] = {}
        self.stage = "start"
        self._on_stage = on_stage

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        self.stage = stage
        if self._on_stage is not None:
            self._on_stage(stage)
        start = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


@lru_cache(maxsize=2)
def unet_detector(threads: int = 0) -> UNetDetector:
    """The shipped U-Net (the ``"unet"`` detector), loaded once per process."""
    return UNetDetector.load(threads=threads)


_REFERENCES = ReferenceCache()


def _write_map(path: Path, data: np.ndarray, header: fits.Header, kind: str) -> None:
    hdr = header.copy()
    hdr["IMAGETYP"] = (kind, "AstrID product")
    fits.PrimaryHDU(data=data.astype(np.float32), header=hdr).writeto(path, overwrite=True)


def process_frame(
    science_source: FrameSource,
    reference_source: FrameSource,
    out_dir: str,
    config: PipelineConfig,
    *,
    threads: int = -1,
    product_stem: str | None = None,
    on_stage: StageCallback | None = None,
    calibration: Mapping[str, str] | None = None,
    model: ScoringModel | None = None,
    reference_cache: str | None = None,
) -> FrameOutcome:
    """Run preprocess + difference (+ the ML score) on one science frame.

    Parameters
    ----------
    science_source, reference_source : FrameSource
        Where the frames are read from.
    out_dir : str
        Products go to ``out_dir/difference/<stem>.{diff,scorr}.fits``.
    config : PipelineConfig
        Science settings.
    threads : int
        FFT threads for this frame (1 inside a process pool, -1 inline).
    product_stem : str, optional
        File stem of the products (default: the science image's name).
    on_stage : callable, optional
        Called with each stage name as it starts (progress display).
    calibration : mapping of str to str, optional
        Master files by kind (``"bias"``, ``"dark"``, ``"flat"``) applied to the science
        frame in a "calibrate" stage after "read"; not to the reference. The saturation
        level is carried over to calibrated units. Without it there is no such stage.
    model : ScoringModel, optional
        Real/bogus model: a "score" stage adds ``rb``, ``ood`` and the OOD components to
        the candidates (`astrid.pipeline.scoring`). Without it there is no such stage.
    reference_cache : str, optional
        A folder where frames running in separate processes, or runs one after another,
        share the reference's preparation (masks, background, stars): the first to prepare
        it writes it there, the others read it (`astrid.pipeline.reference_cache`).

    Returns
    -------
    FrameOutcome
        Never raises for bad data: failures come back with the stage and the message.

    Notes
    -----
    With ``threads`` ≥ 1 the native thread pools (OpenMP, BLAS) are limited to that many
    threads for the frame: frames running side by side in processes would otherwise each
    start a thread per core, and astroscrappy's OpenMP loops lose more to the contention
    than they gain (measured: 2048² frames in a 2-process batch, 8.8 → 7.6 s a frame).
    """
    with threadpool_limits(limits=threads if threads > 0 else None):
        return _process_frame(
            science_source,
            reference_source,
            out_dir,
            config,
            threads=threads,
            product_stem=product_stem,
            on_stage=on_stage,
            calibration=calibration,
            model=model,
            reference_cache=reference_cache,
        )


def _process_frame(
    science_source: FrameSource,
    reference_source: FrameSource,
    out_dir: str,
    config: PipelineConfig,
    *,
    threads: int,
    product_stem: str | None,
    on_stage: StageCallback | None,
    calibration: Mapping[str, str] | None,
    model: ScoringModel | None,
    reference_cache: str | None,
) -> FrameOutcome:
    timer = _Timer(on_stage)
    try:
        with timer("read"):
            science = science_source.read(max_pixels=config.max_image_pixels)
            reference = reference_source.read(max_pixels=config.max_image_pixels)
        if calibration:
            with timer("calibrate"):
                masters = read_masters(
                    calibration, shape=science.shape, label=f"science frame {science.label}"
                )
                science = masters.apply(science)
        with timer("validate"):
            check_compatible(science, reference)
        science_frame = None
        aside = (  # the reference prepared on another core while this one does the science
            None  # one thread: frames run side by side, each core has one
            if threads == 1
            else _REFERENCES.prepare_aside(
                reference_source,
                reference,
                config.prepare,
                reference_cache,
                max_pixels=config.max_image_pixels,
            )
        )
        if aside is not None:
            try:
                with timer("preprocess"), threadpool_limits(limits=1):
                    science_frame = prepare_frame(science, config.prepare, role="science")
            except BaseException:
                aside.close()
                raise
        with timer("prepare_reference"):  # once per process for one reference file
            if aside is not None:
                aside.join()
            prepared = _REFERENCES.prepared(
                reference_source, reference, config.prepare, reference_cache
            )
        with timer("preprocess"):
            catalogue = frame_catalogue(config, science)
            pair = prepare_pair(
                science,
                prepared,
                config.prepare,
                catalogue=catalogue,
                science_frame=science_frame,
            )
        zogy_config = replace(config.subtract.zogy, workers=threads)
        with timer("difference"):
            unet = unet_detector(max(threads, 0)) if config.subtract.detector == "unet" else None
            result = subtract(pair, replace(config.subtract, zogy=zogy_config), model=unet)
        candidates = result.candidates
        if model is not None:
            with timer("score"):
                candidates = add_realbogus_scores(
                    model, candidates, result.cutouts, threads=max(threads, 0)
                )
        with timer("write"):
            directory = Path(out_dir) / "difference"
            directory.mkdir(parents=True, exist_ok=True)
            header = science.to_hdu().header
            name = product_stem or science.meta.name
            products = {
                "difference": str(directory / f"{name}.diff.fits"),
                "score_corr": str(directory / f"{name}.scorr.fits"),
                "flux": str(directory / f"{name}.flux.fits"),
            }
            _write_map(Path(products["difference"]), result.zogy.difference, header, "ZOGY D")
            _write_map(Path(products["score_corr"]), result.zogy.score_corr, header, "ZOGY S_corr")
            # forced photometry reads α anywhere: correct it for the PSF across each tile
            alpha = correct_flux_for_psf_variation(result.zogy, pair.science_psf.at)
            DifferenceProduct.from_maps(
                alpha.flux, alpha.flux_err, pair.mask, header, pair.zero_point
            ).write(products["flux"])
            photometry = frame_photometry(pair, alpha.flux_err)
    except AstridError as e:
        log.warning("%s failed at %s: %s", science_source.label, timer.stage, e)
        return FrameOutcome(
            science_source.label,
            ok=False,
            failed_stage=timer.stage,
            error=str(e),
            timings=timer.timings,
        )
    except (ValueError, MemoryError, OSError, np.linalg.LinAlgError) as e:
        log.exception("%s failed unexpectedly at %s", science_source.label, timer.stage)
        return FrameOutcome(
            science_source.label,
            ok=False,
            failed_stage=timer.stage,
            error=f"{type(e).__name__}: {e}",
            timings=timer.timings,
        )
    stats: dict[str, Any] = {**pair.stats, **result.stats}
    if photometry.get("limiting_mag") is not None:
        stats["limiting_mag"] = photometry["limiting_mag"]
    return FrameOutcome(
        science_source.label,
        ok=True,
        candidates=candidates,
        cutouts=result.cutouts,
        products=products,
        stats={k: float(v) for k, v in stats.items()},
        timings=timer.timings,
        photometry=photometry,
    )
