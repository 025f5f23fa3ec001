"""AstrID side by side with properimage's ZOGY and sfft (NumPy backend) on simulated pairs.

Usage, in the peers' own virtual environment (see ``docs/peers.md`` for building it)::

    /work/peers-venv/bin/python benchmarks/peers.py [--sizes 1024 2048] [--seed 0]
        [--methods astrid properimage sfft] [--timeout 900] [--threads 2]
        [--out docs/results] [--workdir DIR]

For each size a pair is simulated (counts scaled with the area like
``benchmarks/simulated_fields.py``) and written to FITS; then every method runs on those
files in its own process (so wall time and peak memory are its own, and a per-method
timeout can stop it):

- **astrid**: ``read_image`` ×2, ``prepare_pair`` (masks, backgrounds, alignment, PSFs,
  scaling) and ``subtract`` (ZOGY + candidates); its map is ``zogy.score_corr``.
- **properimage**: ``properimage.operations.subtract`` with its defaults (``fitted_psf=True``,
  ``smooth_psf=False``, ``beta=True``, ``shift=True``, ``align=False``) on the science image
  and the reference already resampled onto the science grid; its map is its S_corr.
- **sfft**: ``sfft.EasySparsePacket.Easy_SparsePacket.ESP`` (sparse flavour, its automatic
  SExtractor + Hough source selection, ``BACKEND_4SUBTRACT='Numpy'``, all other settings
  default) on sky-subtracted copies of the same two images. sfft returns only a difference
  image; its map is that image cross-correlated with a PSF and divided by its noise (below).

Neither peer aligns images itself (properimage's ``align=True`` would register the science
image onto the *reference* grid with astroalign; sfft requires pre-aligned inputs), so both
get the reference resampled onto the science grid with ``reproject.reproject_interp``
(bicubic, the images' own WCS, which are exact in the simulation), NaN outside its
footprint; sfft also gets both images sky-subtracted with ``sep.Background`` (64 px boxes),
as its sparse flavour requires, with ``ESATUR = SATURATE - (sky + 10 σ_sky)`` in the header as
its docs prescribe. That preparation is timed separately (``peer_prep_seconds``) and is *not*
in the peers' own times; AstrID's time includes its own alignment and backgrounds.

Every method is then judged the same way, on the same pixels:

- *noise*: robust (MAD) std and mean of its detection map on source-free pixels (> 12 px from
  every truth object, and no pixel above 3σ within 10 px in either image), raw and after
  dividing by that robust std; lag-1 autocorrelation of its difference image there.
- *residuals*: RMS of the difference (divided by its robust noise on source-free pixels) in
  annuli 3–10 px (and cores < 3 px) around the 200 brightest unsaturated stars (truth kind
  ``star``), pooled over the stars.
- *detection*: its map divided by its robust std on source-free pixels (the rule AstrID applies
  to its own S_corr, a no-op on white noise; properimage's S_corr comes out ~1e-4 wide here),
  pixels in the method's own bad-pixel mask set to 0, then
  ``astrid.difference.peaks.find_peaks(map, threshold=5)`` inside the reference footprint,
  pixel → sky with the science WCS, ``match_to_truth(truth, table)``. The same without the
  division is recorded too (``detection_raw``).

sfft's S/N map: ``S = (D ⋆ P) / (σ_D √ΣP²)``, where ``D`` is sfft's difference, ``P`` AstrID's
measured unit-sum PSF at the image centre of the image sfft did *not* convolve (the science
PSF when it convolves the reference, as on these pairs), ``⋆`` cross-correlation
(``fftconvolve`` with the flipped stamp, NaN as 0) and ``σ_D`` the robust std of ``D`` on
source-free pixels: the matched filter's S/N for a point source on white noise.

Wall times are the fastest of ``--repeats`` runs for methods under a minute (one run
otherwise); before each run the script waits (up to ``--quiet-wait`` s) for the 1-minute load
average to fall below ``--quiet-load``, and records the load and the process's CPU seconds,
so that other work on the machine shows. Writes ``<out>/peers_<size>.json`` per size and
prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sep
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from reproject import reproject_interp
from scipy import ndimage
from scipy.signal import fftconvolve
from scipy.spatial import cKDTree

from astrid.difference.peaks import Peaks, find_peaks
from astrid.evaluation.scoring import match_to_truth
from astrid.simulation import SimulatedPair, SimulationConfig, quiet_sky, simulate_pair

METHODS = ("astrid", "properimage", "sfft")
THRESHOLD = 5.0
QUIET_RADIUS = 12.0  # px from any truth object for a pixel to count as source-free
N_STARS = 200
ANNULUS = (3.0, 10.0)
STAR_ISOLATION = 15.0  # px to any other truth object for a star to enter the residual test
SATURATED_CLEARANCE = 60.0  # px to any saturated star (halo and bleed trail)
EDGE_BAND = 16  # px: bogus this close to the footprint edge are counted separately
REPEAT_UNDER = 60.0  # s: methods faster than this are run `repeats` times

_TIME_KEYS = {"MJD-OBS", "DATE-OBS", "MJDREF", "DATEREF", "TIMESYS", "MJD-BEG", "MJD-END"}

REFERENCE_ALIGNED = "reference_on_science_grid.fits"
SCIENCE_SKYSUB = "science_skysub.fits"
REFERENCE_SKYSUB = "reference_on_science_grid_skysub.fits"


def simulation_config(size: int) -> SimulationConfig:
    """The 2048² field of ``simulated_fields.py`` with its counts scaled to the area."""
    scale = (size / 2048) ** 2
    return SimulationConfig(
        shape=(size, size),
        n_stars=int(1500 * scale),
        n_galaxies=int(300 * scale),
        n_transients=int(200 * scale),
        n_transients_on_galaxies=int(50 * scale),
    )


# --------------------------------------------------------------------------- peer inputs


def _header_on_science_grid(reference: fits.Header, science: fits.Header) -> fits.Header:
    """The reference's header with its WCS replaced by the science image's."""
    science_wcs = WCS(science).to_header(relax=True)
    wcs_keys = (set(WCS(reference).to_header(relax=True)) | set(science_wcs)) - _TIME_KEYS
    header = fits.Header()
    for card in reference.cards:
        if card.keyword not in wcs_keys and card.keyword not in ("", "COMMENT", "HISTORY"):
            header[card.keyword] = (card.value, card.comment)
    for card in science_wcs.cards:
        if card.keyword not in _TIME_KEYS:
            header[card.keyword] = (card.value, card.comment)
    return header


def write_peer_inputs(paths: dict[str, Path]) -> dict[str, float]:
    """Resample the reference onto the science grid and write sky-subtracted copies.

    Returns the seconds each step took.
    """
    directory = paths["science"].parent
    science, sci_header = fits.getdata(paths["science"], header=True)
    reference, ref_header = fits.getdata(paths["reference"], header=True)
    start = time.perf_counter()
    aligned, _ = reproject_interp(
        (reference.astype(np.float64), WCS(ref_header)),
        WCS(sci_header),
        shape_out=science.shape,
        order="bicubic",
    )
    aligned_header = _header_on_science_grid(ref_header, sci_header)
    fits.writeto(
        directory / REFERENCE_ALIGNED, aligned.astype(np.float32), aligned_header, overwrite=True
    )
    seconds = {"reproject": time.perf_counter() - start}
    start = time.perf_counter()
    for data, header, name in (
        (science.astype(np.float64), sci_header, SCIENCE_SKYSUB),
        (aligned, aligned_header, REFERENCE_SKYSUB),
    ):
        bad = ~np.isfinite(data)
        bkg = sep.Background(np.where(bad, 0.0, data), mask=bad)
        out = header.copy()
        out["ESATUR"] = (
            float(header["SATURATE"]) - (bkg.globalback + 10 * bkg.globalrms),
            "sfft: saturation after sky subtraction",
        )
        fits.writeto(directory / name, (data - bkg.back()).astype(np.float32), out, overwrite=True)
    seconds["sky_subtraction"] = time.perf_counter() - start
    return seconds


# --------------------------------------------------------------------------- the methods


@dataclass
class Products:
    """What a method hands back: its difference image, detection map and bad-pixel mask."""

    difference: np.ndarray
    detection_map: np.ndarray | None  # None: build the matched-filter S/N map from D
    mask: np.ndarray | None
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def run_astrid(directory: Path, threads: int) -> Products:
    """``read_image`` + ``prepare_pair`` + ``subtract`` on the FITS pair (timed together)."""
    from astrid.difference.subtract import subtract
    from astrid.observations.fits_reader import read_image
    from astrid.preprocess.pair import prepare_pair

    start = time.perf_counter()
    science = read_image(directory / "science.fits")
    reference = read_image(directory / "reference.fits")
    pair = prepare_pair(science, reference)
    result = subtract(pair)
    seconds = time.perf_counter() - start
    ny, nx = pair.science.shape
    return Products(
        difference=result.zogy.difference,
        detection_map=result.zogy.score_corr,
        mask=None,  # S_corr already carries the masks in its variance
        seconds=seconds,
        info={
            "settings": "PrepareConfig() and SubtractConfig() defaults",
            "n_candidates_native": len(result.candidates),
            "scorr_noise_scale": result.stats["scorr_noise_scale"],
            "align_rms_px": float(np.hypot(*pair.alignment.residual_rms)),
            "flux_ratio": pair.flux_ratio.ratio,
        },
        arrays={
            "science_psf": pair.science_psf.at(nx / 2, ny / 2),
            "reference_psf": pair.reference_psf.at(nx / 2, ny / 2),
            "native_ra": np.asarray(result.candidates["ra"], float),
            "native_dec": np.asarray(result.candidates["dec"], float),
        },
    )


def run_properimage(directory: Path, threads: int) -> Products:
    """``properimage.operations.subtract`` with its defaults, on pre-aligned FITS data."""
    from properimage import operations
    from properimage.single_image import SingleImageGaussPSF

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        science = fits.getdata(directory / "science.fits").astype(np.float32)
        reference = fits.getdata(directory / REFERENCE_ALIGNED).astype(np.float32)
        # Passed as SingleImage objects only to hand over the NaN footprint as a mask:
        # from a plain file properimage keeps the NaN and its S_corr is NaN everywhere.
        # (As context managers they delete their temporary PSF databases on exit.)
        with (
            SingleImageGaussPSF(reference, mask=~np.isfinite(reference), smooth_psf=False) as ref,
            SingleImageGaussPSF(science, mask=~np.isfinite(science), smooth_psf=False) as new,
        ):
            d, _, s_corr, mask = operations.subtract(
                ref=ref, new=new, align=False, smooth_psf=False, fitted_psf=True
            )
    seconds = time.perf_counter() - start
    return Products(
        difference=np.real(d).astype(np.float32),
        detection_map=np.asarray(s_corr, np.float32),
        mask=np.asarray(mask, bool),
        seconds=seconds,
        info={
            "settings": "operations.subtract(ref, new, align=False, inf_loss=0.25, "
            "smooth_psf=False, beta=True, shift=True, iterative=False, fitted_psf=True)"
        },
    )


_SFFT_COMPILE = re.compile(r"Function Compilations of SFFT-SUBTRACTION TAKES \[([0-9.]+) s\]")


def search_path() -> str:
    """``PATH`` with this interpreter's bin folder first (SExtractor lives in the venv's)."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def sextractor() -> str | None:
    """The SExtractor executable sfft would run, if any."""
    path = search_path()
    return shutil.which("sex", path=path) or shutil.which("sextractor", path=path)


