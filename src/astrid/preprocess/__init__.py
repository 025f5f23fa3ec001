"""Preprocessing: calibrate frames and prepare a science/reference pair for subtraction.

`prepare_pair` is the stage: two `astrid.observations.Image` in, a `PreparedPair` out
(masks, background and noise maps, the reference aligned onto the science grid, PSF models,
the flux ratio). Its steps are public too: `build_mask`, `estimate_background`,
`find_stars` / `measure_psf`, `align_reference`, `measure_flux_ratio`. Optional
calibration with master bias / dark / flat frames: `calibrate`, the ``make_master_*``
builders and the FITS files of `build_master_files` / `read_masters`.

Examples
--------
>>> from astrid.preprocess import prepare_pair
>>> pair = prepare_pair(science, reference)  # doctest: +SKIP
"""

from astrid.preprocess.align import AlignConfig, Alignment, align_reference, match_positions
from astrid.preprocess.background import Background, BackgroundConfig, estimate_background
from astrid.preprocess.calibration import (
    CalibrationFrames,
    Frame,
    calibrate,
    make_master_bias,
    make_master_dark,
    make_master_flat,
)
from astrid.preprocess.masks import MaskConfig, MaskResult, build_mask
from astrid.preprocess.master_files import (
    MASTER_KINDS,
    MasterSummary,
    build_master_files,
    master_file_name,
    read_master,
    read_masters,
    write_master,
)
from astrid.preprocess.pair import PrepareConfig, PreparedPair, prepare_pair
from astrid.preprocess.photometric import FluxRatio, measure_flux_ratio, psf_flux
from astrid.preprocess.psf import (
    PSFConfig,
    PSFModel,
    StarList,
    find_stars,
    fourier_shift,
    measure_psf,
)

__all__ = [
    "MASTER_KINDS",
    "AlignConfig",
    "Alignment",
    "Background",
    "BackgroundConfig",
    "CalibrationFrames",
    "FluxRatio",
    "Frame",
    "MaskConfig",
    "MaskResult",
    "MasterSummary",
    "PSFConfig",
    "PSFModel",
    "PrepareConfig",
    "PreparedPair",
    "StarList",
    "align_reference",
    "build_mask",
    "build_master_files",
    "calibrate",
    "estimate_background",
    "find_stars",
    "fourier_shift",
    "make_master_bias",
    "make_master_dark",
    "make_master_flat",
    "master_file_name",
    "match_positions",
    "measure_flux_ratio",
    "measure_psf",
    "prepare_pair",
    "psf_flux",
    "read_master",
    "read_masters",
    "write_master",
]
