"""Authentication and roles: API keys, HS256 and RS256 (JWKS) bearer tokens, sessions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from astrid.catalog.access import audit_log
from astrid.config import Settings
from astrid.service.auth import SESSION_COOKIE
from astrid.service.jwks import JwksCache, http_fetcher
from astrid.service.state import service_secret
from service_env import Env, build_env

API = "/api/v1"
SECRET = "s" * 40
ISSUER = "https://idp.example.test/"
AUDIENCE = "astrid-api"


def _hs256(claims: dict[str, Any], secret: str = SECRET) -> str:
    base = {"sub": "user-1", "exp": int(time.time()) + 600}
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


# -- API keys and roles -------------------------------------------------------------------


def test_no_bad_or_malformed_credentials_are_401(env: Env) -> None:
    for headers in (
        {},
        {"X-API-Key": "astrid_nope"},
        {"X-API-Key": "x" * 500},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not.a.jwt"},
    ):
        r = env.client.get(f"{API}/me", headers=headers)
        assert r.status_code == 401, (headers, r.text)


def test_each_key_has_its_role(env: Env) -> None:
    for role in ("viewer", "curator", "admin"):
        me = env.client.get(f"{API}/me", headers=env.headers(role)).json()
        assert me["role"] == role and me["method"] == "api_key"
        bearer = {"Authorization": f"Bearer {env.keys[role]}"}
        assert env.client.get(f"{API}/me", headers=bearer).json()["role"] == role


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("post", "/candidates/1/labels", "curator"),
        ("post", "/review/next", "curator"),
        ("delete", "/review/claims/1", "curator"),
        ("get", "/keys", "admin"),
        ("post", "/keys", "admin"),
        ("delete", "/keys/1", "admin"),
        ("get", "/audit", "admin"),
        ("post", "/observations?filename=a.fits", "admin"),
    ],
)
def test_writes_need_their_role(env: Env, method: str, path: str, needed: str) -> None:
    order = ["viewer", "curator", "admin"]
    for role in order[: order.index(needed)]:
        r = env.client.request(method, API + path, headers=env.headers(role), json={})
        assert r.status_code == 403, (role, r.text)
        assert needed in r.json()["detail"]
    r = env.client.request(method, API + path)
    assert r.status_code == 401


def test_health_is_open_everything_else_is_not(env: Env) -> None:
    assert env.client.get(f"{API}/health").status_code == 200
    assert env.client.get(f"{API}/ready").status_code == 200
    for path in ("/observations", "/runs", "/jobs", "/models", "/exports/candidates.csv"):
        assert env.client.get(API + path).status_code == 401, path


def test_revoked_key_stops_working(fresh: Env) -> None:
    admin = fresh.headers("admin")
    created = fresh.client.post(
        f"{API}/keys", json={"name": "temp", "role": "curator"}, headers=admin
    )
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["record"]["id"]
    assert fresh.client.get(f"{API}/me", headers={"X-API-Key": key}).status_code == 200
    revoked = fresh.client.delete(f"{API}/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert fresh.client.get(f"{API}/me", headers={"X-API-Key": key}).status_code == 401
    assert fresh.client.delete(f"{API}/keys/999999", headers=admin).status_code == 404


def test_keys_are_stored_hashed(fresh: Env) -> None:
    with fresh.service.catalog.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM api_keys").all()
    dumped = json.dumps([list(map(str, r)) for r in rows])
    for key in fresh.keys.values():
        assert key not in dumped
        assert key[:16] in dumped  # the prefix, to tell keys apart


# -- HS256 --------------------------------------------------------------------------------


@pytest.fixture
def hs_env(tmp_path: Path) -> Iterator[Env]:
    yield from build_env(tmp_path / "hs", jwt_secret=SECRET)


def test_hs256_token_with_role(hs_env: Env) -> None:
    token = _hs256({"role": "curator", "preferred_username": "ann"})
    r = hs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "ann", "role": "curator", "method": "jwt", "subject": "jwt|user-1"}
    label = hs_env.client.post(
        f"{API}/candidates/{hs_env.seeded.candidate_ids[0]}/labels",
        json={"label": "real"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert label.status_code == 201 and label.json()["curator"] == "ann"


def test_hs256_role_in_a_nested_list_claim(tmp_path: Path) -> None:
    for env in build_env(tmp_path / "nested", jwt_secret=SECRET, jwt_role_claim="realm.roles"):
        token = _hs256({"realm": {"roles": ["viewer", "admin", "other"]}})
        r = env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.json()["role"] == "admin"


@pytest.mark.parametrize(
    ("token_claims", "secret", "status"),
    [
        ({"role": "viewer", "exp": int(time.time()) - 3600}, SECRET, 401),  # expired
        ({"role": "viewer"}, "w" * 40, 401),  # wrong secret
        ({"role": "superuser"}, SECRET, 403),  # no known role
        ({}, SECRET, 403),  # no role at all
    ],
)
def test_hs256_refusals(
    hs_env: Env, token_claims: dict[str, Any], secret: str, status: int
) -> None:
    token = _hs256(token_claims, secret)
    r = hs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == status, r.text


def test_hs256_without_exp_or_with_alg_none_is_refused(hs_env: Env) -> None:
    no_exp = jwt.encode({"sub": "u", "role": "admin"}, SECRET, algorithm="HS256")
    unsigned = jwt.encode({"sub": "u", "role": "admin", "exp": 2**40}, None, algorithm="none")
    for token in (no_exp, unsigned):
        r = hs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


def test_session_token_is_not_a_bearer_token(hs_env: Env) -> None:
    login = hs_env.client.post(
        "/login", data={"credential": hs_env.keys["admin"]}, follow_redirects=False
    )
    session = login.cookies.get("astrid_session") or hs_env.client.cookies.get("astrid_session")
    assert session
    hs_env.client.cookies.clear()
    r = hs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {session}"})
    assert r.status_code == 401


def test_production_refuses_weak_secrets(tmp_path: Path) -> None:
    from pydantic import ValidationError

    for secret in (None, "changethis", "short"):
        with pytest.raises(ValidationError, match="jwt_secret"):
            Settings(data_dir=tmp_path, environment="production", jwt_secret=secret)
    Settings(data_dir=tmp_path, environment="production", jwt_secret=SECRET)


def test_local_secret_is_random_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = service_secret(settings)
    assert len(first) >= 32 and service_secret(settings) == first
    assert (tmp_path / "service-secret").stat().st_mode & 0o077 == 0
    assert service_secret(Settings(data_dir=tmp_path / "other")) != first


# -- RS256 against a JWKS served over HTTP ------------------------------------------------


class _JwksServer:
    """A local HTTP server publishing a JWKS document, counting requests."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def _rs256(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    base = {
        "sub": "oidc-user",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "email": "bea@example.test",
        "app_metadata": {"role": "curator"},
    }
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture
def jwks_server(signing_key: rsa.RSAPrivateKey) -> Iterator[_JwksServer]:
    server = _JwksServer({"keys": [_jwk(signing_key, "k1")]})
    yield server
    server.close()


