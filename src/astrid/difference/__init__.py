"""Difference imaging: ZOGY on a prepared pair, candidates, their photometry and cutouts.

`subtract` is the stage: a `astrid.preprocess.PreparedPair` in, a `Subtraction` out (the
ZOGY images D, S, S_corr, the candidate table with the `CANDIDATE_COLUMNS`, the 63×63
science / reference / difference cutout triplets). Its steps are public too: `zogy`
(tiled; `zogy_tile` for one tile), `find_peaks` (|S_corr| ≥ threshold, both signs),
`measure_candidates` (PSF-fit flux and position on D, shape) and `cutout_triplets`.
`proper_coadd` stacks aligned frames optimally (Zackay & Ofek 2017), a reference for ZOGY.

Examples
--------
>>> from astrid.preprocess import prepare_pair
>>> from astrid.difference import subtract
>>> result = subtract(prepare_pair(science, reference))  # doctest: +SKIP
>>> result.candidates["ra", "dec", "snr"]  # doctest: +SKIP
"""

from astrid.difference.coadd import ProperCoadd, proper_coadd
from astrid.difference.cutouts import (
    CUTOUT_SIZE,
    CutoutWcsCards,
    cutout,
    cutout_origin,
    cutout_triplets,
    cutout_wcs,
    wcs_from_header,
)
from astrid.difference.measure import Measurements, measure_candidates
from astrid.difference.peaks import Peaks, find_peaks
from astrid.difference.products import PRODUCT_VERSION, DifferenceProduct
from astrid.difference.subtract import (
    CANDIDATE_COLUMNS,
    DETECTORS,
    ProbabilityMap,
    SubtractConfig,
    Subtraction,
    choose_tile_size,
    subtract,
)
from astrid.difference.zogy import ZogyConfig, ZogyInputs, ZogyResult, zogy, zogy_tile

__all__ = [
    "CANDIDATE_COLUMNS",
    "CUTOUT_SIZE",
    "DETECTORS",
    "PRODUCT_VERSION",
    "CutoutWcsCards",
    "DifferenceProduct",
    "Measurements",
    "Peaks",
    "ProbabilityMap",
    "ProperCoadd",
    "SubtractConfig",
    "Subtraction",
    "ZogyConfig",
    "ZogyInputs",
    "ZogyResult",
    "choose_tile_size",
    "cutout",
    "cutout_origin",
    "cutout_triplets",
    "cutout_wcs",
    "find_peaks",
    "measure_candidates",
    "proper_coadd",
    "subtract",
    "wcs_from_header",
    "zogy",
    "zogy_tile",
]
