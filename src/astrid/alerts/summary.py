"""A plain-language summary of an alert, built only from its filter fields.

`plain_summary` writes one or two English sentences, deterministically, from
`astrid.alerts.alert_fields`: what was seen (new, seen again, or fading; magnitude and
band), where (distance from the host galaxy's centre in arcsec and DLR, the host's name
and distance, the absolute magnitude there; or the catalogue source it sits on; or no
catalogued counterpart), how it changes (mag per day over the detections) and how far
to trust it (real/bogus score; OOD: typical of the training data or not). Every number
in it is a field of the packet, rounded for reading; a clause whose fields are missing is
left out, never guessed. The text depends on nothing else, so the same packet always
gets the same words (tests check each clause).

An optional language-model rewrite could take this text as its input; none is built in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OOD_TYPICAL", "OOD_UNUSUAL", "plain_summary"]

#: Below this OOD score an alert is "typical of the training data"; above `OOD_UNUSUAL`
#: it is "unlike the training data"; between, "unusual for the training data".
OOD_TYPICAL = 0.95
OOD_UNUSUAL = 0.99

_CLASS_WORDS = {
    "variable_star": "a known variable star",
    "agn": "an active galactic nucleus",
    "nuclear": "a galaxy's nucleus",
    "supernova_candidate": "a supernova candidate",
    "orphan": "an orphan (no host or counterpart catalogued)",
    "bright_star_artifact": "likely an artefact of a bright star",
    "unknown": "not classified",
}


def _signed(value: float, digits: int) -> str:
    """A signed number with a true minus sign, e.g. ``−15.7``."""
    return f"{value:+.{digits}f}".replace("-", "−")


def _subject(f: Mapping[str, Any]) -> str:
    n = f.get("n_detections")
    if f.get("is_negative"):
        what = "A source fainter than in the reference"
    elif n is None or n <= 1:
        what = "A new point source"
    else:
        what = f"A point source detected for the {_ordinal(int(n))} time"
    mag, band = f.get("mag"), f.get("band")
    if mag is not None:
        size = "by" if f.get("is_negative") else "of"
        what += f" {size} {band or 'mag'} = {mag:.1f}"
    elif f.get("snr") is not None:
        what += f" at S/N {f['snr']:.1f}"
    return what


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _place(f: Mapping[str, Any]) -> str | None:
    host, sep = f.get("host_name"), f.get("host_sep_arcsec")
    if host and sep is not None:
        text = f"{sep:.1f}″"
        if f.get("host_dlr") is not None:
            text += f" ({f['host_dlr']:.1f} DLR)"
        text += f" from the centre of galaxy {host}"
        if f.get("host_distance_mpc") is not None:
            text += f" at {f['host_distance_mpc']:.0f} Mpc"
            if f.get("abs_mag") is not None:
                text += f" (M = {_signed(f['abs_mag'], 1)})"
        return text
    if f.get("match_name"):
        text = f"at {f['match_sep_arcsec']:.1f}″ from " if f.get("match_sep_arcsec") else "on "
        text += f"{f.get('match_catalogue') or 'catalogue'} source {f['match_name']}"
        if f.get("match_type"):
            text += f" (type {f['match_type']})"
        return text
    if f.get("context_class") == "orphan":
        return "with no catalogued host or counterpart"
    return None


def _trend(f: Mapping[str, Any]) -> str | None:
    rate, n = f.get("mag_rate"), f.get("n_detections")
    if rate is None or n is None or n < 2:
        return None
    if abs(rate) < 0.005:
        return f"steady over {n} detections"
    way = "brightening" if rate < 0 else "fading"
    return f"{way} by {abs(rate):.2f} mag/day over {n} detections"


def _trust(f: Mapping[str, Any]) -> str | None:
    parts = []
    if f.get("rb") is not None:
        parts.append(f"real/bogus {f['rb']:.2f}")
    ood = f.get("ood")
    if ood is not None:
        if ood < OOD_TYPICAL:
            parts.append("typical of the training data")
        elif ood < OOD_UNUSUAL:
            parts.append(f"unusual for the training data (OOD {ood:.2f})")
        else:
            parts.append(f"unlike the training data (OOD {ood:.3f})")
    return ", ".join(parts) or None


def plain_summary(fields: Mapping[str, Any]) -> str:
    """One or two sentences on an alert, from its filter fields only.

    Examples
    --------
    >>> plain_summary({"n_detections": 3, "mag": 18.93, "band": "r", "host_name": "X",
    ...     "host_sep_arcsec": 2.12, "host_dlr": 0.61, "host_distance_mpc": 82.4,
    ...     "abs_mag": -15.65, "mag_rate": -0.41, "rb": 0.971, "ood": 0.3})
    'A point source detected for the 3rd time of r = 18.9, 2.1″ (0.6 DLR) from the centre \
of galaxy X at 82 Mpc (M = −15.7), brightening by 0.41 mag/day over 3 detections; \
real/bogus 0.97, typical of the training data.'
    """
    clauses = [_subject(fields)]
    for clause in (_place(fields), _trend(fields)):
        if clause:
            clauses.append(clause)
    text = ", ".join(clauses)
    context = fields.get("context_class")
    if context in _CLASS_WORDS and context != "orphan" and not fields.get("host_name"):
        text += f"; context: {_CLASS_WORDS[context]}"
    trust = _trust(fields)
    if trust:
        text += f"; {trust}"
    return text + "."
