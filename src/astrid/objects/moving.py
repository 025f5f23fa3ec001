"""Moving objects: detections of one night on a straight, constant-rate track across frames.

A solar-system object moves between the visits of a night, so each of its detections
starts a new (stationary) object. `find_tracks` finds them among the detections with no
counterpart at the same place in another frame (a stationary source seen twice): every
pair of such detections in two frames whose implied rate lies within the bounds seeds a
line, the line is predicted to every other frame, and a seed that another
≥ ``min_points - 2`` frames confirm (a detection within ``max_residual_arcsec`` of the
prediction) is a track. Tracks are taken largest first, then with the smallest residual;
a detection belongs to one track at most.
Positions go to a tangent plane at the detections' mean (arcsec), exact enough for the
degree-sized fields of one night.

A moving object seen in only one frame of a night (two visits, or gone off the chip) makes
no track; `vanished_within_night` flags such a single detection when forced photometry at
its place on another frame of the same night shows nothing there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from astrid.errors import AstridError

__all__ = ["TrackError", "Tracks", "find_tracks", "vanished_within_night"]


class TrackError(AstridError):
    """Inputs of the track search that cannot be used (shapes, bounds)."""


@dataclass(frozen=True)
class Tracks:
    """Per detection, the track it is on (-1: none); per track, rate and residual.

    Attributes
    ----------
    track_id : ndarray of int
        Per detection, its track (0..n-1) or -1.
    rate_arcsec_per_hour, pa_deg, residual_arcsec : ndarray of float
        Per track: speed, direction of motion east of north, RMS distance to the line.
    """

    track_id: NDArray[np.int64]
    rate_arcsec_per_hour: NDArray[np.float64]
    pa_deg: NDArray[np.float64]
    residual_arcsec: NDArray[np.float64]

    @property
    def n_tracks(self) -> int:
        """How many tracks were found."""
        return len(self.rate_arcsec_per_hour)


def _tangent_plane(
    ra: NDArray[np.float64], dec: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gnomonic projection at the mean direction: (east, north) in arcsec."""
    r, d = np.radians(ra), np.radians(dec)
    vec = np.column_stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])
    centre = vec.mean(axis=0)
    centre /= np.linalg.norm(centre)
    east = np.cross([0.0, 0.0, 1.0], centre)
    if np.linalg.norm(east) < 1e-12:  # at a pole
        east = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(centre, east)
    depth = vec @ centre
    scale = np.degrees(1.0) * 3600.0
    return (vec @ east) / depth * scale, (vec @ north) / depth * scale


