"""Context class rules (Sherlock-like precedence) for one object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from astrid.context.catalogues import KINDS
from astrid.context.host import ContextInputError, HostMatch

CONTEXT_CLASSES = (
    "variable_star",
    "agn",
    "nuclear",
    "supernova_candidate",
    "orphan",
    "bright_star_artifact",
    "unknown",
)


class MatchLike(Protocol):
    """A catalogue match as produced by the catalogue matcher."""

    @property
    def catalogue(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def sep_arcsec(self) -> float: ...
    @property
    def distance_mpc(self) -> float | None: ...


#: Variable-star catalogue types that are active galaxies (VSX lists blazars and QSOs
#: among its variables): such a match counts as an AGN match.
AGN_VARIABLE_TYPES = ("BLLAC", "AGN", "QSO", "BLAZAR", "SEYFERT", "FSRQ")


def _kind(match: MatchLike) -> str:
    """The kind a match votes for: a variable-star entry of an AGN type is an AGN."""
    if match.kind == "variable_star":
        kind_type = str(match.type or "").upper().lstrip(":")
        if kind_type.startswith(AGN_VARIABLE_TYPES):
            return "agn"
    return match.kind


@dataclass(frozen=True)
class ContextDecision:
    """The context class of an object and why."""

    context_class: str
    reason: str
    decided_by: list[object] = field(default_factory=list)
    host_distance_mpc: float | None = None
    absolute_peak_mag: float | None = None


def classify(
    matches: Sequence[MatchLike],
    host: HostMatch | None,
    *,
    on_bright_star: bool,
    peak_mag: float | None = None,
    host_distance_mpc: float | None = None,
    nuclear_arcsec: float = 0.5,
    nuclear_dlr: float = 0.5,
    sn_max_dlr: float = 3.0,
) -> ContextDecision:
    """Decide the context class by precedence.

    Order: bright_star_artifact, variable_star, agn, nuclear, supernova_candidate,
    orphan, unknown. Matches of kind ``transient`` (a TNS object) and ``other`` are named in
    the reason of rule 6 but decide nothing.

    Parameters
    ----------
    matches : sequence of MatchLike
        Catalogue matches.
    host : HostMatch or None
        Host from :func:`assign_hosts`.
    on_bright_star : bool
        Whether the object sits on a bright reference star.
    peak_mag : float, optional
        Apparent peak magnitude.
    host_distance_mpc : float, optional
        Known host distance; a galaxy catalogue match supplies one otherwise.
    nuclear_arcsec, nuclear_dlr : float
        Nuclear if within either of these of the host core.
    sn_max_dlr : float
        Offset hosts within this many DLR give supernova_candidate.

    Returns
    -------
    ContextDecision
    """
    for m in matches:
        if m.kind not in KINDS:
            raise ContextInputError(f"match {m.name!r}: unknown kind {m.kind!r}")
    dist = host_distance_mpc
    galaxies = sorted((m for m in matches if m.kind == "galaxy"), key=lambda m: m.sep_arcsec)
    if dist is None:
        for g in galaxies:
            if g.distance_mpc is not None and np.isfinite(g.distance_mpc) and g.distance_mpc > 0:
                dist = float(g.distance_mpc)
                break
    if dist is not None and (not np.isfinite(dist) or dist <= 0):
        raise ContextInputError(f"host_distance_mpc must be positive, got {dist}")
    absmag = None
    if dist is not None and peak_mag is not None:
        absmag = float(peak_mag - 5.0 * np.log10(dist * 1e6 / 10.0))

    def done(cls: str, reason: str, by: list[object]) -> ContextDecision:
        return ContextDecision(cls, reason, by, dist, absmag)

    if on_bright_star:
        return done("bright_star_artifact", "rule 1: on a bright reference star", [])
    for kind, rule in (("variable_star", 2), ("agn", 3)):
        hits = sorted((m for m in matches if _kind(m) == kind), key=lambda m: m.sep_arcsec)
        if hits:
            m = hits[0]
            return done(
                kind,
                f"rule {rule}: {m.catalogue} {kind} {m.name} ({m.type}) "
                f"at {m.sep_arcsec:.2f} arcsec",
                [m],
            )
    if host is not None:
        if host.core_sep_arcsec <= nuclear_arcsec or host.dlr <= nuclear_dlr:
            return done(
                "nuclear",
                f"rule 4: {host.core_sep_arcsec:.2f} arcsec / {host.dlr:.2f} DLR from the core "
                f"of {host.name} (limits {nuclear_arcsec} arcsec or {nuclear_dlr} DLR)",
                [host],
            )
        if host.dlr <= sn_max_dlr:
            return done(
                "supernova_candidate",
                f"rule 5: offset {host.sep_arcsec:.2f} arcsec = {host.dlr:.2f} DLR "
                f"from {host.name} (<= {sn_max_dlr} DLR)",
                [host],
            )
        return done(
            "unknown",
            f"rule 7: host {host.name} at {host.dlr:.2f} DLR is ambiguous (> {sn_max_dlr})",
            [host],
        )
    if not galaxies:
        # Known transients and other sources are reported with the object; they decide nothing.
        reported = [m for m in matches if m.kind in ("transient", "other")]
        if not reported:
            return done("orphan", "rule 6: no host galaxy and no catalogue match", [])
        return done(
            "orphan",
            "rule 6: no host galaxy and no variable-star, AGN or galaxy match (also at the "
            "position: " + ", ".join(f"{m.catalogue} {m.name} ({m.type})" for m in reported) + ")",
            [],
        )
    return done(
        "unknown",
        "rule 7: only galaxy catalogue matches without a reference host: "
        + ", ".join(m.name for m in galaxies),
        list(galaxies),
    )
