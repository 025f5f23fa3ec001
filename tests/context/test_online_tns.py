"""TNS cone searches through its bot API, against recorded answers.

The answers (tests/context/recorded/tns_*.json) are synthetic values in the JSON format of
the TNS bot API (``/search`` and ``/object`` replies). A local server plays TNS; the
network is never reached.
"""

from __future__ import annotations

import json

import pytest

from astrid.context import classify
from astrid.context.online import OnlineConfig, OnlineContext, TnsService
from astrid.errors import ConfigurationError

RA, DEC = 150.0, 2.0
BOT = {"tns_api_key": "0123456789abcdef", "tns_bot_id": 4242, "tns_bot_name": "astrid_test"}


def tns_context(server, **kwargs) -> OnlineContext:
    return OnlineContext(
        OnlineConfig(services=("tns",), tns_url=f"{server.url}/api/get", **{**BOT, **kwargs})
    )


def test_tns_object_is_reported_with_name_and_type(recorded_server):
    recorded_server.serve_file("/api/get/search", "tns_search.json")
    recorded_server.serve_file("/api/get/object", "tns_object.json")
    (matches,), problems = tns_context(recorded_server).match(RA, DEC)
    assert problems == []
    (match,) = matches
    assert (match.catalogue, match.kind, match.name, match.type) == (
        "tns",
        "transient",
        "SN 2024zzz",
        "SN Ia",
    )
    assert match.sep_arcsec == pytest.approx(0.509, abs=0.001)
    assert match.columns["redshift"] == pytest.approx(0.041)
    assert match.columns["internal_names"] == "ZTF24zzzzzzz"
    (search,) = recorded_server.seen("/api/get/search")
    assert search.params["api_key"] == BOT["tns_api_key"]
    assert json.loads(search.params["data"]) == {
        "ra": "150.0000000",
        "dec": "2.0000000",
        "radius": "2",
        "units": "arcsec",
    }
    marker = search.headers["user-agent"]
    assert marker.startswith("tns_marker")
    assert json.loads(marker.removeprefix("tns_marker")) == {
        "tns_id": 4242,
        "type": "bot",
        "name": "astrid_test",
    }
    (lookup,) = recorded_server.seen("/api/get/object")
    assert json.loads(lookup.params["data"])["objname"] == "2024zzz"
    # a known transient decides nothing, but the reason names it
    decision = classify(matches, None, on_bright_star=False)
    assert decision.context_class == "orphan"
    assert "tns SN 2024zzz (SN Ia)" in decision.reason


def test_tns_newer_reply_layout_and_empty_cone(recorded_server):
    """``data`` may be the reply list itself; an empty cone asks for no object."""
    body = {"id_code": 200, "id_message": "OK", "data": []}
    recorded_server.serve_body("/api/get/search", body)
    (matches,), problems = tns_context(recorded_server).match(RA, DEC)
    assert (matches, problems) == ([], [])
    assert recorded_server.seen("/api/get/object") == []


@pytest.mark.parametrize("missing", ["tns_api_key", "tns_bot_id", "tns_bot_name"])
def test_tns_without_its_bot_credentials_is_a_clear_error(missing):
    with pytest.raises(ConfigurationError, match=f"{missing}.*ASTRID_{missing.upper()}"):
        OnlineContext(OnlineConfig(services=("tns",), **{**BOT, missing: None}))


def test_the_api_key_is_kept_out_of_repr_and_cache_key():
    tns = TnsService(BOT["tns_api_key"], 4242, "astrid_test")
    assert BOT["tns_api_key"] not in repr(tns) and BOT["tns_api_key"] not in tns.key
    config = OnlineConfig(services=("tns",), **BOT)
    assert BOT["tns_api_key"] not in repr(config)
