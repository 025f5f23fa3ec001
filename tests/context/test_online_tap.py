"""SIMBAD, NED and VizieR cone searches through TAP, against recorded answers.

The answers (tests/context/recorded/*.xml) are synthetic values in the services' real
format: VOTables as their TAP ``/sync`` resources return them. A local server plays the
services; the network is never reached.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from astrid.context import classify
from astrid.context.catalogues import KINDS
from astrid.context.online import (
    OnlineConfig,
    OnlineContext,
    gaia_star_significance,
    kind_of,
    vizier_table,
)
from astrid.errors import ConfigurationError

RA, DEC = 150.0, 2.0


def online(server, *services, **kwargs) -> OnlineContext:
    """An online context whose services all live on the recorded server."""
    return OnlineContext(
        OnlineConfig(
            services=services,
            simbad_url=f"{server.url}/simbad",
            ned_url=f"{server.url}/ned",
            vizier_url=f"{server.url}/vizier",
            **kwargs,
        )
    )


def cone_numbers(adql: str) -> list[float]:
    circle = re.search(r"CIRCLE\('ICRS', ([^,]+), ([^,]+), ([^)]+)\)", adql)
    assert circle is not None, adql
    return [float(x) for x in circle.groups()]


def test_simbad_matches_are_typed_and_classified(recorded_server):
    recorded_server.serve_file("/simbad/sync", "simbad_cone.xml")
    (matches,), problems = online(recorded_server, "simbad").match(RA, DEC)
    assert problems == []
    # the row without coordinates is dropped; variable star first (kind priority)
    assert [(m.name, m.kind, m.type) for m in matches] == [
        ("V* ZZ Tst", "variable_star", "RR*"),
        ("SDSS J100000.12+020000.5", "agn", "QSO"),
    ]
    star, qso = matches
    assert star.catalogue == "simbad"
    assert star.sep_arcsec == pytest.approx(0.509, abs=0.001)  # 0.36" in ra·cos(dec), 0.36" dec
    assert qso.columns["rvz_redshift"] == pytest.approx(1.234)
    assert star.columns["rvz_redshift"] is None
    (request,) = recorded_server.seen("/simbad/sync")
    assert request.params["REQUEST"] == "doQuery" and request.params["LANG"] == "ADQL"
    adql = request.params["QUERY"]
    assert "FROM basic" in adql and "main_id AS src_name" in adql and "otype AS src_type" in adql
    assert "1 = CONTAINS(POINT('ICRS', ra, dec)" in adql
    assert cone_numbers(adql) == pytest.approx([RA, DEC, 2.0 / 3600], rel=1e-7)
    decision = classify(matches, None, on_bright_star=False)
    assert decision.context_class == "variable_star"
    assert "simbad variable_star V* ZZ Tst (RR*)" in decision.reason


def test_ned_qso_votes_agn(recorded_server):
    recorded_server.serve_file("/ned/sync", "ned_cone.xml")
    context = online(recorded_server, "ned", radius_arcsec=5.0)
    (matches,), problems = context.match([RA], [DEC])
    assert problems == []
    assert [(m.kind, m.type) for m in matches] == [("agn", "QSO"), ("galaxy", "G")]
    assert matches[1].columns == {"z": pytest.approx(0.0412)}
    adql = recorded_server.seen("/ned/sync")[0].params["QUERY"]
    assert "FROM NEDTAP.objdir" in adql and "prefname AS src_name" in adql
    assert cone_numbers(adql)[2] == pytest.approx(5.0 / 3600, rel=1e-7)
    assert classify(matches, None, on_bright_star=False).context_class == "agn"


def test_vizier_gaia_star_and_ps1(recorded_server):
    recorded_server.serve_by_query(
        "/vizier/sync", {"I/355/gaiadr3": "vizier_gaiadr3.xml", "II/349/ps1": "vizier_ps1.xml"}
    )
    (matches,), problems = online(recorded_server, "vizier").match(RA, DEC)
    assert problems == []
    assert [(m.catalogue, m.name, m.kind) for m in matches] == [
        ("gaiadr3", "Gaia DR3 3837000000000000001", "variable_star"),
        ("ps1", "PS1 110021500000123456", "other"),
        ("gaiadr3", "Gaia DR3 3837000000000000002", "other"),
    ]
    assert matches[0].type == "star (parallax or proper motion 20 sigma)"
    assert matches[1].columns["ymag"] is None and matches[1].columns["gmag"] == pytest.approx(17.9)
    queries = [r.params["QUERY"] for r in recorded_server.seen("/vizier/sync")]
    assert any('FROM "I/355/gaiadr3"' in q and "RA_ICRS AS src_ra" in q for q in queries)
    assert any('FROM "II/349/ps1"' in q and "RAJ2000 AS src_ra" in q for q in queries)
    assert classify(matches, None, on_bright_star=False).context_class == "variable_star"


def test_object_type_table():
    assert kind_of("simbad", "EB*") == "variable_star"
    assert kind_of("simbad", "*") == "variable_star"  # a catalogued star: stellar variability
    assert kind_of("simbad", "BLL") == kind_of("simbad", "Sy1") == "agn"
    assert kind_of("simbad", "QSO?") == kind_of("simbad", "Q?") == "agn"  # candidates
    assert kind_of("simbad", "G") == "galaxy"
    assert kind_of("simbad", "SN*") == "transient"
    assert kind_of("simbad", "X") == "other"
    assert kind_of("ned", "!V*") == kind_of("ned", "*") == "variable_star"
    assert kind_of("ned", "QSO") == "agn" and kind_of("ned", "RadioS") == "other"
    assert kind_of("tns", "SN IIn") == kind_of("tns", "TDE") == "transient"
    assert kind_of("tns", "CV") == "variable_star" and kind_of("tns", "AGN") == "agn"


def test_vizier_table_setting():
    custom = vizier_table("J/MNRAS/485/961/table2:RAJ2000:DEJ2000:Name", "http://x/tap")
    assert (custom.table, custom.ra_col, custom.name_col, custom.url) == (
        "J/MNRAS/485/961/table2",
        "RAJ2000",
        "Name",
        "http://x/tap",
    )
    assert vizier_table("I/355/gaiadr3", "http://x/tap").url == "http://x/tap"
    with pytest.raises(ConfigurationError, match="nor TABLE:RA_COLUMN"):
        vizier_table("I/999/nothing")
    with pytest.raises(ConfigurationError, match="not a plain column name"):
        vizier_table("J/A/1:RA;DROP:DEC:N")


@given(st.sampled_from(["simbad", "ned", "tns"]), st.text())
def test_every_object_type_maps_to_a_kind(service, text):
    assert kind_of(service, text) in KINDS


values = st.one_of(st.none(), st.floats(), st.text(max_size=5), st.integers())


@given(
    st.dictionaries(st.sampled_from(["Plx", "e_Plx", "pmRA", "e_pmRA", "pmDE", "e_pmDE"]), values)
)
def test_gaia_significance_takes_any_row(row):
    sigma = gaia_star_significance(row)
    assert sigma >= 0


def test_gaia_significance_numbers():
    assert gaia_star_significance({"Plx": 4.0, "e_Plx": 0.2}) == pytest.approx(20.0)
    pm = {"pmRA": 3.0, "e_pmRA": 1.0, "pmDE": -4.0, "e_pmDE": 1.0, "Plx": 1.0, "e_Plx": 0.0}
    assert gaia_star_significance(pm) == pytest.approx(5.0)  # e_Plx 0: no parallax signal
