"""The online context as a whole: cache and TTL, failures as problems, settings, wiring.

A local server plays the services with recorded answers (synthetic values in each
service's real format, tests/context/recorded/); the network is never reached.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from astrid.config import Settings
from astrid.context.online import OnlineConfig, OnlineContext, QueryCache
from astrid.errors import ConfigurationError
from astrid.pipeline.object_context import ContextSources, context_summaries

RA, DEC = 150.0, 2.0
BOT = {"tns_api_key": "0123456789abcdef", "tns_bot_id": 4242, "tns_bot_name": "astrid_test"}


class Clock:
    """A settable clock for the cache's TTL."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def urls(server) -> dict[str, str]:
    return {
        "simbad_url": f"{server.url}/simbad",
        "ned_url": f"{server.url}/ned",
        "vizier_url": f"{server.url}/vizier",
        "tns_url": f"{server.url}/api/get",
    }


def test_cache_hit_asks_once_and_ttl_expiry_asks_again(recorded_server, tmp_path):
    recorded_server.serve_file("/simbad/sync", "simbad_cone.xml")
    clock = Clock()
    config = OnlineConfig(
        services=("simbad",),
        cache_path=tmp_path / "cache.sqlite",
        ttl_s=3600.0,
        **urls(recorded_server),
    )
    first, _ = OnlineContext(config, clock=clock).match(RA, DEC)
    # a new context (a new run) on the same cache, a position that rounds alike
    again = OnlineContext(config, clock=clock)
    clock.now += 3599.0
    second, problems = again.match(RA + 2e-6, DEC)
    assert problems == [] and len(recorded_server.seen("/simbad/sync")) == 1
    assert [m.name for m in second[0]] == [m.name for m in first[0]]
    # separations are exact for the position asked, not the cached one
    assert second[0][0].sep_arcsec != pytest.approx(first[0][0].sep_arcsec, abs=1e-4)
    clock.now += 2.0  # older than the TTL
    again.match(RA, DEC)
    assert len(recorded_server.seen("/simbad/sync")) == 2
    # another radius is another search
    radius = OnlineConfig(**{**config.__dict__, "radius_arcsec": 3.0})
    OnlineContext(radius, clock=clock).match(RA, DEC)
    assert len(recorded_server.seen("/simbad/sync")) == 3


def test_empty_answers_are_cached_failures_are_not(recorded_server, tmp_path):
    cache = QueryCache(tmp_path / "c.sqlite", 60.0)
    cache.put("simbad:basic@x", RA, DEC, 2.0, [])
    assert cache.get("simbad:basic@x", RA, DEC, 2.0) == []
    assert cache.get("simbad:basic@x", RA, DEC, 2.5) is None
    recorded_server.serve_body("/simbad/sync", "<oops", status=500)
    config = OnlineConfig(
        services=("simbad",), cache_path=tmp_path / "c.sqlite", **urls(recorded_server)
    )
    for _ in range(2):
        _, problems = OnlineContext(config).match(RA, DEC)
        assert len(problems) == 1
    assert len(recorded_server.seen("/simbad/sync")) == 2


def test_a_timeout_is_a_problem_and_the_other_services_go_on(recorded_server):
    recorded_server.serve_file("/simbad/sync", "simbad_cone.xml", delay_s=1.5)
    recorded_server.serve_file("/ned/sync", "ned_cone.xml")
    recorded_server.serve_file("/api/get/search", "tns_search.json", delay_s=1.5)
    config = OnlineConfig(
        services=("simbad", "ned", "tns"),
        timeout_s=0.3,
        radius_arcsec=5.0,
        **urls(recorded_server),
        **BOT,
    )
    matches, problems = OnlineContext(config).match([RA, RA, RA], [DEC, DEC, DEC])
    assert [[m.catalogue for m in per] for per in matches] == [["ned", "ned"]] * 3
    simbad, tns = problems
    assert simbad.startswith("simbad: no answer from") and "within 0.3 s" in simbad
    assert tns.startswith("tns: no answer from") and "within 0.3 s" in tns
    # a service that timed out is not asked about the positions after it
    assert "not asked for the 2 positions after it" in simbad
    assert len(recorded_server.seen("/simbad/sync")) == 1


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ("<VOTABLE><RESOURCE><TABLE><FIELD name=", 200, "simbad: query of basic"),
        (None, 200, "Incorrect ADQL query"),  # a TAP error document
        ("Service Unavailable", 503, "503"),
        ("<VOTABLE/>", 200, "simbad: query of basic"),  # no table at all
    ],
)
def test_a_malformed_or_failed_tap_answer_is_a_problem_naming_the_service(
    recorded_server, body, status, expected
):
    if body is None:
        recorded_server.serve_file("/simbad/sync", "tap_error.xml", status=400)
    else:
        recorded_server.serve_body("/simbad/sync", body, status=status)
    (matches,), problems = OnlineContext(
        OnlineConfig(services=("simbad",), **urls(recorded_server))
    ).match(RA, DEC)
    assert matches == []
    (problem,) = problems
    assert problem.startswith("simbad:") and expected in problem


def test_a_votable_without_the_columns_asked_is_a_problem(recorded_server):
    recorded_server.serve_file("/ned/sync", "simbad_cone.xml")  # lacks z
    _, (problem,) = OnlineContext(OnlineConfig(services=("ned",), **urls(recorded_server))).match(
        RA, DEC
    )
    assert problem.startswith("ned: answer from") and "lacks columns ['z']" in problem


