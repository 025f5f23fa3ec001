"""Bad-pixel masks: saturation and bleed trails, bad column segments, streaks, cosmic rays.

Conventions: arrays are ``[y, x]``, pixels 0-based, data in ADU; ``True`` in a mask means
"do not trust this pixel". :func:`build_mask` never modifies its input and returns every
component mask separately so later stages (and people) can see why a pixel was dropped.

Cosmic rays come from ``astroscrappy`` (L.A.Cosmic) with a noise model measured from the
image itself (sky rms + source Poisson term), so sky-subtracted frames, whose pixel values
no longer carry the sky's Poisson noise, are handled as well as raw ones. Hot pixels are
sharp too and are flagged with the cosmic rays, which is what we want.

Examples
--------
>>> import numpy as np
>>> from astrid.observations.image import Image
from astrid.preprocess.cosmic_rays import find_cosmic_rays
>>> rng = np.random.default_rng(1)
>>> data = rng.normal(1000.0, 30.0, (128, 128)).astype(np.float32)
>>> data[40, 50] += 5000.0  # a cosmic-ray hit
>>> meta = ImageMeta(gain=1.0, read_noise=5.0, saturation=60000.0)
>>> result = build_mask(Image(data, np.zeros(data.shape, bool), None, meta))
>>> bool(result.cosmic_rays[40, 50])
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import sep
from astropy.stats import mad_std
from scipy import ndimage

from astrid.observations.image import Image
from astrid.preprocess.cosmic_rays import find_cosmic_rays
from astrid.preprocess.streaks import Streak, StreakConfig, find_streaks

__all__ = ["MaskConfig", "MaskResult", "build_mask"]

# sep's background mesh; also the scale below which structure counts as "source".
_BACKGROUND_BOX = 64


@dataclass(frozen=True)
class MaskConfig:
    """Settings of :func:`build_mask`.

    Attributes
    ----------
    saturation_fraction : float
        Pixels at or above this fraction of ``meta.saturation`` are saturated.
    grow_saturated_px : int
        Saturated regions (incl. bleed trails) are dilated by this many pixels.
    bleed_fraction : float
        A bleed trail is every pixel above ``bleed_fraction`` × the saturation threshold
        that is connected to a saturated pixel.
    cosmic_rays : bool
        Run cosmic-ray (and hot-pixel) detection.
    cr_sigclip : float
        L.A.Cosmic Laplacian-to-noise detection limit.
    cr_objlim : float
        L.A.Cosmic contrast limit between Laplacian and fine-structure images; raise it if
        star cores are flagged. On undersampled images the limit used is at least the
        contrast of the image's own PSF (`astrid.preprocess.cosmic_rays`).
    cr_niter : int
        L.A.Cosmic iterations; 2 finds practically all hits on imaging data, at half the
        cost of astroscrappy's default 4.
    cr_fsmode : {"median", "convolve"}
        How astroscrappy builds its fine-structure image.
    bad_columns : bool
        Look for bad column segments.
    column_sigma : float
        A column block is bad when both its mean residual against the neighbouring columns
        (in standard errors) and its sign test exceed this.
    column_block_px : int
        Length in rows of the blocks in which a column is compared with its neighbours;
        segments shorter than this are not reliably found, and flagged segments may
        extend up to a quarter block beyond the defect.
    streaks : bool
        Look for satellite trails and other long straight streaks
        (`astrid.preprocess.streaks`).
    streak : StreakConfig
        Their detection settings.
    """

    saturation_fraction: float = 0.95
    grow_saturated_px: int = 2
    bleed_fraction: float = 0.5
    cosmic_rays: bool = True
    cr_sigclip: float = 5.0
    cr_objlim: float = 5.0
    cr_niter: int = 1
    cr_fsmode: Literal["median", "convolve"] = "median"
    bad_columns: bool = True
    column_sigma: float = 5.0
    column_block_px: int = 64
    streaks: bool = True
    streak: StreakConfig = field(default_factory=StreakConfig)


@dataclass(frozen=True, eq=False)
class MaskResult:
    """What :func:`build_mask` found.

    Attributes
    ----------
    mask : numpy.ndarray
        bool, the union of the input mask (and non-finite pixels) with every component.
    saturated : numpy.ndarray
        bool, saturated pixels, their bleed trails, grown by ``grow_saturated_px``.
    cosmic_rays : numpy.ndarray
        bool, cosmic-ray hits and hot pixels.
    bad_columns : numpy.ndarray
        bool, bad column segments.
    streaks : numpy.ndarray
        bool, satellite trails and other long streaks.
    streak_lines : tuple of Streak
        The streaks found (ends, half-width, amplitude).
    cleaned : numpy.ndarray
        float32 data with cosmic-ray pixels replaced by astroscrappy's interpolation
        (other pixels are the input data).
    cr_objlim : float
        The L.A.Cosmic contrast limit used: the configured one, or the image PSF's own when
        the image is undersampled (`astrid.preprocess.cosmic_rays`); NaN when off.
    """

    mask: np.ndarray
    saturated: np.ndarray
    cosmic_rays: np.ndarray
    bad_columns: np.ndarray
    streaks: np.ndarray
    streak_lines: tuple[Streak, ...]
    cleaned: np.ndarray
    cr_objlim: float = float("nan")

    @property
    def n_masked(self) -> int:
        """Pixels masked in total."""
        return int(np.count_nonzero(self.mask))

    @property
    def n_saturated(self) -> int:
        """Pixels masked as saturated or bleeding."""
        return int(np.count_nonzero(self.saturated))

    @property
    def n_cosmic_rays(self) -> int:
        """Pixels masked as cosmic rays or hot pixels."""
        return int(np.count_nonzero(self.cosmic_rays))

    @property
    def n_bad_columns(self) -> int:
        """Pixels masked as bad column segments."""
        return int(np.count_nonzero(self.bad_columns))

    @property
    def n_streaks(self) -> int:
        """Pixels masked as streaks."""
        return int(np.count_nonzero(self.streaks))

    @property
    def masked_fraction(self) -> float:
        """Fraction of the image that is masked."""
        return self.n_masked / self.mask.size if self.mask.size else 0.0


def build_mask(image: Image, config: MaskConfig = MaskConfig()) -> MaskResult:
    """Find saturated, cosmic-ray and bad-column pixels in an image.

    Parameters
    ----------
    image : Image
        Image in ADU, with ``meta.gain`` (e-/ADU), ``meta.read_noise`` (e-) and
        ``meta.saturation`` (ADU; ``inf`` disables the saturation mask). Not modified.
    config : MaskConfig, optional
        Detection settings.

    Returns
    -------
    MaskResult
        The union mask, each component and the cosmic-ray-cleaned data.

    Notes
    -----
    Order matters: saturation first, then bad columns (with saturated pixels ignored),
    then streaks, then cosmic rays with all of those excluded, so a hot column is reported
    as a column and a trail as a trail, not "cleaned" as strings of cosmic rays.
    """
    data = np.asarray(image.data, dtype=np.float32)
    input_bad = np.asarray(image.mask, dtype=bool) | ~np.isfinite(data)
    step = max(1, int(np.sqrt(data.size / 250_000)))  # a median of ~2.5e5 pixels is plenty
    good = data[::step, ::step][~input_bad[::step, ::step]]
    fill = float(np.median(good)) if good.size else 0.0
    work = np.ascontiguousarray(np.where(input_bad, np.float32(fill), data), dtype=np.float32)

    saturated = _saturated(work, input_bad, image.meta.saturation, config)
    excluded = input_bad | saturated
    background = sep.Background(work, mask=excluded, bw=_BACKGROUND_BOX, bh=_BACKGROUND_BOX)
    sky = background.back()
    rms = _sky_rms(work, sky, excluded)

    if config.bad_columns:
        bad_columns = _bad_columns(work, sky, rms, excluded, config)
    else:
        bad_columns = np.zeros(data.shape, dtype=bool)

    if config.streaks:
        known = excluded | bad_columns
        found = find_streaks((work - sky) / np.float32(rms), known, config.streak)
        streaks, streak_lines = found.mask & ~known, found.streaks
    else:
        streaks, streak_lines = np.zeros(data.shape, dtype=bool), ()

    if config.cosmic_rays:
        cosmic_rays, clean, objlim = find_cosmic_rays(
            work,
            sky,
            rms,
            excluded | bad_columns | streaks,
            image.meta,
            sigclip=config.cr_sigclip,
            objlim=config.cr_objlim,
            niter=config.cr_niter,
            fsmode=config.cr_fsmode,
        )
        cleaned = np.where(cosmic_rays, clean, data).astype(np.float32)
    else:
        cosmic_rays = np.zeros(data.shape, dtype=bool)
        cleaned = data.copy()
        objlim = float("nan")

    mask = input_bad | saturated | bad_columns | streaks | cosmic_rays
    return MaskResult(
        mask=mask,
        saturated=saturated,
        cosmic_rays=cosmic_rays,
        bad_columns=bad_columns,
        streaks=streaks,
        streak_lines=streak_lines,
        cleaned=cleaned,
        cr_objlim=objlim,
    )


def _saturated(
    work: np.ndarray, input_bad: np.ndarray, saturation: float, config: MaskConfig
) -> np.ndarray:
    """Saturated pixels plus their connected bleed trails, grown (already-bad ones ignored)."""
    if not np.isfinite(saturation) or saturation <= 0:
        return np.zeros(work.shape, dtype=bool)
    level = config.saturation_fraction * saturation
    core = (work >= level) & ~input_bad
    if not core.any():
        return core
    bright = (work >= config.bleed_fraction * level) & ~input_bad
    labels, _ = ndimage.label(bright | core)
    keep = np.unique(labels[core])
    trail = np.isin(labels, keep[keep > 0])
    grow = int(config.grow_saturated_px)
    if grow > 0:
        trail = ndimage.maximum_filter(trail, size=2 * grow + 1)
    return np.asarray(trail, dtype=bool)


def _sky_rms(work: np.ndarray, sky: np.ndarray, excluded: np.ndarray) -> float:
    """Robust per-pixel sky noise (ADU) from a subsample of unmasked pixels."""
    step = max(1, int(np.sqrt(work.size / 1_000_000)))  # ~1e6 pixels is plenty
    resid = (work - sky)[::step, ::step][~excluded[::step, ::step]]
    rms = float(mad_std(resid)) if resid.size else 0.0
    return rms if np.isfinite(rms) and rms > 0 else 1.0


def _bad_columns(
    work: np.ndarray,
    sky: np.ndarray,
    rms: float,
    excluded: np.ndarray,
    config: MaskConfig,
) -> np.ndarray:
    """Column segments whose level departs from their neighbours' over a block of rows.

    Each pixel is compared with the median of its four horizontal neighbours (x±1, x±2,
    robust to one bad neighbour). Pixels whose neighbours are above the sky (stars,
    galaxies) are left out: there the profile's curvature, not the detector, makes a
    column stand out. In blocks of ``column_block_px`` rows, stepped by a quarter block
    so any segment that long fills at least 3/4 of one block, two statistics must both
    exceed ``column_sigma``: the mean residual (clipped at ±3σ) over its standard error,
    and a sign test (how many more rows lie above than below their neighbours). The
    sign test ignores how bright a stray star or cosmic ray is, the mean keeps faint
    offsets detectable; requiring both keeps noise excursions of the many overlapping
    blocks from being called bad.
    """
    ny, nx = work.shape
    window = int(min(config.column_block_px, ny))
    step = max(1, window // 4)
    per_block = max(1, window // step)
    if nx < 5 or ny < step:
        return np.zeros(work.shape, dtype=bool)
    neighbours = _median_of_horizontal_neighbours(work)
    resid = work - neighbours
    above = neighbours - sky
    local = above.copy()
    for shift in (1, 2):  # 5-row box sum of the neighbours' level above the sky
        local[shift:] += above[:-shift]
        local[:-shift] += above[shift:]
    valid = ~excluded & (local < 5.0 * rms)
    # One masked neighbour biases the neighbour median; skip pixels next to masked ones.
    valid &= ~ndimage.maximum_filter1d(excluded, size=5, axis=1)
    clipped = np.where(valid, np.clip(resid, -3.0 * rms, 3.0 * rms), 0.0).astype(np.float32)
    sign = np.where(valid, np.sign(resid), 0.0).astype(np.float32)

    # Sums over strips of `step` rows, then over `per_block` consecutive strips.
    n_strips = -(-ny // step)
    pad = n_strips * step - ny

    def strip_sums(values: np.ndarray) -> np.ndarray:
        padded = np.pad(values, ((0, pad), (0, 0))) if pad else values
        strips = padded.reshape(n_strips, step, nx).sum(axis=1, dtype=np.float64)
        cumulative = np.concatenate([np.zeros((1, nx)), np.cumsum(strips, axis=0)])
        n_blocks = max(1, n_strips - per_block + 1)
        stop = np.minimum(np.arange(n_blocks) + per_block, n_strips)
        return np.asarray(cumulative[stop] - cumulative[stop - min(per_block, n_strips)])

    sums = strip_sums(clipped)
    signs = strip_sums(sign)
    counts = strip_sums(valid.astype(np.float32))
    enough = counts >= window / 4
    root_n = np.sqrt(np.maximum(counts, 1.0))
    sigma_resid = _robust_std(resid[valid]) if valid.any() else rms
    z_mean = np.where(enough, sums / root_n / sigma_resid, 0.0)
    z_sign = np.where(enough, signs / root_n, 0.0)
    # Correlated noise (resampled images) widens both; calibrate on the blocks themselves.
    for z in (z_mean, z_sign):
        sample = z[enough]
        spread = float(mad_std(sample)) if sample.size > 100 else 1.0
        z /= max(1.0, spread if np.isfinite(spread) else 1.0)
    bad = (
        (np.abs(z_mean) > config.column_sigma)
        & (np.abs(z_sign) > config.column_sigma)
        & (z_mean * z_sign > 0)
    )
    if not bad.any():
        return np.zeros(work.shape, dtype=bool)
    # A bad column biases its neighbours' neighbour-median, so they show a weaker
    # opposite-sign echo; keep only the column that explains it.
    magnitude = np.abs(z_mean)
    for shift in (1, 2):
        for near in (_shift_columns(z_mean, shift), _shift_columns(z_mean, -shift)):
            bad &= ~((near * z_mean < 0) & (np.abs(near) > magnitude))
    # Back to pixels: a flagged block marks all the strips it spans.
    strips_bad = np.zeros((n_strips, nx), dtype=bool)
    for offset in range(min(per_block, n_strips)):
        strips_bad[offset : offset + bad.shape[0]] |= bad
    return np.repeat(strips_bad, step, axis=0)[:ny]


def _median_of_horizontal_neighbours(work: np.ndarray) -> np.ndarray:
    """Median of the pixels at x±1 and x±2 (edge-replicated): mean of the middle two."""
    padded = np.pad(work, ((0, 0), (2, 2)), mode="edge")
    nx = work.shape[1]
    a, b = padded[:, 0:nx], padded[:, 1 : nx + 1]
    c, d = padded[:, 3 : nx + 3], padded[:, 4 : nx + 4]
    # Of two sorted pairs, the middle two of all four are max(lows) and min(highs).
    low = np.maximum(np.minimum(a, b), np.minimum(c, d))
    high = np.minimum(np.maximum(a, b), np.maximum(c, d))
    low += high
    low *= np.float32(0.5)
    return low


def _shift_columns(values: np.ndarray, shift: int) -> np.ndarray:
    """``values`` moved ``shift`` columns to the right (zeros shifted in)."""
    out = np.zeros_like(values)
    if shift > 0:
        out[:, shift:] = values[:, :-shift]
    else:
        out[:, :shift] = values[:, -shift:]
    return out


def _robust_std(values: np.ndarray) -> float:
    """MAD-based standard deviation of at most ~1e6 values."""
    step = max(1, values.size // 1_000_000)
    std = float(mad_std(values[::step]))
    return std if np.isfinite(std) and std > 0 else 1.0
