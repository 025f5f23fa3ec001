"""Rate limits per IP and per credential, and the back-off after failed logins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from astrid.service.rate_limit import LoginBackoff, RateLimiter
from service_env import Env, build_env

API = "/api/v1"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the limiter and the back-off on their own ---------------------------------------------


def test_token_bucket_allows_the_rate_and_says_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)  # one a second, bursts of 60
    assert all(limiter.hit(["ip:a"]) == 0 for _ in range(60))
    assert limiter.hit(["ip:a"]) == pytest.approx(1.0)
    assert limiter.hit(["ip:b"]) == 0, "another client has its own bucket"
    clock.now += 0.5
    assert limiter.hit(["ip:a"]) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.hit(["ip:a"]) == 0
    # refused for the credential: the IP's allowance is not used either
    assert all(limiter.hit(["cred:k"]) == 0 for _ in range(60))
    assert limiter.hit(["ip:c", "cred:k"]) > 0
    assert all(limiter.hit(["ip:c"]) == 0 for _ in range(60))


def test_backoff_doubles_after_the_free_failures_and_success_clears() -> None:
    clock = FakeClock()
    backoff = LoginBackoff(free_failures=3, max_seconds=60, clock=clock)
    for _ in range(3):
        assert backoff.retry_after("1.2.3.4", "guess") == 0
        backoff.failed("1.2.3.4", "guess")
    assert backoff.retry_after("1.2.3.4", "other") == 0, "three failures are free"
    waits = []
    for _ in range(8):
        backoff.failed("1.2.3.4", None)
        waits.append(backoff.retry_after("1.2.3.4", None))
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.retry_after("5.6.7.8", None) == 0, "other IPs are not locked out"
    backoff.succeeded("1.2.3.4", None)
    backoff.failed("1.2.3.4", None)
    assert backoff.retry_after("1.2.3.4", None) == 0
    # a credential tried from many IPs is locked out on its own
    for i in range(4):
        backoff.failed(f"10.0.0.{i}", "stolen-guess")
    assert backoff.retry_after("10.0.0.99", "stolen-guess") == 1
    # counts are forgotten max_seconds after the last failure
    clock.now += 61
    backoff.failed("10.0.0.100", "stolen-guess")
    assert backoff.retry_after("10.0.0.100", "stolen-guess") == 0


# -- through the service ---------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Env]:
    yield from build_env(tmp_path / "limited", seed_catalog=False, rate_limit_per_minute=5)


def test_requests_past_the_rate_get_429_with_retry_after(limited: Env) -> None:
    client = TestClient(limited.client.app)
    codes = [
        client.get(f"{API}/me", headers=limited.headers("viewer")).status_code for _ in range(7)
    ]
    assert codes == [200] * 5 + [429] * 2
    refused = client.get(f"{API}/me", headers=limited.headers("viewer"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 12
    assert refused.headers["content-security-policy"], "a 429 has the security headers too"
    # the per-IP bucket is empty too: another key from the same client waits as well
    assert client.get(f"{API}/me", headers=limited.headers("admin")).status_code == 429
    assert client.get("/static/astrid.js").status_code == 200, "static files are not counted"


def test_the_default_rate_suits_a_survey_client(tmp_path: Path) -> None:
    for env in build_env(tmp_path / "default", seed_catalog=False):
        assert env.service.limiter.capacity == 600


def test_bad_logins_are_slowed_down(fresh: Env) -> None:
    client = TestClient(fresh.client.app)
    codes = []
    start = time.perf_counter()
    for i in range(300):
        r = client.post("/login", data={"credential": f"astrid_wrong{i}"}, follow_redirects=False)
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
    elapsed = time.perf_counter() - start
    assert codes[:10] == [401] * 10, "ten typos cost nothing"
    assert codes.count(429) >= 280, f"{codes.count(429)} of 300 refused in {elapsed:.1f} s"
    # a locked-out IP is refused even the right key, without it being checked
    locked = client.post("/login", data={"credential": fresh.keys["admin"]}, follow_redirects=False)
    assert locked.status_code == 429 and "too many failed logins" in locked.text
    # another client is not affected
    other = TestClient(fresh.client.app, client=("198.51.100.7", 50000))
    ok = other.post("/login", data={"credential": fresh.keys["admin"]}, follow_redirects=False)
    assert ok.status_code == 303


def test_failed_api_keys_count_toward_the_backoff(fresh: Env) -> None:
    client = TestClient(fresh.client.app, client=("203.0.113.9", 40000))
    codes = [
        client.get(f"{API}/me", headers={"X-API-Key": f"astrid_bad{i}"}).status_code
        for i in range(30)
    ]
    assert codes[:10] == [401] * 10 and set(codes[11:]) == {429}
    refused = client.get(f"{API}/me", headers=fresh.headers("viewer"))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    page = client.get("/login")
    assert page.status_code == 200, "the login page itself is not locked"
    login = client.post("/login", data={"credential": fresh.keys["viewer"]})
    assert login.status_code == 429 and int(login.headers["retry-after"]) >= 1


def test_successful_logins_are_not_slowed(fresh: Env) -> None:
    client = TestClient(fresh.client.app)
    for _ in range(9):  # a few typos, then the right key: no lock-out, and the count resets
        client.post("/login", data={"credential": "astrid_typo"}, follow_redirects=False)
    for _ in range(50):
        r = client.post("/login", data={"credential": fresh.keys["viewer"]}, follow_redirects=False)
        assert r.status_code == 303
    for _ in range(10):
        bad = client.post("/login", data={"credential": "astrid_typo2"}, follow_redirects=False)
        assert bad.status_code == 401, "the count started again after the success"
