"""Bearer JWT → Principal. HS256 with OMNICARD_JWT_SECRET in the local and test stages; RS256 from
the identity provider's JWKS (issuer and audience checked) in deployed stages.

Tokens are verified inside the function rather than by an API Gateway authorizer so that every
401 is the contract's problem+json on every stage (see README, Authentication)."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.principals import Principal
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    import jwt

_REQUIRED_BY_ROLE = {
    "customer": ("member_id", "channel"),
    "pos": ("store_id", "terminal_id"),
    "agent": ("agent_id",),
    "supervisor": ("agent_id",),
    "service": (),
}
_CHANNEL_BY_ROLE = {"pos": "pos", "agent": "phone", "supervisor": "phone", "service": "system"}


@lru_cache(maxsize=1)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    import jwt

    # Keys are cached per process; an unknown kid makes PyJWT refetch the set once.
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


def verify_token(token: str) -> dict[str, Any]:
    """The token's claims if its signature, expiry (and on deployed stages issuer and audience) hold."""
    # Imported at the first token, not with the app: PyJWT loads the cryptography package's RS256
    # and X.509 code (~a tenth of the API's cold start), which health and OpenAPI calls never need.
    import jwt

    settings = get_settings()
    try:
        if settings.auth_mode == "hs256":
            return jwt.decode(token, settings.jwt_secret, algorithms=["HS256"],
                              options={"require": ["exp", "sub", "role"], "verify_aud": False})
        key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key
        return jwt.decode(token, key, algorithms=["RS256"], audience=settings.jwt_audience,
                          issuer=settings.jwt_issuer, options={"require": ["exp", "sub", "role", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The principal a verified token names. Claims are checked for type before they are used: a
    signed token is still the caller's input (`"role": ["agent"]` is a 401, not a TypeError)."""
    role = claims.get("role")
    if not isinstance(role, str) or role not in _REQUIRED_BY_ROLE:
        raise Unauthorized("token has no valid role")
    if not _is_text(claims.get("sub")):
        raise Unauthorized("token has no valid sub")
    wrong = [name for name in _REQUIRED_BY_ROLE[role] if not _is_text(claims.get(name))]
    if wrong:
        raise Unauthorized(f"a {role} token needs {', '.join(wrong)} as non-empty strings")
    channel = claims["channel"] if role == "customer" else _CHANNEL_BY_ROLE[role]
    if role == "customer" and channel not in ("app", "web"):
        raise Unauthorized("a customer token's channel is app or web")
    try:
        return Principal(sub=claims["sub"], role=role, channel=channel,
                         member_id=claims["member_id"] if role == "customer" else None,
                         store_id=claims["store_id"] if role == "pos" else None,
                         terminal_id=claims["terminal_id"] if role == "pos" else None,
                         agent_id=claims["agent_id"] if role in ("agent", "supervisor") else None)
    except ValidationError as exc:
        raise Unauthorized("token claims are malformed") from exc


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def authenticate(authorization: str | None) -> Principal:
    """The principal behind an `Authorization: Bearer <JWT>` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("Authorization: Bearer <token> required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: Bearer <token> required")
    return principal_from_claims(verify_token(token.strip()))
