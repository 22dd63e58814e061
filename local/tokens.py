"""Dev tokens for the local stack: HS256 JWTs that the hs256 auth mode accepts.

`make token ROLE=pos STORE=S1` or `python -m local.tokens --role customer --member mem_1`.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import jwt

from local import DEFAULT_LOCAL_SECRET

ROLES = ("customer", "pos", "agent", "supervisor", "service")

# Claims each role needs, with defaults that make a usable token out of `--role` alone.
ROLE_CLAIMS: dict[str, dict[str, str]] = {
    "customer": {"member_id": "mem_local", "channel": "app"},
    "pos": {"store_id": "S1", "terminal_id": "T1"},
    "agent": {"agent_id": "A1"},
    "supervisor": {"agent_id": "A1"},
    "service": {},
}


def local_secret() -> str:
    """The signing secret the local server uses: OMNICARD_JWT_SECRET, else the documented default."""
    return os.environ.get("OMNICARD_JWT_SECRET") or DEFAULT_LOCAL_SECRET


def token_claims(role: str, *, ttl_seconds: int = 3600, now: int | None = None, **claims: Any) -> dict[str, Any]:
    """The claims make_token signs: sub, role, iat, exp, the role's claims, then any extras."""
    if role not in ROLE_CLAIMS:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    given = {name: value for name, value in claims.items() if value is not None}
    role_claims = {name: given.pop(name, default) for name, default in ROLE_CLAIMS[role].items()}
    issued = int(time.time()) if now is None else now
    subject = given.pop("sub", None) or f"{role}:{_subject_id(role_claims)}"
    return {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl_seconds, **role_claims, **given}


def make_token(role: str, *, secret: str | None = None, ttl_seconds: int = 3600, **claims: Any) -> str:
    """An HS256 JWT for `role`; claims left out get the role's local defaults."""
    return sign(token_claims(role, ttl_seconds=ttl_seconds, **claims), secret or local_secret())


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _subject_id(role_claims: dict[str, str]) -> str:
    if "member_id" in role_claims:
        return role_claims["member_id"]
    if "store_id" in role_claims:
        return f"{role_claims['store_id']}/{role_claims['terminal_id']}"
    return role_claims.get("agent_id", "svc")


_FLAGS = {"member_id": "--member", "channel": "--channel", "store_id": "--store",
          "terminal_id": "--terminal", "agent_id": "--agent"}


def main(argv: Sequence[str] | None = None) -> int:
    """Print a token on the first line and its claims as JSON after it."""
    parser = argparse.ArgumentParser(prog="omnicard-token", description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--member", dest="member_id")
    parser.add_argument("--channel", choices=("app", "web"))
    parser.add_argument("--store", dest="store_id")
    parser.add_argument("--terminal", dest="terminal_id")
    parser.add_argument("--agent", dest="agent_id")
    parser.add_argument("--sub")
    parser.add_argument("--ttl", dest="ttl_seconds", type=int, default=3600)
    args = vars(parser.parse_args(argv))
    role, ttl_seconds = args.pop("role"), args.pop("ttl_seconds")
    misplaced = [_FLAGS[name] for name, value in args.items()
                 if value is not None and name in _FLAGS and name not in ROLE_CLAIMS[role]]
    if misplaced:
        parser.error(f"not claims of a {role} token: {', '.join(misplaced)}")
    claims = token_claims(role, ttl_seconds=ttl_seconds, **args)
    print(sign(claims, local_secret()))
    print(json.dumps(claims, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
