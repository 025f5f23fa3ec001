from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rubin_samples import MJD_TAI, OLD_VERSIONS, READ_VERSIONS, repaired, sample_path

from astrid.errors import IngestError
from astrid.ingest import IngestProblem, SurveyAlert, read_alert_file, rubin_version
from astrid.ingest.times import utc_from_tai


def _only(path: Path) -> SurveyAlert | IngestProblem:
    (item,) = read_alert_file(path)
    return item


@pytest.mark.parametrize("version", READ_VERSIONS)
def test_repaired_samples_of_every_version_read(
    version: str, write_rubin: Callable[..., Path]
) -> None:
    packet, _ = repaired(version)
    alert = _only(write_rubin(version, [packet]))
    assert isinstance(alert, SurveyAlert), alert
    assert (alert.survey, alert.schema_version) == ("rubin", version)
    assert alert.packet_id == "1231321321" and alert.source_id == 281323062375219200
    assert alert.object_key == "281323062375219201"  # from the packet's diaObject
    assert alert.exposure == "1-42" and alert.band == "r"
    assert (alert.ra, alert.dec) == (pytest.approx(351.570546978), pytest.approx(0.126243049656))
    assert alert.mjd == pytest.approx(MJD_TAI - 37 / 86400, abs=1e-9)
    assert alert.flux == pytest.approx(1241.0) and alert.flux_err == pytest.approx(12.0)
    assert alert.mag == pytest.approx(31.4 - 2.5 * math.log10(1241.0))
    assert alert.mag_err == pytest.approx(2.5 / math.log(10) * 12 / 1241, rel=1e-6)
    assert alert.snr == pytest.approx(41.1, rel=1e-6) and not alert.is_negative
    assert alert.pixel_scale_arcsec == 0.2 and alert.stamp_units == "nJy"
    assert alert.stamps.shape == (3, 63, 63) and np.isfinite(alert.stamps).all()
    assert [p.detected for p in alert.history] == [True, True]
    assert [p.source_id for p in alert.history] == [281323062375219199, 281323062375219198]
    assert alert.notes == ()  # the variance plane is read; a mask without NO_DATA is expected


@pytest.mark.parametrize("version", [v for v in READ_VERSIONS if int(v.split(".")[0]) >= 8])
def test_shipped_samples_from_8_read_as_they_are(version: str) -> None:
    alert = _only(sample_path(version))
    assert isinstance(alert, SurveyAlert), alert
    assert alert.schema_version == version and alert.stamps.shape == (3, 63, 63)
    assert np.isnan(alert.stamps).all()
    assert alert.notes == tuple(f"{n} stamp missing" for n in ("science", "template", "difference"))
    assert 60000 < alert.mjd < 61000


@pytest.mark.parametrize("version", [v for v in READ_VERSIONS if v.startswith("7.")])
def test_shipped_7x_samples_have_no_mjd_and_are_refused(version: str) -> None:
    # lsst-alert-packet's 7.x samples put 1480360995.0 (Unix seconds?) in midpointMjdTai.
    problem = _only(sample_path(version))
    assert isinstance(problem, IngestProblem)
    assert problem.field == "diaSource.midpointMjdTai" and problem.index == 0
    assert problem.packet_id == "1231321321"


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_versions_before_7_are_refused_for_the_file(version: str) -> None:
    problem = _only(sample_path(version))
    assert isinstance(problem, IngestProblem) and problem.index is None
    assert f"lsst.v{version.replace('.', '_')}.alert" in problem.message
    assert "older than 7.0" in problem.message


@pytest.mark.parametrize("name", ["lsst.alert", "lsst.vX_1.alert", "lsst.v11_1.diaSource"])
def test_unparseable_schema_names_are_refused(name: str) -> None:
    with pytest.raises(IngestError, match="not a Rubin alert schema") as raised:
        rubin_version(name)
    assert raised.value.schema == name


def test_negative_sign_from_is_negative_or_flux(write_rubin: Callable[..., Path]) -> None:
    flagged, _ = repaired("11.1", isNegative=True, psfFlux=-500.0)
    by_flux, _ = repaired("7.4", psfFlux=-500.0, reliability=0.25)
    new = _only(write_rubin("11.1", [flagged], name="new.avro"))
    old = _only(write_rubin("7.4", [by_flux], name="old.avro"))
    assert isinstance(new, SurveyAlert) and isinstance(old, SurveyAlert)
    assert new.is_negative and old.is_negative and old.flux == pytest.approx(-500.0)
    assert old.mag == pytest.approx(31.4 - 2.5 * math.log10(500.0))
    assert old.survey_score == pytest.approx(0.25) and new.survey_score is None


def test_object_key_falls_back_to_the_source_then_solar_system(
    write_rubin: Callable[..., Path],
) -> None:
    own, _ = repaired("11.1", diaObjectId=77)
    solar, _ = repaired("11.1", ssObjectId=99, diaObjectId=0)
    solar["diaObject"] = None
    orphan, _ = repaired("11.1")
    orphan["diaObject"] = None
    items = list(read_alert_file(write_rubin("11.1", [own, solar, orphan])))
    assert [getattr(i, "object_key", None) for i in items[:2]] == ["77", "99"]
    assert isinstance(items[2], IngestProblem) and items[2].field == "diaSource.diaObjectId"


def test_forced_sources_are_undetected_history(write_rubin: Callable[..., Path]) -> None:
    packet, _ = repaired("11.1")
    packet["prvDiaForcedSources"] = [
        {"diaForcedSourceId": 5, "diaObjectId": 1, "ra": 1.0, "dec": 2.0, "visit": 3,
         "detector": 4, "psfFlux": -20.0, "psfFluxErr": 10.0, "midpointMjdTai": MJD_TAI - 10,
         "scienceFlux": None, "scienceFluxErr": None, "band": "g",
         "timeProcessedMjdTai": MJD_TAI, "timeWithdrawnMjdTai": None},
    ]  # fmt: skip
    alert = _only(write_rubin("11.1", [packet]))
    assert isinstance(alert, SurveyAlert)
    forced = alert.history[0]
    assert not forced.detected and forced.source_id == 5 and forced.is_negative
    assert forced.band == "g" and forced.mjd == pytest.approx(MJD_TAI - 10 - 37 / 86400)


def test_nondetection_limits_of_7x_are_upper_limits(write_rubin: Callable[..., Path]) -> None:
    packet, _ = repaired("7.4")
    packet["prvDiaNondetectionLimits"] = [
        {"ccdVisitId": 1, "midpointMjdTai": MJD_TAI - 20, "band": "i", "diaNoise": 100.0}
    ]
    alert = _only(write_rubin("7.4", [packet]))
    assert isinstance(alert, SurveyAlert)
    limit = alert.history[0]
    assert not limit.detected and limit.flux is None and limit.band == "i"
    assert limit.limit_mag == pytest.approx(31.4 - 2.5 * math.log10(500.0))


def test_corrupt_rubin_cutout_names_it(write_rubin: Callable[..., Path]) -> None:
    packet, _ = repaired("10.0")
    packet["cutoutTemplate"] = b"SIMPLE  = broken"
    problem = _only(write_rubin("10.0", [packet]))
    assert isinstance(problem, IngestProblem) and problem.field == "cutoutTemplate"


def test_tai_to_utc() -> None:
    assert utc_from_tai(60000.0) == pytest.approx(60000.0 - 37 / 86400, abs=1e-10)
    # 2016-06-01: 36 s (the 2016-12-31 leap second not yet added).
    assert utc_from_tai(57540.0) == pytest.approx(57540.0 - 36 / 86400, abs=1e-9)
