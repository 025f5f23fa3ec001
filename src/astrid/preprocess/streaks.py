"""Satellite and aircraft trails, and other long straight streaks, found and masked.

A trail a few pixels wide can be far below the noise per pixel (1σ) and still leave
hundreds of candidates along its length in a difference image; in a reference it leaves a
negative line in every difference made with it. Like Rubin's ``maskStreaks`` this finds
lines with a Hough transform of the pixels that stand out, then measures each line's width
on the image and masks it:

1. The sky-subtracted image in units of its noise is summed in ``b × b`` bins (``b`` chosen
   so the binned image is at most ``max_binned_px`` on a side). For a line of width ``w``
   and amplitude ``a`` σ per pixel a bin's sum is ``≈ a·w·b`` over a noise of ``b``: binning
   keeps a line's significance per bin (``a·w``) and cuts the number of noise bins by b².
   A running median over ``background_bins``² bins is taken off (it removes galaxies and
   halos but not a line a bin or two wide), and the values are divided by their robust
   spread, so correlated noise does not fake lines.
2. Bins above ``vote_sigma`` vote in a Hough accumulator (angle step one bin over the
   image's diagonal, distance step one bin). The strongest line's votes within a bin of it
   are split into runs (gaps up to ``max_gap_bins``); the richest run is a streak when it
   is at least ``min_length_px`` long, at least ``min_fill`` of its bins vote, and it has
   ``min_significance`` σ more votes than the noise and stars give a band of that size.
   Stars, galaxies and short features (a galaxy's disc, a diffraction spike shorter than
   ``min_length_px``) fail the length test.
3. On the full-resolution image the line's centre and half-width come from the median
   profile across it (every pixel of its length, each less its local level two bins beyond
   ``max_half_width_px``): the half-width is where that profile
   stops being significant (3σ), plus ``margin_px``. A line wider than
   ``max_half_width_px``, or much brighter in its middle than at its ends (the major axis
   of a large galaxy is both), is not a streak. The band, extended by the half-width
   beyond both ends, is masked; its votes are removed and the next line is sought, up to
   ``max_streaks``.

Conventions: arrays ``[y, x]``, pixels 0-based, positions ``(x, y)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Streak", "StreakConfig", "StreakResult", "find_streaks"]

# Half-width, in bins, of the band around a line whose votes count for it.
_HALF_BAND = 1.0


@dataclass(frozen=True)
class StreakConfig:
    """Settings of :func:`find_streaks`.

    Attributes
    ----------
    max_binned_px : int
        The bin size is chosen so the binned image is at most this many bins on a side.
    min_bin_px : int
        Smallest bin: a bin narrower than a trail catches only part of its width.
    background_bins : int
        Side, in bins, of the running median taken off the binned image before voting.
    vote_sigma : float
        A bin votes when its normalised sum exceeds this.
    min_length_px : float
        Shortest streak, in pixels.
    min_fill : float
        Fraction of the bins along a streak that must vote.
    min_significance : float
        Votes above the noise expectation of the band, in its Poisson σ.
    max_gap_bins : int
        Longest run of non-voting bins inside one streak.
    margin_px : float
        Added to the measured half-width.
    max_half_width_px : float
        A line whose light is significant farther out than this is not a streak (the ridge
        of a large galaxy) and is not masked.
    max_streaks : int
        Streaks sought at most per image.
    max_tries : int
        Lines examined at most per image (each rejected one spends its richest run, so a
        bright blob that many lines cross is used up after a few).
    """

    max_binned_px: int = 512
    min_bin_px: int = 4
    background_bins: int = 7
    vote_sigma: float = 2.0
    min_length_px: float = 200.0
    min_fill: float = 0.3
    min_significance: float = 20.0
    max_gap_bins: int = 8
    margin_px: float = 2.0
    max_half_width_px: float = 40.0
    max_streaks: int = 8
    max_tries: int = 64


@dataclass(frozen=True)
class Streak:
    """One masked streak: its ends ``(x0, y0)``–``(x1, y1)``, half-width and strength.

    ``amplitude`` is the median of the image across the streak's centre, in units of the
    sky noise per pixel; ``significance`` the Hough votes above the noise in Poisson σ.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    half_width: float
    amplitude: float
    significance: float

    @property
    def length(self) -> float:
        """Length in pixels."""
        return float(math.hypot(self.x1 - self.x0, self.y1 - self.y0))


@dataclass(frozen=True, eq=False)
class StreakResult:
    """The mask of every streak found (bool, the image's shape) and the streaks."""

    mask: np.ndarray
    streaks: tuple[Streak, ...]