@pytest.mark.parametrize(
    ("search", "obj", "expected"),
    [
        ("not json", None, "tns: malformed answer"),
        ({"id_code": 401, "id_message": "Unauthorized"}, None, "id_code 401"),
        ({"id_code": 200, "data": {"reply": {"objname": "x"}}}, None, "expected a list"),
        ({"id_code": 200, "data": {"reply": [{"prefix": "SN"}]}}, None, "without objname"),
        (None, {"id_code": 200, "data": {"reply": {"objname": "2024zzz"}}}, "malformed object"),
    ],
)
def test_a_malformed_tns_answer_is_a_problem_naming_tns(recorded_server, search, obj, expected):
    if search is None:
        recorded_server.serve_file("/api/get/search", "tns_search.json")
    else:
        recorded_server.serve_body("/api/get/search", search, content_type="application/json")
    if obj is not None:
        recorded_server.serve_body("/api/get/object", obj)
    config = OnlineConfig(services=("tns",), **urls(recorded_server), **BOT)
    (matches,), (problem,) = OnlineContext(config).match(RA, DEC)
    assert matches == [] and problem.startswith("tns:") and expected in problem


def test_tns_http_errors_are_problems(recorded_server):
    recorded_server.serve_body("/api/get/search", "Too Many Requests", status=429)
    config = OnlineConfig(services=("tns",), **urls(recorded_server), **BOT)
    _, (problem,) = OnlineContext(config).match(RA, DEC)
    assert problem.startswith("tns:") and "HTTP 429" in problem
    refused = OnlineConfig(services=("tns",), tns_url="http://127.0.0.1:9/api/get", **BOT)
    _, (problem,) = OnlineContext(refused).match(RA, DEC)
    assert problem.startswith("tns:") and "ConnectError" in problem


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"services": ("simbad", "gaia")}, "unknown services \\['gaia'\\]"),
        ({"services": ("ned", "ned")}, "named twice"),
        ({"timeout_s": 0.0}, r"timeout_s \(context_online_timeout_s\) must be > 0"),
        ({"radius_arcsec": 600.0}, r"\(context_online_radius_arcsec\) must be > 0 and at most 60"),
        ({"ttl_s": float("nan")}, "context_online_ttl_hours"),
        ({"ned_url": "ftp://ned"}, "context_ned_url: expected an http"),
        ({"services": ("vizier",), "vizier_tables": ()}, "no vizier table"),
    ],
)
def test_bad_online_settings_are_clear_errors(kwargs, expected):
    with pytest.raises(ConfigurationError, match=expected):
        OnlineConfig(**kwargs)


def test_bad_settings_values_are_refused(tmp_path):
    with pytest.raises(ValidationError, match="context_online"):
        Settings(data_dir=tmp_path, context_online=["simbad", "wikipedia"])
    with pytest.raises(ValidationError, match="context_online_radius_arcsec"):
        Settings(data_dir=tmp_path, context_online_radius_arcsec=-1)
    with pytest.raises(ConfigurationError, match="nor TABLE:RA_COLUMN"):
        ContextSources.from_settings(
            Settings(data_dir=tmp_path, context_online=["vizier"], context_vizier_tables=["x"])
        )


def test_without_pyvo_a_tap_service_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvo", None)
    with pytest.raises(ConfigurationError, match=r"needs pyvo.*astrid\[online\]"):
        OnlineContext(OnlineConfig(services=("ned",)))
    OnlineContext(OnlineConfig(services=("tns",), **BOT))  # TNS needs no pyvo


def test_online_context_is_off_by_default(tmp_path):
    sources = ContextSources.from_settings(Settings(data_dir=tmp_path))
    assert sources is not None and sources.online is None


@dataclass
class Obj:
    id: int
    ra: float
    dec: float


def test_runs_use_the_enabled_services_through_the_settings(recorded_server, tmp_path):
    recorded_server.serve_file("/simbad/sync", "simbad_cone.xml")
    recorded_server.serve_file("/api/get/search", "tns_search.json", delay_s=1.5)
    settings = Settings(
        data_dir=tmp_path,
        context_online=["simbad", "tns"],
        context_online_timeout_s=0.3,
        context_simbad_url=f"{recorded_server.url}/simbad",
        context_tns_url=f"{recorded_server.url}/api/get",
        **BOT,
    )
    sources = ContextSources.from_settings(settings)
    assert sources is not None and sources.online is not None
    assert sources.online.cache is not None
    assert sources.online.cache.path == tmp_path / "context" / "online-cache.sqlite"
    assert sources.online.cache.ttl_s == 168 * 3600
    summaries = context_summaries(
        sources, None, None, [Obj(7, RA, DEC)], peak_mags={}, reference_of={}
    )
    summary = summaries[7]
    assert summary["context_class"] == "variable_star"
    assert (summary["xmatch_catalog"], summary["xmatch_name"], summary["xmatch_type"]) == (
        "simbad",
        "V* ZZ Tst",
        "RR*",
    )
    context = summary["context"]
    assert [m["kind"] for m in context["matches"]] == ["variable_star", "agn"]
    problems = [p for p in context["catalogue_problems"] if p.startswith("tns:")]
    assert len(problems) == 1 and "no answer" in problems[0]