@contextlib.contextmanager
def _on_path(path: str) -> Iterator[None]:
    saved = os.environ.get("PATH")
    os.environ["PATH"] = path
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = saved


def run_sfft(directory: Path, threads: int) -> Products:
    """sfft's sparse-flavour ``ESP`` with the NumPy backend on the sky-subtracted pair."""
    from sfft.EasySparsePacket import Easy_SparsePacket

    log = io.StringIO()
    start = time.perf_counter()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(log),
        _on_path(search_path()),
    ):
        warnings.simplefilter("ignore")
        diff, prep, _, fscale, _ = Easy_SparsePacket.ESP(
            FITS_REF=str(directory / REFERENCE_SKYSUB),
            FITS_SCI=str(directory / SCIENCE_SKYSUB),
            FITS_DIFF=None,
            BACKEND_4SUBTRACT="Numpy",
            NUM_CPU_THREADS_4SUBTRACT=threads,
            VERBOSE_LEVEL=1,
        )
    seconds = time.perf_counter() - start
    compile_match = _SFFT_COMPILE.search(log.getvalue())
    convolved = "REF" if prep["FWHM_SCI"] >= prep["FWHM_REF"] else "SCI"  # ESP's ForceConv='AUTO'
    difference = np.asarray(diff, np.float64).T  # sfft works on transposed [x, y] arrays
    return Products(
        difference=difference.astype(np.float32),
        detection_map=None,
        mask=~np.isfinite(difference),
        seconds=seconds,
        info={
            "settings": "Easy_SparsePacket.ESP(FITS_REF, FITS_SCI, BACKEND_4SUBTRACT='Numpy', "
            f"NUM_CPU_THREADS_4SUBTRACT={threads}, VERBOSE_LEVEL=1), all else default "
            "(ForceConv='AUTO', KerPolyOrder=2, BGPolyOrder=0, ConstPhotRatio=True, "
            "MaskSatContam=False)",
            "jit_compile_seconds": float(compile_match.group(1)) if compile_match else None,
            "fwhm_ref": float(prep["FWHM_REF"]),
            "fwhm_sci": float(prep["FWHM_SCI"]),
            "convolved": convolved,
            "flux_scaling": float(fscale),
            "n_subtraction_sources": len(prep["SExCatalog-SubSource"]),
        },
    )


