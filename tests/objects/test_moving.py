"""Moving-object tracks: asteroids found, stationary sources and noise left alone."""

from __future__ import annotations

import numpy as np
import pytest

from astrid.objects import TrackError, find_tracks, vanished_within_night

RA0, DEC0 = 150.0, 2.0


def _field(rng: np.random.Generator, n_frames: int = 4, n_noise: int = 40):
    """Four visits 30 min apart: 2 asteroids, 30 jittering stars, random noise detections."""
    mjd, ra, dec, frame, kind = [], [], [], [], []
    stars = rng.uniform(-0.1, 0.1, (30, 2))
    movers = [(20.0, 35.0), (-60.0, 10.0)]  # arcsec/hour east, north
    start = rng.uniform(-0.05, 0.05, (len(movers), 2))
    for f in range(n_frames):
        t = 60000.0 + f * 0.5 / 24
        hours = f * 0.5
        for s in stars:
            j = rng.normal(0, 0.1 / 3600, 2)
            mjd.append(t), ra.append(RA0 + s[0] + j[0]), dec.append(DEC0 + s[1] + j[1])
            frame.append(f), kind.append("star")
        for k, (ve, vn) in enumerate(movers):
            d = DEC0 + start[k, 1] + vn * hours / 3600
            r = RA0 + start[k, 0] + ve * hours / 3600 / np.cos(np.radians(d))
            mjd.append(t), ra.append(r), dec.append(d), frame.append(f), kind.append(f"ast{k}")
        noise = rng.uniform(-0.1, 0.1, (n_noise, 2))
        for e in noise:
            mjd.append(t), ra.append(RA0 + e[0]), dec.append(DEC0 + e[1])
            frame.append(f), kind.append("noise")
    return (np.array(mjd), np.array(ra), np.array(dec), np.array(frame), np.array(kind))


@pytest.mark.parametrize("seed", range(4))
def test_asteroids_are_tracked_and_stars_are_not(seed: int) -> None:
    mjd, ra, dec, frame, kind = _field(np.random.default_rng(seed))
    tracks = find_tracks(mjd, ra, dec, frame)
    for k, rate in ((0, np.hypot(20, 35)), (1, np.hypot(60, 10))):
        ids = set(tracks.track_id[kind == f"ast{k}"].tolist())
        assert len(ids) == 1 and -1 not in ids, f"asteroid {k}: tracks {ids}"
        (track,) = ids
        assert tracks.rate_arcsec_per_hour[track] == pytest.approx(rate, rel=0.02)
        assert set(kind[tracks.track_id == track]) == {f"ast{k}"}
    assert (tracks.track_id[kind == "star"] == -1).all()
    # 40 random detections per frame in 12′ × 12′ (far denser than real bogus): a few
    # chance alignments of three, never most of them
    assert (tracks.track_id[kind == "noise"] >= 0).sum() <= 0.05 * (kind == "noise").sum()


def test_direction_is_east_of_north() -> None:
    mjd, ra, dec, frame, kind = _field(np.random.default_rng(9), n_noise=0)
    tracks = find_tracks(mjd, ra, dec, frame)
    track = tracks.track_id[kind == "ast0"][0]
    assert tracks.pa_deg[track] == pytest.approx(np.degrees(np.arctan2(20, 35)), abs=1.0)


def test_two_frames_or_nan_make_no_track() -> None:
    mjd, ra, dec, frame, _ = _field(np.random.default_rng(1), n_frames=2)
    assert find_tracks(mjd, ra, dec, frame).n_tracks == 0
    empty = find_tracks([], [], [], [])
    assert empty.n_tracks == 0 and len(empty.track_id) == 0
    nan = find_tracks([np.nan] * 3, [1.0] * 3, [1.0] * 3, [0, 1, 2])
    assert (nan.track_id == -1).all()


def test_bad_inputs_are_named() -> None:
    with pytest.raises(TrackError, match="length"):
        find_tracks([1.0, 2.0], [1.0], [1.0], [0])
    with pytest.raises(TrackError, match="min_points"):
        find_tracks([1.0], [1.0], [1.0], [0], min_points=2)
    with pytest.raises(TrackError, match="rate"):
        find_tracks(
            [1.0], [1.0], [1.0], [0], min_rate_arcsec_per_hour=5, max_rate_arcsec_per_hour=1
        )


def test_a_single_detection_gone_the_same_night_has_vanished() -> None:
    detection = (60000.30, 900.0, 100.0)
    assert vanished_within_night(detection, [[60000.32, 40.0, 100.0]])
    # still there an hour later (a stationary transient), or measured on another night
    assert not vanished_within_night(detection, [[60000.34, 820.0, 100.0]])
    assert not vanished_within_night(detection, [[60003.30, 0.0, 100.0]])
    # too faint to tell apart from noise: 5σ above an empty measurement is not enough
    assert not vanished_within_night((60000.30, 500.0, 100.0), [[60000.32, 0.0, 100.0]])
    # negative detections (a star fading) and unusable rows never count
    assert not vanished_within_night((60000.30, -900.0, 100.0), [[60000.32, 0.0, 100.0]])
    assert not vanished_within_night(detection, [[60000.32, np.nan, 100.0]])
    assert not vanished_within_night(detection, np.empty((0, 3)))
