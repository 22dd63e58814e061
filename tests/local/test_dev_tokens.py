"""Local dev tokens verify with PyJWT and carry the claims each role needs."""
from __future__ import annotations

import json

import jwt
import pytest

from local import DEFAULT_LOCAL_SECRET
from local.tokens import ROLES, main, make_token

SECRET = "a-test-secret-that-is-at-least-32-bytes"
ROLE_KEYS = {"customer": {"member_id", "channel"}, "pos": {"store_id", "terminal_id"},
             "agent": {"agent_id"}, "supervisor": {"agent_id"}, "service": set()}


@pytest.mark.parametrize("role", ROLES)
def test_token_for_each_role_round_trips_with_its_claims(role: str):
    token = make_token(role, secret=SECRET, ttl_seconds=600)

    claims = jwt.decode(token, SECRET, algorithms=["HS256"])

    assert claims["role"] == role
    assert set(claims) == {"sub", "role", "iat", "exp"} | ROLE_KEYS[role]
    assert claims["exp"] - claims["iat"] == 600
    assert claims["sub"].startswith(f"{role}:")


def test_given_claims_replace_the_role_defaults():
    token = make_token("customer", secret=SECRET, member_id="mem_42", channel="web", tier="gold")

    claims = jwt.decode(token, SECRET, algorithms=["HS256"])

    assert (claims["sub"], claims["member_id"], claims["channel"], claims["tier"]) == \
        ("customer:mem_42", "mem_42", "web", "gold")


# The documented local secret is 26 bytes: PyJWT warns when verifying with it.
@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
def test_secret_defaults_to_the_environment_then_the_documented_local_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OMNICARD_JWT_SECRET", SECRET)
    assert jwt.decode(make_token("service"), SECRET, algorithms=["HS256"])["role"] == "service"

    monkeypatch.delenv("OMNICARD_JWT_SECRET")
    token = make_token("pos", store_id="S7")
    claims = jwt.decode(token, DEFAULT_LOCAL_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["store_id"], claims["terminal_id"]) == ("pos:S7/T1", "S7", "T1")


def test_expired_token_is_rejected():
    token = make_token("agent", secret=SECRET, ttl_seconds=-10)

    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown role"):
        make_token("admin", secret=SECRET)


def test_cli_prints_the_token_then_its_claims(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("OMNICARD_JWT_SECRET", SECRET)

    assert main(["--role", "pos", "--store", "S1", "--terminal", "T9"]) == 0

    token, claims_json = capsys.readouterr().out.split("\n", 1)
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == json.loads(claims_json)
    assert json.loads(claims_json)["terminal_id"] == "T9"


def test_cli_refuses_a_claim_the_role_does_not_carry(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--role", "pos", "--member", "mem_1"])

    assert exit_info.value.code == 2
    assert "--member" in capsys.readouterr().err