RUNNERS = {"astrid": run_astrid, "properimage": run_properimage, "sfft": run_sfft}


def _save(products: Products, directory: Path, method: str, extra: dict[str, Any]) -> None:
    arrays = {"difference": products.difference, **products.arrays}
    if products.detection_map is not None:
        arrays["detection_map"] = products.detection_map
    if products.mask is not None:
        arrays["mask"] = products.mask
    np.savez(directory / f"{method}.npz", **arrays)
    meta = {"seconds": products.seconds, "info": products.info, **extra}
    (directory / f"{method}.json").write_text(json.dumps(meta, default=float))


def _load(directory: Path, method: str) -> Products:
    meta = json.loads((directory / f"{method}.json").read_text())
    with np.load(directory / f"{method}.npz") as data:
        arrays = {k: data[k] for k in data.files}
    info = {**meta["info"], **{k: v for k, v in meta.items() if k not in ("seconds", "info")}}
    return Products(
        difference=arrays.pop("difference"),
        detection_map=arrays.pop("detection_map", None),
        mask=arrays.pop("mask", None),
        seconds=meta["seconds"],
        info=info,
        arrays=arrays,
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def wait_for_quiet(max_load: float, limit: float) -> dict[str, float]:
    """Wait (up to `limit` s) until the 1-minute load average is below `max_load`."""
    start = time.perf_counter()
    while os.getloadavg()[0] >= max_load and time.perf_counter() - start < limit:
        time.sleep(5)
    return {"waited_seconds": time.perf_counter() - start, "load_at_start": os.getloadavg()[0]}


def _status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of ``/proc/<pid>/status`` in MB (0 when unreadable, e.g. not Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def worker(method: str, directory: Path, threads: int) -> None:
    """Run one method in this process and leave its products, CPU time and peak memory.

    Peak memory is ``VmHWM``, the high-water mark of this process's own address space:
    ``ru_maxrss`` would not do, Linux carries the parent's over ``fork`` + ``exec``.
    SExtractor, which sfft runs as short-lived child processes, is not included.
    """
    baseline = _status_mb("VmRSS")
    cpu_before = _cpu_seconds()
    products = RUNNERS[method](directory, threads)
    cpu = _cpu_seconds() - cpu_before
    _save(
        products,
        directory,
        method,
        {"peak_rss_mb": _status_mb("VmHWM"), "rss_before_mb": baseline, "cpu_seconds": cpu},
    )


def run_isolated(
    method: str, directory: Path, threads: int, timeout: float, max_rss_gb: float
) -> dict[str, Any]:
    """Run `method` in a child process of this interpreter.

    Its process group is killed when it runs past `timeout` seconds or its resident memory
    passes `max_rss_gb` (so a peer cannot take the machine down).
    """
    log_path = directory / f"{method}.log"
    env = {**os.environ, "PATH": search_path()}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        method,
        "--pair-dir",
        str(directory),
        "--threads",
        str(threads),
    ]
    start = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        status = None
        while proc.poll() is None:
            if time.perf_counter() - start > timeout:
                status = "timeout"
            elif _status_mb("VmRSS", proc.pid) > max_rss_gb * 1024:
                status = f"killed: resident memory over {max_rss_gb:g} GB"
            if status is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return {"status": status, "process_seconds": time.perf_counter() - start}
            time.sleep(0.2)
        rc = proc.returncode
    if rc != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
        return {"status": "failed", "returncode": rc, "log_tail": tail}
    return {
        "status": "ok",
        "process_seconds": time.perf_counter() - start,
        "load_at_end": os.getloadavg()[0],
    }


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Regions:
    """Pixels every method is judged on."""

    valid: np.ndarray  # inside the resampled reference's footprint (peaks allowed here)
    quiet: np.ndarray  # source-free pixels
    edge_band: np.ndarray  # within EDGE_BAND px of the footprint edge
    star_xy: np.ndarray  # (n, 2) brightest unsaturated stars


def evaluation_regions(sim: SimulatedPair, reference_aligned: np.ndarray) -> Regions:
    """The footprint, source-free pixels and bright isolated stars, from truth and images.

    Source-free: > `QUIET_RADIUS` px from every truth object, and > 10 px from any pixel
    above 3σ (``quiet_sky``, which ignores features one pixel wide) or above 5σ (which
    catches them: bad columns, hot pixels) in the science image or the resampled reference.
    Stars for the residuals: truth kind ``star`` (unsaturated in both images), brightest
    first, with no other truth object within `STAR_ISOLATION` px, no saturated star within
    `SATURATED_CLEARANCE` px and no bad-column segment within `STAR_ISOLATION` px.
    """
    cfg = sim.config
    ny, nx = cfg.shape
    footprint = np.isfinite(reference_aligned)
    footprint[[0, -1], :] = False
    footprint[:, [0, -1]] = False
    valid = ndimage.binary_erosion(footprint, iterations=2)
    edge_band = valid & ~ndimage.binary_erosion(footprint, iterations=EDGE_BAND)
    x = np.asarray(sim.truth["x"], float)
    y = np.asarray(sim.truth["y"], float)
    kinds = np.asarray([str(k) for k in sim.truth["kind"]])
    inside = (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
    centres = np.zeros((ny, nx), bool)
    centres[np.rint(y[inside]).astype(int), np.rint(x[inside]).astype(int)] = True
    far = ndimage.distance_transform_edt(~centres) > QUIET_RADIUS
    science = sim.science.data.astype(np.float64) - cfg.sky_science
    reference = np.nan_to_num(reference_aligned - cfg.sky_reference)
    quiet = far & valid
    for image in (science, reference):
        sigma = _robust(image[valid])[3]  # measured: resampling smooths the reference's noise
        spikes = ndimage.binary_dilation(np.abs(image) > 5 * sigma, iterations=10)
        quiet &= quiet_sky(image, ~valid, sigma) & ~spikes

    xy = np.column_stack([x, y])
    tree = cKDTree(xy[inside])
    saturated = xy[kinds == "saturated_star"]
    columns = xy[kinds == "bad_column"]  # segment centres; segments are 100-500 px long
    candidates = np.flatnonzero((kinds == "star") & inside)
    candidates = candidates[np.argsort(-np.asarray(sim.truth["flux"], float)[candidates])]
    margin = ANNULUS[1] + 2
    keep = []
    for i in candidates:
        sx, sy = xy[i]
        if not (margin <= sx < nx - margin and margin <= sy < ny - margin):
            continue
        if not valid[int(round(sy)), int(round(sx))]:
            continue
        if len(tree.query_ball_point((sx, sy), STAR_ISOLATION)) > 1:
            continue
        if len(saturated) and np.min(np.hypot(*(saturated - (sx, sy)).T)) < SATURATED_CLEARANCE:
            continue
        if np.any(
            (np.abs(columns[:, 0] - sx) < STAR_ISOLATION) & (np.abs(columns[:, 1] - sy) < 260)
        ):
            continue
        keep.append(i)
        if len(keep) == N_STARS:
            break
    return Regions(valid=valid, quiet=quiet, edge_band=edge_band, star_xy=xy[keep])


def _robust(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, median, std and MAD-based std of the finite values."""
    v = values[np.isfinite(values)].astype(np.float64)
    median = float(np.median(v))
    return (
        float(np.mean(v)),
        median,
        float(np.std(v)),
        float(1.4826 * np.median(np.abs(v - median))),
    )


def matched_filter_snr(difference: np.ndarray, psf: np.ndarray, sigma: float) -> np.ndarray:
    """``(D ⋆ P) / (σ_D √ΣP²)``: point-source S/N of a difference image with PSF `psf`."""
    d = np.nan_to_num(difference.astype(np.float64))
    score = fftconvolve(d, psf[::-1, ::-1], mode="same")
    return (score / (sigma * np.sqrt(np.sum(psf**2)))).astype(np.float32)


def _lag_correlation(d: np.ndarray, quiet: np.ndarray, dy: int, dx: int) -> float:
    """Correlation of pixel pairs ``(y, x)``, ``(y + dy, x + dx)`` both on quiet sky."""
    ny, nx = d.shape
    a = d[: ny - dy, : nx - dx]
    b = d[dy:, dx:]
    both = quiet[: ny - dy, : nx - dx] & quiet[dy:, dx:] & np.isfinite(a) & np.isfinite(b)
    a, b = a[both].astype(np.float64), b[both].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def star_residuals(d_norm: np.ndarray, star_xy: np.ndarray) -> dict[str, float]:
    """RMS of a noise-normalised difference in annuli and cores around stars, pooled."""
    r_in, r_out = ANNULUS
    half = int(np.ceil(r_out))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    annulus_sq, core_sq, per_star = [], [], []
    for sx, sy in star_xy:
        cx, cy = int(round(sx)), int(round(sy))
        stamp = d_norm[cy - half : cy + half + 1, cx - half : cx + half + 1]
        r = np.hypot(xx + cx - sx, yy + cy - sy)
        ring = stamp[(r >= r_in) & (r <= r_out)]
        ring = ring[np.isfinite(ring)]
        core = stamp[r < r_in]
        core = core[np.isfinite(core)]
        if ring.size:
            annulus_sq.append(ring**2)
            per_star.append(float(np.sqrt(np.mean(ring**2))))
        if core.size:
            core_sq.append(core**2)
    return {
        "n_stars": len(per_star),
        "annulus_rms": float(np.sqrt(np.mean(np.concatenate(annulus_sq)))),
        "annulus_rms_median_star": float(np.median(per_star)),
        "annulus_rms_p90_star": float(np.percentile(per_star, 90)),
        "annulus_rms_max_star": float(np.max(per_star)),
        "core_rms": float(np.sqrt(np.mean(np.concatenate(core_sq)))),
    }


BOGUS_CAUSES = ("footprint_edge", "saturated_star", "artifact", "star", "galaxy", "sky")
MASKABLE_CAUSES = ("footprint_edge", "saturated_star", "artifact")


def bogus_causes(x: np.ndarray, y: np.ndarray, sim: SimulatedPair, regions: Regions) -> np.ndarray:
    """What each bogus position lies on, first match in `BOGUS_CAUSES` order.

    ``saturated_star``: within 40 px of one, or within 3 px in x and 200 px in y (bleed
    trails run along columns); ``artifact``: within 5 px of a cosmic ray or hot pixel, or on
    a bad-column segment (3 px in x, 255 px in y of its centre); ``star``: within 10 px of a
    star or variable; ``galaxy``: within 15 px of a galaxy; ``sky``: none of these.
    """
    kinds = np.asarray([str(k) for k in sim.truth["kind"]])
    txy = np.column_stack([np.asarray(sim.truth["x"], float), np.asarray(sim.truth["y"], float)])

    def near(selected: np.ndarray, px: float, py: float, radius: float) -> bool:
        pts = txy[selected]
        return bool(len(pts)) and bool(np.min(np.hypot(pts[:, 0] - px, pts[:, 1] - py)) < radius)

    def along(selected: np.ndarray, px: float, py: float, half_height: float) -> bool:
        pts = txy[selected]
        return bool(np.any((np.abs(pts[:, 0] - px) <= 3) & (np.abs(pts[:, 1] - py) <= half_height)))

    saturated = kinds == "saturated_star"
    spots = (kinds == "cosmic_ray") | (kinds == "hot_pixel")
    columns = kinds == "bad_column"
    stars = (kinds == "star") | (kinds == "variable")
    galaxies = kinds == "galaxy"
    out = []
    for px, py in zip(x.astype(float), y.astype(float), strict=True):
        if regions.edge_band[int(py), int(px)]:
            out.append("footprint_edge")
        elif near(saturated, px, py, 40.0) or along(saturated, px, py, 200.0):
            out.append("saturated_star")
        elif near(spots, px, py, 5.0) or along(columns, px, py, 255.0):
            out.append("artifact")
        elif near(stars, px, py, 10.0):
            out.append("star")
        elif near(galaxies, px, py, 15.0):
            out.append("galaxy")
        else:
            out.append("sky")
    return np.asarray(out, dtype="<U16")


def _score(
    peaks: Peaks, sim: SimulatedPair, regions: Regions
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Peaks to sky with the science WCS, scored against the truth; bogus mask and causes."""
    wcs = sim.science.wcs
    assert wcs is not None
    ra, dec = wcs.pixel_to_world_values(peaks.x.astype(float), peaks.y.astype(float))
    table = Table({"ra": np.atleast_1d(ra), "dec": np.atleast_1d(dec)})
    score = match_to_truth(sim.truth, table)
    bogus = np.asarray(score["bogus_mask"], bool)
    causes = np.full(len(peaks), "", dtype="<U16")
    causes[bogus] = bogus_causes(peaks.x[bogus], peaks.y[bogus], sim, regions)
    summary = {
        "n_candidates": score["n_candidates"],
        "n_real_matched": score["n_real_matched"],
        "n_variable_matched": score["n_variable_matched"],
        "n_bogus": score["n_bogus"],
        "n_bogus_positive": int((bogus & (peaks.sign > 0)).sum()),
        "bogus_causes": {c: int((causes == c).sum()) for c in BOGUS_CAUSES},
        "completeness_all": score["completeness_all"],
        "optimum_all": score["optimum_all"],
        "efficiency_vs_optimum": score["efficiency_vs_optimum"],
        "completeness_snr_ge_8": score["completeness_snr_ge_8"],
        "completeness_on_galaxy_snr_ge_8": score["completeness_on_galaxy_snr_ge_8"],
        "completeness_bins": score["completeness"],
    }
    return summary, bogus, causes


def _subset(peaks: Peaks, keep: np.ndarray) -> Peaks:
    return Peaks(
        x=peaks.x[keep],
        y=peaks.y[keep],
        scorr=peaks.scorr[keep],
        sign=peaks.sign[keep],
        n_merged=peaks.n_merged[keep],
        dipole=peaks.dipole[keep],
    )


def _at_bogus(
    peaks: Peaks,
    sim: SimulatedPair,
    regions: Regions,
    counted: np.ndarray,
    max_bogus: int,
    found: dict[str, Any],
) -> dict[str, Any]:
    """Scores at the lowest threshold leaving at most `max_bogus` of the `counted` bogus."""
    strength = np.abs(peaks.scorr)
    levels = np.sort(strength[counted])[::-1]
    if len(levels) > max_bogus:
        cut = float(levels[max_bogus])
        found, _, _ = _score(_subset(peaks, strength > cut), sim, regions)
    else:
        cut = THRESHOLD
    return {
        "max_bogus": max_bogus,
        "threshold": cut,
        **{k: v for k, v in found.items() if k != "completeness_bins"},
    }


def detect_and_score(
    detection_map: np.ndarray,
    sim: SimulatedPair,
    regions: Regions,
    *,
    reference_bogus: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``find_peaks`` at |map| ≥ 5 in the footprint, positions to sky, scored against truth.

    With `reference_bogus` (AstrID's bogus counts by cause), also the scores at the lowest
    threshold at which this map has no more bogus than AstrID (``at_matched_bogus``), and the
    same counting only bogus on sky, stars and galaxies, i.e. as if saturated stars,
    artifacts and the footprint edge were masked (``at_matched_bogus_unmaskable``). Keeping
    the peaks found at 5 that are stronger than the (n + 1)-th strongest bogus one is what
    ``find_peaks`` finds at that threshold (peaks only merge into stronger ones), and
    dropping candidates can only turn bogus ones real, never the reverse.
    """
    peaks = find_peaks(detection_map, threshold=THRESHOLD, valid=regions.valid)
    out, bogus, causes = _score(peaks, sim, regions)
    if reference_bogus is not None:
        total = sum(reference_bogus.values())
        out["at_matched_bogus"] = _at_bogus(peaks, sim, regions, bogus, total, out)
        unmaskable = bogus & ~np.isin(causes, MASKABLE_CAUSES)
        n_unmaskable = sum(v for k, v in reference_bogus.items() if k not in MASKABLE_CAUSES)
        out["at_matched_bogus_unmaskable"] = _at_bogus(
            peaks, sim, regions, unmaskable, n_unmaskable, out
        )
    return out


def evaluate(
    products: Products,
    sim: SimulatedPair,
    regions: Regions,
    psf: np.ndarray | None,
    *,
    reference_bogus: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Noise, star residuals and detection quality of one method's products."""
    d = products.difference.astype(np.float64)
    if products.mask is not None:
        d = np.where(products.mask, np.nan, d)
    d_mean, _, d_std, d_noise = _robust(d[regions.quiet])
    d_norm = (d - np.nanmedian(d[regions.quiet])) / d_noise
    out: dict[str, Any] = {
        "difference_noise": {
            "robust_std": d_noise,
            "std_over_robust_std": d_std / d_noise,
            "mean_over_noise": d_mean / d_noise,
            "lag1_corr_x": _lag_correlation(d_norm, regions.quiet, 0, 1),
            "lag1_corr_y": _lag_correlation(d_norm, regions.quiet, 1, 0),
            "lag1_corr_xy": _lag_correlation(d_norm, regions.quiet, 1, 1),
            "n_pixels": int(regions.quiet.sum()),
        },
        "star_residuals": star_residuals(d_norm, regions.star_xy),
    }
    if products.detection_map is not None:
        raw = products.detection_map.astype(np.float64)
        out["detection_map"] = "its S_corr"
    else:
        assert psf is not None
        raw = matched_filter_snr(products.difference, psf, d_noise).astype(np.float64)
        out["detection_map"] = "matched-filter S/N of its difference (AstrID's measured PSF)"
    if products.mask is not None:
        raw = np.where(products.mask, 0.0, raw)
    raw = np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0)
    mean, median, std, robust_std = _robust(raw[regions.quiet])
    normalised = raw / robust_std
    n_mean, n_median, n_std, n_robust = _robust(normalised[regions.quiet])
    out["map_noise_raw"] = {"mean": mean, "median": median, "std": std, "robust_std": robust_std}
    out["map_noise"] = {"mean": n_mean, "median": n_median, "std": n_std, "robust_std": n_robust}
    out["detection"] = detect_and_score(normalised, sim, regions, reference_bogus=reference_bogus)
    out["detection_raw"] = detect_and_score(raw, sim, regions)
    return out


# --------------------------------------------------------------------------- one pair


def benchmark_pair(
    sim: SimulatedPair,
    directory: Path,
    methods: tuple[str, ...] = METHODS,
    *,
    isolate: bool = True,
    timeout: float = 900.0,
    max_rss_gb: float = 16.0,
    threads: int = 2,
    repeats: int = 1,
    quiet_load: float | None = None,
    quiet_wait: float = 300.0,
) -> dict[str, Any]:
    """Write the pair, run every method on it and judge them all the same way.

    Parameters
    ----------
    sim : SimulatedPair
        The pair with its truth.
    directory : Path
        Where the FITS files and the methods' products go.
    methods : tuple of str
        Any of `METHODS`; ``"astrid"`` runs first (sfft's S/N map uses its PSF).
    isolate : bool
        Run each method in a child process (own wall time and peak memory, `timeout`
        enforced); False runs them here (tests), with no memory figures and no timeout.
    timeout : float
        Seconds a method may take before it is killed and recorded as ``"timeout"``.
    max_rss_gb : float
        Resident memory at which a method is killed (recorded as such).
    threads : int
        sfft's ``NUM_CPU_THREADS_4SUBTRACT``.
    repeats : int
        Isolated runs of each method whose first run took under `REPEAT_UNDER` s; the
        fastest wall time is reported, all of them are kept.
    quiet_load : float, optional
        Before each isolated run, wait (up to `quiet_wait` s) for the 1-minute load
        average to drop below this (other work on the machine skews wall times).
    quiet_wait : float
        See `quiet_load`.

    Returns
    -------
    dict
        ``peer_prep_seconds`` and one entry per method under ``methods``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = sim.write(directory)
    prep_seconds = write_peer_inputs(paths)
    reference_aligned = fits.getdata(directory / REFERENCE_ALIGNED).astype(np.float64)
    regions = evaluation_regions(sim, reference_aligned)
    order = sorted(methods, key=lambda m: m != "astrid")
    results: dict[str, Any] = {}
    psfs: dict[str, np.ndarray] = {}
    astrid_bogus: dict[str, int] | None = None  # peers are also scored at AstrID's bogus
    for method in order:
        if isolate:
            runs: list[dict[str, Any]] = []
            best: Products | None = None
            while not runs or (len(runs) < repeats and runs[0]["seconds"] < REPEAT_UNDER):
                quiet = wait_for_quiet(quiet_load, quiet_wait) if quiet_load else {}
                status = run_isolated(method, directory, threads, timeout, max_rss_gb)
                if status["status"] != "ok":
                    break
                done = _load(directory, method)
                runs.append(
                    {
                        "seconds": done.seconds,
                        "cpu_seconds": done.info.get("cpu_seconds"),
                        "peak_rss_mb": done.info.get("peak_rss_mb"),
                        **quiet,
                        "load_at_end": status["load_at_end"],
                    }
                )
                if best is None or done.seconds <= best.seconds:
                    best = done
            if status["status"] != "ok" and not runs:
                results[method] = {**status, **quiet}
                continue
            assert best is not None
            products = best
            status = {"status": "ok", "runs": runs}
        else:
            products = RUNNERS[method](directory, threads)
            status = {"status": "ok"}
        if method == "astrid":
            psfs = {"REF": products.arrays["science_psf"], "SCI": products.arrays["reference_psf"]}
        psf = None
        if products.detection_map is None:
            # sfft: the difference carries the PSF of the image it did not convolve.
            psf = psfs.get(products.info.get("convolved", "REF"))
            if psf is None:
                results[method] = {**status, "status": "no PSF (astrid did not run)"}
                continue
        entry: dict[str, Any] = {
            **status,
            "seconds": products.seconds,
            "info": {k: v for k, v in products.info.items()},
            **evaluate(products, sim, regions, psf, reference_bogus=astrid_bogus),
        }
        if method == "astrid":
            native = Table(
                {"ra": products.arrays["native_ra"], "dec": products.arrays["native_dec"]}
            )
            score = match_to_truth(sim.truth, native)
            entry["native_pipeline"] = {
                "note": "AstrID's own candidate table (refined positions, merge radius 1 FWHM)",
                "n_candidates": score["n_candidates"],
                "n_bogus": score["n_bogus"],
                "efficiency_vs_optimum": score["efficiency_vs_optimum"],
                "completeness_all": score["completeness_all"],
            }
        results[method] = entry
        if method == "astrid":
            astrid_bogus = entry["detection"]["bogus_causes"]
    return {
        "peer_prep_seconds": prep_seconds,
        "regions": {
            "valid_pixels": int(regions.valid.sum()),
            "quiet_pixels": int(regions.quiet.sum()),
            "n_stars_for_residuals": len(regions.star_xy),
        },
        "methods": results,
    }


# --------------------------------------------------------------------------- reporting


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _sextractor_version() -> str | None:
    path = sextractor()
    if path is None:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip() or None


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024**2:.0f} GB"
    return (
        f"{platform.node()}, {cpu}, {os.cpu_count()} cores{mem}, "
        f"{platform.system()} {platform.machine()}, Python {sys.version.split()[0]}"
    )


def astrid_commit() -> str | None:
    """The checkout's commit, with ``+dirty`` when src/ has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def versions() -> dict[str, str | None]:
    packages = ("astrid", "numpy", "scipy", "astropy", "sep", "photutils", "reproject")
    peers = ("properimage", "astroalign", "pyFFTW", "sfft", "numba", "llvmlite", "fastremap")
    out = {p: _version(p) for p in (*packages, *peers)}
    out["SExtractor"] = _sextractor_version()
    out["astrid_commit"] = astrid_commit()
    return out


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """AstrID's speed-up over the fastest peer that finished, and their completeness."""
    methods = result["methods"]
    astrid = methods.get("astrid", {})
    peers = {name: m for name, m in methods.items() if name != "astrid" and m.get("status") == "ok"}
    if astrid.get("status") != "ok" or not peers:
        return {}
    prep = sum(result["peer_prep_seconds"].values())

    def own_seconds(m: dict[str, Any]) -> float:
        return m["seconds"] - (m["info"].get("jit_compile_seconds") or 0.0)

    name, fastest = min(peers.items(), key=lambda item: own_seconds(item[1]))
    return {
        "fastest_peer": name,
        "fastest_peer_seconds_without_jit_compile": own_seconds(fastest),
        "fastest_peer_seconds": fastest["seconds"],
        "astrid_seconds": astrid["seconds"],
        "speedup_vs_fastest_peer_without_jit_compile": own_seconds(fastest) / astrid["seconds"],
        "speedup_vs_fastest_peer": fastest["seconds"] / astrid["seconds"],
        "speedup_vs_fastest_peer_with_its_input_prep": (fastest["seconds"] + prep)
        / astrid["seconds"],
        "astrid_efficiency": astrid["detection"]["efficiency_vs_optimum"],
        "fastest_peer_efficiency": fastest["detection"]["efficiency_vs_optimum"],
        "astrid_completeness_at_least_peer": astrid["detection"]["completeness_all"]
        >= fastest["detection"]["completeness_all"],
    }


def print_table(size: int, result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(title=f"{size}² pair (threshold {THRESHOLD:g} on each map / its robust σ)")
    for column in (
        "method",
        "wall s",
        "CPU s",
        "peak MB",
        "map σ raw",
        "map σ",
        "map mean",
        "D lag-1 x/y",
        "star ring RMS pooled / median",
        "efficiency",
        "completeness",
        "bogus (sat/artif/edge)",
        "compl. at AstrID's bogus (thr)",
        "same, unmaskable bogus (thr)",
    ):
        table.add_column(column, justify="right" if column != "method" else "left")
    for name, m in result["methods"].items():
        if m.get("status") != "ok":
            table.add_row(name, m.get("status", "?"), *[""] * 12)
            continue
        seconds = f"{m['seconds']:.1f}"
        jit = m["info"].get("jit_compile_seconds")
        if jit:
            seconds += f" ({jit:.1f} JIT)"
        peak = m["info"].get("peak_rss_mb")
        cpu = m["info"].get("cpu_seconds")
        noise, det = m["difference_noise"], m["detection"]
        causes = det["bogus_causes"]
        table.add_row(
            name,
            seconds,
            f"{cpu:.1f}" if cpu else "-",
            f"{peak:.0f}" if peak else "-",
            f"{m['map_noise_raw']['robust_std']:.3g}",
            f"{m['map_noise']['std']:.3f}",
            f"{m['map_noise']['mean']:+.3f}",
            f"{noise['lag1_corr_x']:+.2f}/{noise['lag1_corr_y']:+.2f}",
            f"{m['star_residuals']['annulus_rms']:.2f}"
            f" / {m['star_residuals']['annulus_rms_median_star']:.2f}",
            f"{det['efficiency_vs_optimum']:.3f}",
            f"{det['completeness_all']:.3f}",
            f"{det['n_bogus']} ({causes['saturated_star']}/{causes['artifact']}/"
            f"{causes['footprint_edge']})",
            *(
                f"{det[key]['completeness_all']:.3f} ({det[key]['threshold']:.1f})"
                if key in det
                else ""
                for key in ("at_matched_bogus", "at_matched_bogus_unmaskable")
            ),
        )
    Console(width=200).print(table)
    prep = result["peer_prep_seconds"]
    print(
        f"peer input prep (not in the peers' times): reproject {prep['reproject']:.1f} s, "
        f"sky subtraction {prep['sky_subtraction']:.1f} s"
    )
    summary = result.get("summary")
    if summary:
        print(
            f"AstrID {summary['astrid_seconds']:.1f} s vs {summary['fastest_peer']} "
            f"{summary['fastest_peer_seconds']:.1f} s: "
            f"{summary['speedup_vs_fastest_peer']:.1f}× "
            f"({summary['speedup_vs_fastest_peer_without_jit_compile']:.1f}× without its JIT "
            f"compile, {summary['speedup_vs_fastest_peer_with_its_input_prep']:.1f}× with its "
            "input prep)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per method and pair")
    ap.add_argument(
        "--max-rss-gb", type=float, default=16.0, help="memory at which a method is killed"
    )
    ap.add_argument("--threads", type=int, default=2, help="sfft's NumPy-backend threads")
    ap.add_argument(
        "--repeats", type=int, default=3, help=f"runs of methods faster than {REPEAT_UNDER:g} s"
    )
    ap.add_argument(
        "--quiet-load",
        type=float,
        default=1.0,
        help="wait before each run until the 1-min load average is below this (0: don't)",
    )
    ap.add_argument("--quiet-wait", type=float, default=300.0, help="longest such wait, s")
    ap.add_argument("--out", type=Path, default=Path("docs/results"))
    ap.add_argument("--workdir", type=Path, default=None, help="keep the FITS and products here")
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--pair-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.pair_dir, args.threads)
        return
    command = (
        f"{Path(sys.executable).name} benchmarks/peers.py --sizes {' '.join(map(str, args.sizes))}"
        f" --seed {args.seed} --methods {' '.join(args.methods)} --timeout {args.timeout:g}"
        f" --max-rss-gb {args.max_rss_gb:g} --threads {args.threads} --repeats {args.repeats}"
        f" --quiet-load {args.quiet_load:g} --quiet-wait {args.quiet_wait:g}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        sim = simulate_pair(simulation_config(size), seed=args.seed)
        with contextlib.ExitStack() as stack:
            if args.workdir is None:
                directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            else:
                directory = args.workdir / f"pair_{size}"
            result = benchmark_pair(
                sim,
                directory,
                tuple(args.methods),
                timeout=args.timeout,
                max_rss_gb=args.max_rss_gb,
                threads=args.threads,
                repeats=args.repeats,
                quiet_load=args.quiet_load or None,
                quiet_wait=args.quiet_wait,
            )
        result["summary"] = summarise(result)
        report = {
            "machine": machine(),
            "command": command,
            "versions": versions(),
            "size": size,
            "seed": args.seed,
            "config": {k: str(v) for k, v in vars(sim.config).items()},
            "timeout_seconds": args.timeout,
            "max_rss_gb": args.max_rss_gb,
            "peer_inputs": (
                "science.fits as simulated; reference resampled onto the science grid with "
                "reproject_interp(order='bicubic') using both images' WCS (NaN outside); sfft "
                "gets both sky-subtracted with sep.Background (64 px boxes) and ESATUR. This "
                "preparation is timed in peer_prep_seconds and is not in the peers' seconds."
            ),
            "timing": (
                "seconds: wall clock of the method's call in its own process, FITS reading "
                "included (AstrID: read_image ×2 + prepare_pair + subtract, its alignment "
                "included; properimage: reading + SingleImage + operations.subtract; sfft: "
                "Easy_SparsePacket.ESP including SExtractor and numba JIT compilation, the "
                "latter also given alone in info.jit_compile_seconds). peak_rss_mb: "
                "VmHWM of that process (imports included; rss_before_mb is its resident "
                "memory before the call); sfft's SExtractor child processes are not included."
            ),
            **result,
        }
        path = args.out / f"peers_{size}.json"
        path.write_text(json.dumps(report, indent=1, default=float))
        print_table(size, result)
        print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
