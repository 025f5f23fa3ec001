from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from astrid.ingest import IngestProblem, SurveyAlert, read_alert_file
from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet, ztf_schema, ztf_stamp


def _read(path: Path) -> list[SurveyAlert | IngestProblem]:
    return list(read_alert_file(path))


def _alert(item: SurveyAlert | IngestProblem) -> SurveyAlert:
    assert isinstance(item, SurveyAlert), item
    return item


def test_positive_detection_maps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "one.avro"
    write_ztf_packets(path, [ztf_packet(1001, magpsf=21.4, sigmapsf=0.1, drb=0.93, rb=0.5)])
    (item,) = _read(path)
    alert = _alert(item)
    assert (alert.survey, alert.schema_version, alert.packet_id) == ("ztf", "4.02", "1001")
    assert alert.source_id == 1001 and alert.object_key == "ZTF23aaaaaaa"
    assert alert.exposure == "2234567890123" and alert.band == "r"
    assert alert.mjd == pytest.approx(60000.25, abs=1e-9)
    assert (alert.ra, alert.dec) == (pytest.approx(150.1), pytest.approx(2.2))
    assert alert.flux == pytest.approx(10000.0, rel=1e-5)  # 21.4 = 31.4 − 10
    assert alert.flux_err == pytest.approx(10000.0 * 0.1 * math.log(10) / 2.5, rel=1e-5)
    assert alert.mag == pytest.approx(21.4) and alert.mag_err == pytest.approx(0.1)
    assert alert.snr == pytest.approx(2.5 / (0.1 * math.log(10)), rel=1e-5)
    assert not alert.is_negative
    assert alert.survey_score == pytest.approx(0.93)
    assert alert.fwhm_px == pytest.approx(2.1) and alert.pixel_scale_arcsec == 1.01
    assert alert.stamps.shape == (3, 63, 63) and alert.stamps.dtype == np.float32
    assert np.isfinite(alert.stamps).all() and alert.stamp_units == "DN"
    assert alert.notes == () and alert.history == ()
    assert (alert.path, alert.index) == (str(path), 0)


def test_three_stamps_land_in_their_own_cutouts(tmp_path: Path) -> None:
    triplet = [np.full((63, 63), value, dtype="f4") for value in (1.0, 2.0, 3.0)]
    path = tmp_path / "three.avro"
    write_ztf_packets(path, [ztf_packet(7, stamps=triplet)])
    (item,) = _read(path)
    assert [float(plane[0, 0]) for plane in _alert(item).stamps] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="science, template and difference"):
        ztf_packet(8, stamps=triplet[:2])


@pytest.mark.parametrize("isdiffpos", ["f", "0"])
def test_negative_difference_and_rb_without_drb(tmp_path: Path, isdiffpos: str) -> None:
    path = tmp_path / "neg.avro"
    write_ztf_packets(path, [ztf_packet(7, isdiffpos=isdiffpos, drb=None, rb=0.42, magpsf=21.4)])
    alert = _alert(_read(path)[0])
    assert alert.is_negative and alert.flux == pytest.approx(-10000.0, rel=1e-5)
    assert alert.flux_err is not None and alert.flux_err > 0
    assert alert.survey_score == pytest.approx(0.42)


def test_schema_without_drb_uses_rb(tmp_path: Path) -> None:
    path = tmp_path / "old.avro"
    packet = ztf_packet(8, rb=0.61)
    del packet["candidate"]["drb"]
    write_ztf_packets(path, [packet], schema=ztf_schema(drop=("drb",)))
    assert _alert(_read(path)[0]).survey_score == pytest.approx(0.61)


def test_history_has_detections_and_upper_limits(tmp_path: Path) -> None:
    prv = [
        {"jd": 2459990.5, "fid": 1, "pid": 1, "diffmaglim": 20.1, "programid": 1, "candid": None,
         "isdiffpos": None, "ra": None, "dec": None, "magpsf": None, "sigmapsf": None,
         "rb": None, "drb": None},
        {"jd": 2459995.5, "fid": 2, "pid": 2, "diffmaglim": 20.4, "programid": 1, "candid": 55,
         "isdiffpos": "f", "ra": 150.1, "dec": 2.2, "magpsf": 21.4, "sigmapsf": 0.2,
         "rb": 0.8, "drb": 0.9},
    ]  # fmt: skip
    path = tmp_path / "hist.avro"
    write_ztf_packets(path, [ztf_packet(9, prv_candidates=prv)])
    limit, detection = _alert(_read(path)[0]).history
    assert not limit.detected and limit.source_id is None and limit.flux is None
    assert limit.limit_mag == pytest.approx(20.1) and limit.band == "g"
    assert limit.mjd == pytest.approx(59990.0)
    assert detection.detected and detection.source_id == 55 and detection.is_negative
    assert detection.flux == pytest.approx(-10000.0, rel=1e-5) and detection.band == "r"


def test_stamp_layouts_blanks_and_a_missing_template(tmp_path: Path) -> None:
    edge = np.ones((40, 63), dtype="f4")
    small = np.ones((30, 30), dtype="f4")
    blanks = np.ones((63, 63), dtype="f4")
    blanks[0, 0], blanks[0, 1], blanks[0, 2] = 3.4e38, -3.4e38, np.nan
    packet = ztf_packet(10)
    packet["cutoutScience"]["stampData"] = ztf_stamp(blanks)
    packet["cutoutTemplate"] = None
    packet["cutoutDifference"]["stampData"] = ztf_stamp(edge)
    second = ztf_packet(11)
    second["cutoutDifference"]["stampData"] = ztf_stamp(small)
    path = tmp_path / "stamps.avro"
    write_ztf_packets(path, [packet, second])
    first, other = (_alert(i) for i in _read(path))
    assert first.notes == (
        "science stamp: 3 blank pixels masked",
        "template stamp missing",
        "difference stamp 40×63 padded",
    )
    assert np.isnan(first.stamps[0, 0, :3]).all() and np.isnan(first.stamps[1]).all()
    assert np.isfinite(first.stamps[2, 11:51]).all() and np.isnan(first.stamps[2, :11]).all()
    assert other.notes == ("difference stamp 30×30 padded",)
    assert int(np.isfinite(other.stamps[2]).sum()) == 900


def test_missing_ra_is_a_problem_naming_it(tmp_path: Path) -> None:
    packet = ztf_packet(12)
    del packet["candidate"]["ra"]
    path = tmp_path / "nora.avro"
    write_ztf_packets(path, [packet], schema=ztf_schema(drop=("ra",)))
    (problem,) = _read(path)
    assert isinstance(problem, IngestProblem)
    assert problem.field == "candidate.ra" and "candidate.ra" in problem.message
    assert (problem.index, problem.packet_id) == (0, "12")


def test_bad_isdiffpos_and_corrupt_cutout_are_problems_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    corrupt = ztf_packet(21)
    corrupt["cutoutDifference"]["stampData"] = b"\x1f\x8b\x08\x00 not gzip"
    path = tmp_path / "mixed.avro"
    write_ztf_packets(path, [ztf_packet(20, isdiffpos="x"), corrupt, ztf_packet(22)])
    first, second, third = _read(path)
    assert isinstance(first, IngestProblem) and first.field == "candidate.isdiffpos"
    assert isinstance(second, IngestProblem) and second.field == "cutoutDifference"
    assert "cutoutDifference" in second.message and second.packet_id == "21"
    assert _alert(third).index == 2
