"""The plain-language summary: each clause from its fields, nothing made up."""

from __future__ import annotations

import re
from typing import Any

import pytest

from alert_records import build
from astrid.alerts.fields import alert_fields
from astrid.alerts.summary import plain_summary

SN: dict[str, Any] = {
    "n_detections": 3,
    "mag": 18.93,
    "band": "r",
    "host_name": "NGC 1",
    "host_sep_arcsec": 2.12,
    "host_dlr": 0.61,
    "host_distance_mpc": 82.4,
    "abs_mag": -15.65,
    "mag_rate": -0.41,
    "rb": 0.971,
    "ood": 0.3,
    "context_class": "supernova_candidate",
}


def test_the_issue_example() -> None:
    text = plain_summary(SN)
    assert text.startswith("A point source detected for the 3rd time of r = 18.9, ")
    assert "2.1″ (0.6 DLR) from the centre of galaxy NGC 1 at 82 Mpc (M = −15.7)" in text
    assert "brightening by 0.41 mag/day over 3 detections" in text
    assert text.endswith("; real/bogus 0.97, typical of the training data.")


def test_every_number_comes_from_a_field() -> None:
    text = plain_summary(SN)
    numbers = {float(n.replace("−", "-")) for n in re.findall(r"[−-]?\d+(?:\.\d+)?", text)}
    numbers.discard(3.0)  # "3rd" and "3 detections": n_detections
    allowed = {round(abs(v), d) for v in SN.values() if isinstance(v, float) for d in (0, 1, 2)}
    allowed |= {-round(abs(v), d) for v in SN.values() if isinstance(v, float) for d in (0, 1, 2)}
    assert numbers <= allowed, numbers - allowed


@pytest.mark.parametrize(
    ("changes", "clause"),
    [
        ({"n_detections": 1, "mag_rate": None}, "A new point source of r = 18.9"),
        ({"is_negative": True}, "A source fainter than in the reference by r = 18.9"),
        ({"mag": None, "snr": 12.34}, "at S/N 12.3"),
        ({"mag_rate": 0.2}, "fading by 0.20 mag/day over 3 detections"),
        ({"mag_rate": 0.001}, "steady over 3 detections"),
        ({"ood": 0.97}, "unusual for the training data (OOD 0.97)"),
        ({"ood": 0.995}, "unlike the training data (OOD 0.995)"),
        ({"abs_mag": None}, "at 82 Mpc, brightening"),
        ({"host_dlr": None}, "2.1″ from the centre of galaxy NGC 1"),
    ],
)
def test_each_clause(changes: dict[str, Any], clause: str) -> None:
    assert clause in plain_summary({**SN, **changes})


def test_counterparts_and_orphans() -> None:
    star = {
        "n_detections": 1,
        "mag": 15.2,
        "band": "g",
        "match_name": "V* RR Lyr",
        "match_catalogue": "vsx",
        "match_type": "RRAB",
        "match_sep_arcsec": 0.31,
        "context_class": "variable_star",
    }
    text = plain_summary(star)
    assert "at 0.3″ from vsx source V* RR Lyr (type RRAB)" in text
    assert "context: a known variable star" in text
    orphan = plain_summary({"n_detections": 1, "mag": 20.0, "context_class": "orphan"})
    assert "with no catalogued host or counterpart" in orphan
    assert plain_summary({}) == "A new point source."


def test_a_packet_gets_the_same_words_every_time() -> None:
    packet = build()
    fields = alert_fields(packet.record, packet.sidecar)
    text = plain_summary(fields)
    assert text == plain_summary(alert_fields(packet.record, packet.sidecar))
    assert "of r = " in text and "galaxy G1 at 82 Mpc" in text
    assert "brightening by" in text and "over 2 detections" in text
