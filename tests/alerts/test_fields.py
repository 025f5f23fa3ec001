"""Filter fields of a packet: every documented field, values from the record and sidecar."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from alert_records import DETECTIONS, NJY, build, detection
from astrid.alerts.fields import ALERT_FIELDS, alert_fields


def test_every_field_is_documented_and_filled() -> None:
    packet = build()
    fields = alert_fields(packet.record, packet.sidecar)
    assert set(fields) == set(ALERT_FIELDS)
    assert fields["alert_id"] == 42 and fields["object_name"] == "ASTRID2026ab"
    assert fields["band"] == "r" and fields["survey"] == "astrid"
    assert fields["rb"] == pytest.approx(0.97) and fields["ood_energy"] == pytest.approx(0.3)
    assert fields["context_class"] == "supernova_candidate"
    assert fields["host_distance_mpc"] == 82.0 and fields["host_dlr"] == 0.6
    assert fields["schema_version"] == packet.sidecar["schema_version"]


def test_magnitude_and_history() -> None:
    packet = build()  # the second of three detections
    fields = alert_fields(packet.record, packet.sidecar)
    flux = 240.0 * NJY
    assert fields["mag"] == pytest.approx(31.4 - 2.5 * math.log10(flux), abs=1e-5)
    assert fields["mag_err"] == pytest.approx(1.0857 * 6.0 / 240.0, rel=1e-3)
    assert fields["n_detections"] == 2  # the first one, and this
    # forced points before it: at 59999.1 (flux 1, 0.2 sigma: an upper limit) and 60000.1
    assert fields["n_forced"] == 2 and fields["n_upper_limits"] == 1
    assert fields["days_since_first_detection"] == pytest.approx(1.0, abs=1e-6)
    assert fields["days_since_previous_detection"] == pytest.approx(1.0, abs=1e-6)
    assert fields["is_negative"] is False


def test_negative_detection_has_the_magnitude_of_its_size() -> None:
    fading = detection(2, 60001.1, flux=-240.0, sign=-1)
    packet = build(fading, detections=[DETECTIONS[0], fading])
    fields = alert_fields(packet.record, packet.sidecar)
    assert fields["is_negative"] is True
    assert fields["mag"] == pytest.approx(31.4 - 2.5 * math.log10(240.0 * NJY), abs=1e-5)


def test_without_zero_point_there_is_no_magnitude() -> None:
    packet = build(detection(2, 60001.1, zero_point=None))
    fields = alert_fields(packet.record, packet.sidecar)
    assert fields["flux_units"] == "image" and fields["mag"] is None
    assert fields["flux"] == pytest.approx(240.0)


def test_an_empty_packet_gives_nones_not_errors() -> None:
    fields = alert_fields({}, {})
    assert set(fields) == set(ALERT_FIELDS)
    assert fields["rb"] is None and fields["mag"] is None and fields["n_detections"] == 1


def test_the_docs_list_every_field() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text()
    for name, (kind, meaning) in ALERT_FIELDS.items():
        assert f"| `{name}` | {kind} | {meaning} |" in docs, name