@dataclass(frozen=True, eq=False)
class _Binned:
    """Binned significance image and the Hough geometry over it."""

    bin_px: int
    usable: np.ndarray
    votes_y: np.ndarray
    votes_x: np.ndarray
    vote_fraction: float
    thetas: np.ndarray
    n_rho: int
    centre: tuple[float, float]


@dataclass(frozen=True, eq=False)
class _Run:
    """A line's richest run of votes: members, ends along it (bins), significance, line."""

    members: np.ndarray
    t0: float
    t1: float
    significance: float
    theta: float
    rho: float


def find_streaks(
    z: np.ndarray, excluded: np.ndarray, config: StreakConfig = StreakConfig()
) -> StreakResult:
    """Find and mask long straight streaks in a significance image.

    Parameters
    ----------
    z : ndarray
        Sky-subtracted image divided by its per-pixel noise (σ units).
    excluded : ndarray of bool
        Pixels to ignore (already masked: saturated, bad columns, off the detector).
    config : StreakConfig
        Detection settings.

    Returns
    -------
    StreakResult
        The union mask of the streaks and their measurements, strongest first.
    """
    z = np.where(excluded | ~np.isfinite(z), 0.0, z).astype(np.float32)
    mask = np.zeros(z.shape, bool)
    binned = _binned_votes(z, excluded, config)
    if binned is None:
        return StreakResult(mask, ())
    acc = _accumulate(binned, binned.votes_y, binned.votes_x)
    alive = np.ones(len(binned.votes_y), bool)
    streaks: list[Streak] = []
    for _ in range(config.max_tries):
        if len(streaks) >= config.max_streaks or not alive.any():
            break
        smooth = acc[:, :-1] + acc[:, 1:]
        i_theta, i_rho = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
        theta = float(binned.thetas[i_theta])
        rho = float(i_rho) + 1.0 - binned.n_rho / 2
        run = _richest_run(binned, alive, theta, rho, config)
        if run is None:
            break
        streak = _measure(z, excluded, binned, run, config)
        # Whatever the outcome, these votes are spent: a rejected line must not win again.
        acc -= _accumulate(binned, binned.votes_y[run.members], binned.votes_x[run.members])
        alive[run.members] = False
        if streak is None:
            continue
        streak = _followed(z, excluded, streak)
        streaks.append(streak)
        band = _band(z.shape, streak)
        mask |= band
        inside = band[
            np.minimum(binned.votes_y * binned.bin_px + binned.bin_px // 2, z.shape[0] - 1),
            np.minimum(binned.votes_x * binned.bin_px + binned.bin_px // 2, z.shape[1] - 1),
        ]
        more = np.flatnonzero(inside & alive)
        if more.size:
            acc -= _accumulate(binned, binned.votes_y[more], binned.votes_x[more])
            alive[more] = False
    return StreakResult(mask, tuple(streaks))


def _binned_votes(z: np.ndarray, excluded: np.ndarray, config: StreakConfig) -> _Binned | None:
    """Bin the significance image, normalise it and list the voting bins."""
    ny, nx = z.shape
    b = max(config.min_bin_px, math.ceil(max(ny, nx) / config.max_binned_px))
    hy, hx = ny // b, nx // b
    if hy < 8 or hx < 8:
        return None
    total = z[: hy * b, : hx * b].reshape(hy, b, hx, b).sum(axis=(1, 3), dtype=np.float64)
    valid = (~excluded[: hy * b, : hx * b]).reshape(hy, b, hx, b).sum(axis=(1, 3))
    usable = valid >= (b * b) / 2
    if usable.sum() < 64:
        return None
    value = np.where(usable, total / np.sqrt(np.maximum(valid, 1)), 0.0)
    # A line a bin or two wide survives a median over `background_bins`² bins; galaxies,
    # halos and other structure wider than that do not, so chains of them cannot vote.
    value -= ndimage.median_filter(value, size=config.background_bins, mode="nearest")
    good = value[usable]
    centre = float(np.median(good))
    spread = 1.4826 * float(np.median(np.abs(good - centre)))
    if not spread > 0:
        return None
    vote = usable & ((value - centre) / spread > config.vote_sigma)
    vy, vx = np.nonzero(vote)
    diag = math.hypot(hy, hx)
    n_theta = max(180, math.ceil(math.pi * diag))
    return _Binned(
        bin_px=b,
        usable=usable,
        votes_y=vy,
        votes_x=vx,
        vote_fraction=float(vote.sum() / usable.sum()),
        thetas=np.linspace(0.0, math.pi, n_theta, endpoint=False),
        n_rho=math.ceil(diag) + 2,
        centre=(hx / 2.0, hy / 2.0),
    )


def _accumulate(binned: _Binned, vy: np.ndarray, vx: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Hough accumulator ``[theta, rho]`` of the bins ``(vy, vx)``."""
    n_theta = len(binned.thetas)
    acc = np.zeros((n_theta, binned.n_rho), np.int32)
    if len(vy) == 0:
        return acc
    xc = vx + 0.5 - binned.centre[0]
    yc = vy + 0.5 - binned.centre[1]
    for start in range(0, n_theta, chunk):
        th = binned.thetas[start : start + chunk]
        rho = np.floor(np.outer(np.cos(th), xc) + np.outer(np.sin(th), yc) + binned.n_rho / 2)
        rows = np.arange(len(th))[:, None] * binned.n_rho
        idx = (rows + rho.astype(np.int64)).ravel()
        counts = np.bincount(idx, minlength=len(th) * binned.n_rho)
        acc[start : start + len(th)] = counts.reshape(len(th), binned.n_rho)
    return acc


def _richest_run(
    binned: _Binned, alive: np.ndarray, theta: float, rho: float, config: StreakConfig
) -> _Run | None:
    """The voting bins of the line's best run, its ends (along-line, bins), significance."""
    xc = binned.votes_x + 0.5 - binned.centre[0]
    yc = binned.votes_y + 0.5 - binned.centre[1]
    cos, sin = math.cos(theta), math.sin(theta)
    dist = xc * cos + yc * sin - rho
    near = np.flatnonzero(alive & (np.abs(dist) <= _HALF_BAND))
    if near.size < 3:
        return None
    t = -xc[near] * sin + yc[near] * cos
    order = np.argsort(t)
    t, near = t[order], near[order]
    breaks = np.flatnonzero(np.diff(t) > config.max_gap_bins + 1)
    # A gap across masked bins (a bad column, a saturated star's bleed) is no gap: only the
    # usable bins of the line between two votes count against it.
    breaks = np.array(
        [
            i
            for i in breaks
            if _usable_between(binned, theta, rho, t[i], t[i + 1]) > config.max_gap_bins
        ],
        dtype=int,
    )
    starts = np.r_[0, breaks + 1]
    ends = np.r_[breaks, len(t) - 1]
    best = int(np.argmax(ends - starts))
    lo, hi = int(starts[best]), int(ends[best])
    members = near[lo : hi + 1]
    t0, t1 = float(t[lo]), float(t[hi])
    length = t1 - t0 + 1.0
    # The band |dist| <= _HALF_BAND holds ~2·_HALF_BAND bins per unit of length.
    expected = binned.vote_fraction * 2.0 * _HALF_BAND * length
    significance = (members.size - expected) / math.sqrt(max(expected, 1.0))
    if (
        length * binned.bin_px < config.min_length_px
        or members.size < config.min_fill * length
        or significance < config.min_significance
    ):
        # Too short or too sparse: the run's votes are spent but nothing is masked.
        return _Run(members, t0, t1, -math.inf, theta, rho)
    return _Run(members, t0, t1, float(significance), theta, rho)


def _usable_between(binned: _Binned, theta: float, rho: float, t_a: float, t_b: float) -> int:
    """Usable bins on the line strictly between positions ``t_a`` and ``t_b`` along it."""
    t = np.arange(math.ceil(t_a + 0.5), math.floor(t_b - 0.5) + 1, dtype=float)
    x = rho * math.cos(theta) - t * math.sin(theta) + binned.centre[0]
    y = rho * math.sin(theta) + t * math.cos(theta) + binned.centre[1]
    ny, nx = binned.usable.shape
    ix, iy = np.floor(x).astype(int), np.floor(y).astype(int)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    return int(binned.usable[iy[inside], ix[inside]].sum())


def _measure(
    z: np.ndarray,
    excluded: np.ndarray,
    binned: _Binned,
    run: _Run,
    config: StreakConfig,
) -> Streak | None:
    """Centre, half-width and amplitude of an accepted line on the full-resolution image."""
    if not np.isfinite(run.significance):
        return None
    theta, rho, t0, t1 = run.theta, run.rho, run.t0, run.t1
    b = binned.bin_px
    cos, sin = math.cos(theta), math.sin(theta)
    # Line in pixel coordinates: points p = c + rho·n + t·u, n = (cos, sin), u = (−sin, cos).
    cx, cy = binned.centre[0] * b - 0.5, binned.centre[1] * b - 0.5
    rho_px = rho * b
    ts = np.arange(t0 * b - b, t1 * b + b, 1.0)
    reach = config.max_half_width_px + 2.0 * b
    ds = np.arange(-reach, reach + 0.25, 0.5)
    px = cx + (rho_px + ds[:, None]) * cos - ts[None, :] * sin
    py = cy + (rho_px + ds[:, None]) * sin + ts[None, :] * cos
    ny, nx = z.shape
    on = (px >= 0) & (px <= nx - 1) & (py >= 0) & (py <= ny - 1)
    values = ndimage.map_coordinates(z, [py, px], order=1, mode="nearest")
    bad = ndimage.map_coordinates(excluded.astype(np.float32), [py, px], order=1) > 0
    values = np.where(on & ~bad, values, np.nan)
    # Each position's local level, from the outermost 2 bins on both sides, is taken off,
    # so light the line crosses (a galaxy, a gradient) does not widen its profile.
    outer = np.abs(ds) >= reach - 2.0 * b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: off the image
        values = values - np.nanmedian(values[outer], axis=0)
    counts = np.sum(np.isfinite(values), axis=1)
    if counts.max() < 10:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nanmedian(values, axis=1)
    noise = 1.2533 / np.sqrt(np.maximum(counts, 1))
    signal = np.nan_to_num(profile / noise, nan=0.0)
    # Re-centre on the profile's peak within a bin of the Hough line.
    window = np.abs(ds) <= b
    peak = int(np.flatnonzero(window)[np.argmax(signal[window])])
    if signal[peak] < 3.0:
        return None
    lo = peak
    while lo > 0 and signal[lo - 1] >= 3.0:
        lo -= 1
    hi = peak
    while hi < len(ds) - 1 and signal[hi + 1] >= 3.0:
        hi += 1
    centre_d = float(ds[peak])
    half = max(centre_d - ds[lo], ds[hi] - centre_d) + config.margin_px
    if half > config.max_half_width_px or not _uniform_along(values, ds, centre_d, half + 4.0):
        # Wider than a streak, or bright in the middle and faint at the ends: the ridge of
        # a large galaxy or some other extended light, which must not be masked.
        return None
    half = float(max(half, config.margin_px + 1.0))
    start, stop = ts[0] - half, ts[-1] + half
    ox, oy = cx + (rho_px + centre_d) * cos, cy + (rho_px + centre_d) * sin
    return Streak(
        x0=float(ox - start * sin),
        y0=float(oy + start * cos),
        x1=float(ox - stop * sin),
        y1=float(oy + stop * cos),
        half_width=half,
        amplitude=float(profile[peak]),
        significance=run.significance,
    )


def _followed(
    z: np.ndarray, excluded: np.ndarray, streak: Streak, piece_px: float = 128.0
) -> Streak:
    """The streak extended along its own line for as long as the line goes on.

    A trail's votes can break off (where it crosses a bright star's surroundings, a masked
    stretch, a fainter part) and the far side alone may be too short or sparse to pass the
    Hough tests; with the direction known, each further ``piece_px`` of the line is tested
    on its own: its contrast (centre ±1 px, within 2 px of the line, less the sides at
    ±(half-width + 6 px)) must be ≥ 5σ and ≥ 0.35 of the streak's amplitude. One failing
    piece is bridged when the next passes; two in a row end the streak, keeping the longer
    of the failing piece's first half or quarter that holds (a bright trail's end is found
    to ~32 px; a faint one's to a piece).
    """
    length = streak.length
    ux, uy = (streak.x1 - streak.x0) / length, (streak.y1 - streak.y0) / length
    ends = [(streak.x0, streak.y0, -1.0), (streak.x1, streak.y1, 1.0)]
    reached = []
    for ex, ey, sign in ends:
        reach, failed, step = 0.0, 0, 1
        while failed < 2:
            start = reach if failed == 0 else reach + piece_px
            t = np.arange(start, start + piece_px, 1.0) + streak.half_width
            if _contrast_holds(z, excluded, ex, ey, sign * ux, sign * uy, t, streak):
                reach, failed = start + piece_px, 0
            else:
                if failed == 0:
                    # The line may end inside this piece: keep the longest part that holds.
                    for part in (piece_px / 2, piece_px / 4):
                        if _contrast_holds(
                            z, excluded, ex, ey, sign * ux, sign * uy, t[: int(part)], streak
                        ):
                            reach += part
                            break
                failed += 1
            step += 1
            if step > 64:
                break
        reached.append(reach)
    return Streak(
        x0=streak.x0 - ux * reached[0],
        y0=streak.y0 - uy * reached[0],
        x1=streak.x1 + ux * reached[1],
        y1=streak.y1 + uy * reached[1],
        half_width=streak.half_width,
        amplitude=streak.amplitude,
        significance=streak.significance,
    )


def _contrast_holds(
    z: np.ndarray,
    excluded: np.ndarray,
    ex: float,
    ey: float,
    ux: float,
    uy: float,
    t: np.ndarray,
    streak: Streak,
) -> bool:
    """Whether the line from ``(ex, ey)`` along ``(ux, uy)`` at positions ``t`` holds up."""
    ny, nx = z.shape
    side = streak.half_width + 6.0

    def samples(offset: float) -> np.ndarray:
        px = ex + t * ux - offset * uy
        py = ey + t * uy + offset * ux
        on = (px >= 0) & (px <= nx - 1) & (py >= 0) & (py <= ny - 1)
        ix = np.clip(np.round(px).astype(int), 0, nx - 1)
        iy = np.clip(np.round(py).astype(int), 0, ny - 1)
        keep = on & ~excluded[iy, ix]
        return z[iy[keep], ix[keep]]

    sides = np.concatenate([samples(d) for d in (-side - 2, -side, side, side + 2)])
    if sides.size < 32:
        return False
    level = float(np.median(sides))
    # The line may drift by a pixel or two over a long extension (its angle is known to a
    # fraction of a degree): the best of five offsets counts, at a stricter significance.
    for centre in (-2.0, -1.0, 0.0, 1.0, 2.0):
        core = np.concatenate([samples(centre + d) for d in (-1.0, 0.0, 1.0)])
        if core.size < 32:
            continue
        contrast = float(np.median(core)) - level
        noise = 1.2533 * math.sqrt(1.0 / core.size + 1.0 / sides.size)
        if contrast >= 5.0 * noise and contrast >= 0.35 * streak.amplitude:
            return True
    return False


def _uniform_along(
    values: np.ndarray, ds: np.ndarray, centre: float, side: float, chunks: int = 8
) -> bool:
    """Whether the line's contrast holds along it: its lower quartile over chunks ≥ ½ median.

    ``values`` is the ``[offset, position]`` sample grid across and along the line. The
    contrast at each position is the centre (±1 px) less the mean of the two sides at
    ``±side``, so a trail keeps its contrast where it crosses a galaxy while the ridge of
    a galaxy falls off steadily towards its ends; its medians over ``chunks`` pieces are
    compared (a trail may brighten where it crosses something, not fade along most of it).
    """

    def row(offset: float) -> np.ndarray:
        near = np.abs(ds - offset) <= 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: off the image
            return np.nanmedian(values[near], axis=0)

    contrast = row(centre) - 0.5 * (row(centre - side) + row(centre + side))
    pieces = [p for p in np.array_split(contrast, chunks) if np.isfinite(p).sum() >= 10]
    if len(pieces) < 2:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.array([np.nanmedian(p) for p in pieces])
    typical = float(np.median(level))
    return typical > 0 and float(np.percentile(level, 25)) >= 0.5 * typical


def _band(shape: tuple[int, ...], streak: Streak) -> np.ndarray:
    """Pixels within the streak's half-width of its segment."""
    ny, nx = int(shape[0]), int(shape[1])
    dx, dy = streak.x1 - streak.x0, streak.y1 - streak.y0
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    pad = streak.half_width + 1
    x_lo = max(0, math.floor(min(streak.x0, streak.x1) - pad))
    x_hi = min(nx, math.ceil(max(streak.x0, streak.x1) + pad) + 1)
    y_lo = max(0, math.floor(min(streak.y0, streak.y1) - pad))
    y_hi = min(ny, math.ceil(max(streak.y0, streak.y1) + pad) + 1)
    band = np.zeros((ny, nx), bool)
    if x_lo >= x_hi or y_lo >= y_hi:
        return band
    yy, xx = np.mgrid[y_lo:y_hi, x_lo:x_hi]
    rx, ry = xx - streak.x0, yy - streak.y0
    along = rx * ux + ry * uy
    across = np.abs(-rx * uy + ry * ux)
    band[y_lo:y_hi, x_lo:x_hi] = (across <= streak.half_width) & (along >= 0) & (along <= length)
    return band
