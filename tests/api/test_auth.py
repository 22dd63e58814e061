"""Tokens: HS256 locally, RS256 from a JWKS on deployed stages; bad tokens are 401 problem+json."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.api import auth
from chalicelib.settings import reset_settings
from local.tokens import make_token
from tests.conftest import TEST_SECRET, tokens


def _status(api, token, path="/v1/cards/crd_x"):
    response = api.get(path, token)
    return response.status_code, (response.json or {}).get("code")


@pytest.mark.parametrize("token", [
    "garbage",
    make_token("agent", secret="another-secret-that-is-long-enough-000", agent_id="A1"),
    make_token("agent", secret=TEST_SECRET, agent_id="A1", ttl_seconds=-10),
    make_token("customer", secret=TEST_SECRET, member_id="mem_1", channel="kiosk"),
    jwt.encode({"sub": "x", "role": "wizard", "exp": int(time.time()) + 60}, TEST_SECRET, algorithm="HS256"),
    jwt.encode({"sub": "x", "role": "pos", "store_id": "S1", "exp": int(time.time()) + 60}, TEST_SECRET, algorithm="HS256"),
    jwt.encode({"role": "agent", "agent_id": "A", "exp": int(time.time()) + 60}, TEST_SECRET, algorithm="HS256"),
    jwt.encode({"sub": "x", "role": "agent", "agent_id": "A"}, TEST_SECRET, algorithm="HS256"),
    jwt.encode({"sub": "x", "role": "agent", "agent_id": "A", "exp": int(time.time()) + 60}, "", algorithm="none"),
])
def test_invalid_expired_or_incomplete_tokens_are_unauthorized(api, token):
    assert _status(api, token) == (401, "unauthorized")


def test_non_bearer_authorization_is_unauthorized(api):
    response = api.request("GET", "/v1/cards/crd_x", headers={"Authorization": f"Basic {tokens.agent()}"})
    assert (response.status_code, response.json["code"]) == (401, "unauthorized")


def test_valid_token_of_each_role_is_accepted(api):
    for token in (tokens.agent(), tokens.supervisor(), tokens.pos(), tokens.customer("mem_x")):
        assert _status(api, token) == (404, "not_found")


@pytest.fixture
def jwks(monkeypatch):
    """An identity provider's JWKS served on loopback, and a signer for its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OMNICARD_AUTH_MODE", "jwks")
    monkeypatch.setenv("OMNICARD_JWKS_URL", f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json")
    monkeypatch.setenv("OMNICARD_JWT_ISSUER", "https://idp.example/")
    monkeypatch.setenv("OMNICARD_JWT_AUDIENCE", "omnicard-api")
    reset_settings()
    auth._jwks_client.cache_clear()

    def sign(claims, signing_key=key, kid="k1"):
        base = {"sub": "agent:A1", "role": "agent", "agent_id": "A1", "iss": "https://idp.example/",
                "aud": "omnicard-api", "exp": int(time.time()) + 300}
        return jwt.encode({**base, **claims}, signing_key, algorithm="RS256", headers={"kid": kid})

    yield sign
    server.shutdown()
    reset_settings()
    auth._jwks_client.cache_clear()


def test_rs256_token_from_the_jwks_is_accepted(jwks):
    principal = auth.authenticate(f"Bearer {jwks({})}")
    assert (principal.role, principal.agent_id, principal.channel) == ("agent", "A1", "phone")


@pytest.mark.parametrize("claims", [{"iss": "https://evil.example/"}, {"aud": "someone-else"}, {"exp": 1}])
def test_rs256_token_with_wrong_issuer_audience_or_expiry_is_refused(jwks, claims):
    with pytest.raises(auth.Unauthorized):
        auth.authenticate(f"Bearer {jwks(claims)}")


def test_rs256_token_signed_by_another_key_or_hs256_is_refused(jwks):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(auth.Unauthorized):
        auth.authenticate(f"Bearer {jwks({}, signing_key=stranger)}")
    with pytest.raises(auth.Unauthorized):
        auth.authenticate("Bearer " + make_token("agent", secret=TEST_SECRET, agent_id="A1"))
