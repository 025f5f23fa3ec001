"""Tests for the context class rules and their precedence."""

from dataclasses import dataclass

import pytest

from astrid.context.classify import CONTEXT_CLASSES, classify
from astrid.context.host import ContextInputError, HostMatch


@dataclass
class M:
    catalogue: str
    kind: str
    name: str
    type: str
    sep_arcsec: float
    distance_mpc: float | None = None


def host(dlr, core):
    return HostMatch(0, "REF J1", 1.0, 1.0, core, dlr, 2.0, 1.0, 0.0, core)


def test_each_rule_and_precedence():
    var = M("gaia", "variable_star", "V1", "RR", 0.3)
    agn = M("milliquas", "agn", "Q1", "QSO", 0.2)
    gal = M("mangrove", "galaxy", "G1", "gal", 2.0, 40.0)
    assert classify([var], None, on_bright_star=True).context_class == "bright_star_artifact"
    assert classify([agn, var], host(0.1, 0.1), on_bright_star=False).context_class == (
        "variable_star"
    )
    assert classify([agn], host(0.1, 0.1), on_bright_star=False).context_class == "agn"
    assert classify([], host(0.4, 1.0), on_bright_star=False).context_class == "nuclear"
    assert classify([], host(2.0, 0.3), on_bright_star=False).context_class == "nuclear"
    d = classify([gal], host(2.0, 3.0), on_bright_star=False, peak_mag=18.0)
    assert d.context_class == "supernova_candidate"
    assert d.host_distance_mpc == 40.0
    assert d.absolute_peak_mag == pytest.approx(18.0 - 5 * (6 + 1.60206 - 1), abs=1e-3)
    assert "2.00 DLR" in d.reason
    assert classify([], host(4.0, 5.0), on_bright_star=False).context_class == "unknown"
    assert classify([], None, on_bright_star=False).context_class == "orphan"
    assert classify([gal], None, on_bright_star=False).context_class == "unknown"
    assert set(CONTEXT_CLASSES) >= {"orphan", "unknown"}


def test_bad_inputs():
    with pytest.raises(ContextInputError, match="unknown kind"):
        classify([M("x", "planet", "P", "p", 1.0)], None, on_bright_star=False)
    with pytest.raises(ContextInputError, match="host_distance_mpc"):
        classify([], None, on_bright_star=False, host_distance_mpc=-1.0)


def test_a_blazar_listed_among_variable_stars_is_an_agn() -> None:
    from dataclasses import dataclass

    from astrid.context import classify

    @dataclass(frozen=True)
    class M:
        catalogue: str
        kind: str
        name: str
        type: str
        sep_arcsec: float
        distance_mpc: float | None = None

    blazar = M("vsx", "variable_star", "vsx#1", "BLLAC", 0.3)
    star = M("vsx", "variable_star", "vsx#2", "RRAB", 0.3)
    assert classify([blazar], None, on_bright_star=False).context_class == "agn"
    assert classify([star], None, on_bright_star=False).context_class == "variable_star"