@pytest.fixture
def rs_env(tmp_path: Path, jwks_server: _JwksServer) -> Iterator[Env]:
    yield from build_env(
        tmp_path / "rs",
        oidc_jwks_url=jwks_server.url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        jwt_role_claim="app_metadata.role",
    )


def test_rs256_token_verified_against_the_jwks(
    rs_env: Env, jwks_server: _JwksServer, signing_key: rsa.RSAPrivateKey
) -> None:
    token = _rs256(signing_key, "k1")
    for _ in range(3):
        r = rs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
    assert r.json() == {
        "name": "bea@example.test",
        "role": "curator",
        "method": "jwt",
        "subject": f"{ISSUER}|oidc-user",
    }
    assert jwks_server.requests == 1, "the key set is cached"


def test_rs256_refusals(
    rs_env: Env, jwks_server: _JwksServer, signing_key: rsa.RSAPrivateKey
) -> None:
    other = _rsa_key()
    cases = {
        "forged with another key": _rs256(other, "k1"),
        "unknown kid": _rs256(other, "k9"),
        "wrong audience": _rs256(signing_key, "k1", aud="someone-else"),
        "wrong issuer": _rs256(signing_key, "k1", iss="https://evil.example.test/"),
        "expired": _rs256(signing_key, "k1", exp=int(time.time()) - 3600),
        # an HS256 token signed with the public key must not pass as RS256
        "algorithm confusion": jwt.encode(
            {"sub": "x", "exp": int(time.time()) + 60, "role": "admin"},
            "p" * 40,
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
    }
    for name, token in cases.items():
        r = rs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (name, r.text)


def test_rotated_key_is_fetched_again(
    rs_env: Env, jwks_server: _JwksServer, signing_key: rsa.RSAPrivateKey
) -> None:
    assert rs_env.service.auth is not None
    headers = {"Authorization": f"Bearer {_rs256(signing_key, 'k1')}"}
    assert rs_env.client.get(f"{API}/me", headers=headers).status_code == 200
    new_key = _rsa_key()
    jwks_server.document = {"keys": [_jwk(signing_key, "k1"), _jwk(new_key, "k2")]}
    cache = rs_env.service.auth._jwks
    assert isinstance(cache, JwksCache)
    cache._min_refetch = 0.0  # the test cannot wait out the refetch guard
    r = rs_env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {_rs256(new_key, 'k2')}"})
    assert r.status_code == 200, r.text
    assert jwks_server.requests == 2


def test_unreachable_jwks_is_503_not_500(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    server = _JwksServer({})
    url = server.url
    server.close()  # nothing listens there now
    for env in build_env(tmp_path / "down", oidc_jwks_url=url):
        token = _rs256(signing_key, "k1")
        r = env.client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503


def test_injected_fetcher(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return {"keys": [_jwk(signing_key, "k1")]}

    for env in build_env(
        tmp_path / "inj",
        jwks_fetcher=fetch,
        oidc_jwks_url="https://idp.example.test/jwks",
        jwt_role_claim="app_metadata.role",
    ):
        r = env.client.get(
            f"{API}/me", headers={"Authorization": f"Bearer {_rs256(signing_key, 'k1')}"}
        )
        assert r.status_code == 200, r.text
    assert fetched == ["https://idp.example.test/jwks"]


def test_http_fetcher_reads_the_document(jwks_server: _JwksServer) -> None:
    assert http_fetcher(jwks_server.url)["keys"][0]["kid"] == "k1"


# -- sessions (the web page's cookie) -----------------------------------------------------


def test_session_writes_need_the_csrf_header(fresh: Env) -> None:
    client = fresh.client
    login = client.post(
        "/login", data={"credential": fresh.keys["curator"]}, follow_redirects=False
    )
    assert login.status_code == 303
    assert client.get(f"{API}/me").json()["method"] == "session"
    cid = fresh.seeded.candidate_ids[0]
    refused = client.post(f"{API}/candidates/{cid}/labels", json={"label": "bogus"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.text
    page = client.get("/").text
    token = page.split('"X-CSRF-Token": "')[1].split('"')[0]
    ok = client.post(
        f"{API}/candidates/{cid}/labels", json={"label": "bogus"}, headers={"X-CSRF-Token": token}
    )
    assert ok.status_code == 201


def test_login_is_audited_and_bad_login_is_401(fresh: Env) -> None:
    bad = fresh.client.post("/login", data={"credential": "astrid_wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "invalid" in bad.text
    fresh.client.post("/login", data={"credential": fresh.keys["viewer"]}, follow_redirects=False)
    entries = audit_log(fresh.service.catalog, action="session.login")
    assert [e.actor.split(" ")[0] for e in entries] == ["viewer-user"]


def test_revoking_a_key_ends_its_sessions(fresh: Env) -> None:
    client = fresh.client
    client.post("/login", data={"credential": fresh.keys["curator"]}, follow_redirects=False)
    assert client.get(f"{API}/me").status_code == 200
    keys = client.get(f"{API}/keys", headers=fresh.headers("admin")).json()
    curator_key = next(k for k in keys if k["name"] == "curator-user")
    client.delete(f"{API}/keys/{curator_key['id']}", headers=fresh.headers("admin"))
    assert client.get(f"{API}/me").status_code == 401


def test_a_session_from_a_jwt_ends_when_the_token_expires(hs_env: Env) -> None:
    client = TestClient(hs_env.client.app)
    token = _hs256({"role": "admin", "exp": int(time.time()) + 2})
    login = client.post("/login", data={"credential": token}, follow_redirects=False)
    assert login.status_code == 303
    assert int(login.headers["set-cookie"].split("Max-Age=")[1].split(";")[0]) <= 2
    assert client.get(f"{API}/me").json()["role"] == "admin"
    time.sleep(3.1)
    # the browser would have dropped the cookie; one that is kept is refused server-side
    client.cookies.set(SESSION_COOKIE, login.cookies[SESSION_COOKIE])
    assert client.get(f"{API}/me").status_code == 401
    assert client.get(f"{API}/keys").status_code == 401


def test_no_session_from_a_token_that_has_expired(hs_env: Env) -> None:
    # 10 s past expiry: inside the bearer leeway (clock skew), but no session is made
    token = _hs256({"role": "admin", "exp": int(time.time()) - 10})
    client = TestClient(hs_env.client.app)
    refused = client.post("/login", data={"credential": token}, follow_redirects=False)
    assert refused.status_code == 401 and "expired" in refused.text
    assert SESSION_COOKIE not in refused.cookies


def test_a_session_from_a_key_lasts_the_session_setting(fresh: Env) -> None:
    client = TestClient(fresh.client.app)
    login = client.post("/login", data={"credential": fresh.keys["viewer"]}, follow_redirects=False)
    assert f"Max-Age={12 * 3600}" in login.headers["set-cookie"]


def test_logout_revokes_a_copied_cookie(fresh: Env) -> None:
    client = TestClient(fresh.client.app)
    client.post("/login", data={"credential": fresh.keys["admin"]}, follow_redirects=False)
    copied = client.cookies[SESSION_COOKIE]
    page = client.get("/").text
    csrf = page.split('"X-CSRF-Token": "')[1].split('"')[0]
    assert client.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    thief = TestClient(fresh.client.app, cookies={SESSION_COOKIE: copied})
    assert thief.get(f"{API}/me").status_code == 401
    assert thief.get("/admin", follow_redirects=False).status_code == 303  # to the login
    assert [e.action for e in audit_log(fresh.service.catalog, action="session.logout")] == [
        "session.logout"
    ]