def find_tracks(
    mjd: ArrayLike,
    ra: ArrayLike,
    dec: ArrayLike,
    frame: ArrayLike,
    *,
    min_rate_arcsec_per_hour: float = 3.0,
    max_rate_arcsec_per_hour: float = 600.0,
    max_residual_arcsec: float = 1.0,
    stationary_radius_arcsec: float = 1.0,
    min_points: int = 3,
    max_span_hours: float = 12.0,
) -> Tracks:
    """Detections on straight constant-rate tracks across ≥ ``min_points`` frames.

    Parameters
    ----------
    mjd, ra, dec : array_like
        Per detection: the frame's time (MJD) and the position (degrees).
    frame : array_like
        Per detection, the frame it comes from (a track has one detection per frame).
    min_rate_arcsec_per_hour, max_rate_arcsec_per_hour : float
        Rates a track may have; the lower bound keeps stationary sources (whose positions
        only scatter) out.
    max_residual_arcsec : float
        How far a confirming detection may be from the predicted position.
    stationary_radius_arcsec : float
        A detection with another frame's detection within this radius is a stationary
        source seen twice and takes no part in tracks (only "lonely" detections do).
    min_points : int
        Frames a track must be seen in (≥ 3: two points always make a line).
    max_span_hours : float
        Longest time between two detections of one track (one night).

    Raises
    ------
    TrackError
        For inputs of different lengths or bounds that cannot hold.
    """
    t = np.asarray(mjd, dtype=float).ravel() * 24.0
    ra_a = np.asarray(ra, dtype=float).ravel()
    dec_a = np.asarray(dec, dtype=float).ravel()
    frames = np.asarray(frame).ravel()
    n = len(t)
    if not (len(ra_a) == len(dec_a) == len(frames) == n):
        raise TrackError(f"mjd, ra, dec and frame differ in length: {n}, {len(ra_a)}, ...")
    if min_points < 3:
        raise TrackError(f"min_points must be at least 3, got {min_points}")
    if not 0 <= min_rate_arcsec_per_hour < max_rate_arcsec_per_hour:
        raise TrackError("need 0 <= min_rate_arcsec_per_hour < max_rate_arcsec_per_hour")
    none = Tracks(np.full(n, -1, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    good = np.isfinite(t) & np.isfinite(ra_a) & np.isfinite(dec_a)
    if good.sum() < min_points:
        return none
    idx = np.flatnonzero(good)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    x[idx], y[idx] = _tangent_plane(ra_a[idx], dec_a[idx])
    # stationary: seen at the same place in another frame
    everything = cKDTree(np.column_stack([x[idx], y[idx]]))
    lonely = np.ones(len(idx), dtype=bool)
    for a, b in everything.query_pairs(stationary_radius_arcsec, output_type="ndarray"):
        if frames[idx[a]] != frames[idx[b]]:
            lonely[a] = lonely[b] = False
    idx = idx[lonely]
    if len(idx) < min_points:
        return none
    # one tree per frame; frames ordered by time
    frame_ids = sorted(set(frames[idx].tolist()), key=lambda f: float(np.nanmean(t[frames == f])))
    members = {f: idx[frames[idx] == f] for f in frame_ids}
    times = {f: float(np.median(t[members[f]])) for f in frame_ids}
    trees = {f: cKDTree(np.column_stack([x[m], y[m]])) for f, m in members.items()}
    seeds: list[tuple[int, float, list[int]]] = []
    for a, fa in enumerate(frame_ids):
        for fb in frame_ids[a + 1 :]:
            dt = times[fb] - times[fa]
            if dt <= 0 or dt > max_span_hours:
                continue
            ia = members[fa]
            reach = max_rate_arcsec_per_hour * dt
            near = trees[fb].query_ball_point(np.column_stack([x[ia], y[ia]]), reach)
            for i, found in zip(ia, near, strict=True):
                for jj in found:
                    j = members[fb][jj]
                    vx, vy = (x[j] - x[i]) / dt, (y[j] - y[i]) / dt
                    rate = float(np.hypot(vx, vy))
                    if not min_rate_arcsec_per_hour <= rate <= max_rate_arcsec_per_hour:
                        continue
                    points, residuals = [int(i), int(j)], [0.0, 0.0]
                    for fc in frame_ids:
                        if fc in (fa, fb) or abs(times[fc] - times[fa]) > max_span_hours:
                            continue
                        px = x[i] + vx * (times[fc] - times[fa])
                        py = y[i] + vy * (times[fc] - times[fa])
                        dist, k = trees[fc].query(
                            [px, py], distance_upper_bound=max_residual_arcsec
                        )
                        if np.isfinite(dist):
                            points.append(int(members[fc][k]))
                            residuals.append(float(dist))
                    if len(points) >= min_points:
                        rms = float(np.sqrt(np.mean(np.square(residuals[2:]))))
                        seeds.append((len(points), rms, sorted(points)))
    track_id = np.full(n, -1, np.int64)
    rates: list[float] = []
    angles: list[float] = []
    rms_list: list[float] = []
    for _, rms, points in sorted(seeds, key=lambda s: (-s[0], s[1])):
        if (track_id[points] >= 0).any():
            continue
        track_id[points] = len(rates)
        tt = t[points] - t[points].mean()
        vx = float(np.polyfit(tt, x[points], 1)[0]) if np.ptp(tt) > 0 else 0.0
        vy = float(np.polyfit(tt, y[points], 1)[0]) if np.ptp(tt) > 0 else 0.0
        rates.append(float(np.hypot(vx, vy)))
        angles.append(float(np.degrees(np.arctan2(vx, vy)) % 360.0))
        rms_list.append(rms)
    return Tracks(track_id, np.array(rates), np.array(angles), np.array(rms_list))


def vanished_within_night(
    detection: tuple[float, float, float],
    others: ArrayLike,
    *,
    night_days: float = 0.5,
    min_sigma: float = 5.0,
    zero_sigma: float = 3.0,
) -> bool:
    """Whether a single positive detection is absent from a frame of the same night.

    A stationary source bright enough to be detected is still there an hour later; a
    solar-system object has moved on. ``True`` when some other frame taken within
    ``night_days`` of the detection measured, at the same place, a flux consistent with
    zero (``abs(flux) < zero_sigma·σ``) and fainter than the detection by more than
    ``min_sigma`` combined standard errors. (A flare that rises and fades within hours
    looks the same; it is flagged as a possible moving object too.)

    Parameters
    ----------
    detection : tuple of float
        ``(mjd, flux, flux_err)`` of the one detection.
    others : array_like
        ``(n, 3)`` rows ``(mjd, flux, flux_err)``: forced photometry at the same position
        on the other frames (any nights; those outside the night are ignored).

    Examples
    --------
    >>> vanished_within_night((60000.30, 900.0, 100.0), [[60000.32, 40.0, 100.0]])
    True
    >>> vanished_within_night((60000.30, 900.0, 100.0), [[60000.32, 820.0, 100.0]])
    False
    >>> vanished_within_night((60000.30, 900.0, 100.0), [[60003.30, 0.0, 100.0]])
    False
    """
    mjd, flux, err = (float(v) for v in detection)
    rows = np.asarray(others, dtype=float).reshape(-1, 3)
    if not (np.isfinite(flux) and np.isfinite(err) and err > 0 and flux > 0):
        return False
    o_mjd, o_flux, o_err = rows.T
    usable = np.isfinite(o_mjd) & np.isfinite(o_flux) & np.isfinite(o_err) & (o_err > 0)
    tonight = usable & (np.abs(o_mjd - mjd) <= night_days)
    gone = (np.abs(o_flux) < zero_sigma * o_err) & (
        flux - o_flux > min_sigma * np.hypot(err, o_err)
    )
    return bool(np.any(tonight & gone))
