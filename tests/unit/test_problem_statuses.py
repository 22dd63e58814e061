"""Domain errors carry codes; only the API maps them to HTTP statuses (api/problems.py), as the
contract's Errors table says."""
from __future__ import annotations

from chalicelib.api.problems import STATUS, problem, status_of
from chalicelib.domain import errors

CONTRACT = {  # code → status, from the contract's Errors table (+ the statuses it leaves to us)
    "validation_error": 422, "idempotency_key_required": 400, "unauthorized": 401, "forbidden": 403,
    "not_found": 404, "method_not_allowed": 405, "insufficient_funds": 409, "insufficient_stars": 409,
    "card_not_active": 409, "request_in_progress": 409, "already_refunded": 409, "already_decided": 409,
    "already_exists": 409, "hold_not_active": 409, "idempotency_key_reused": 422, "limit_exceeded": 422, "currency_mismatch": 422,
    "rate_limited": 429, "concurrent_update": 409, "service_unavailable": 503,
}


def _error_classes() -> list[type[errors.DomainError]]:
    return [cls for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.DomainError) and cls.code != "error"]


def test_domain_errors_know_no_http_status():
    assert all("status" not in vars(cls) for cls in [errors.DomainError, *_error_classes()])


def test_every_domain_error_has_its_contract_status_in_the_api():
    for cls in _error_classes():
        if cls is errors.PayloadTooLarge:
            assert (cls.code, status_of(cls)) == ("validation_error", 413)
        elif cls is errors.UnsupportedMediaType:
            assert (cls.code, status_of(cls)) == ("validation_error", 415)
        else:
            assert status_of(cls) == CONTRACT[cls.code], cls
        assert cls in STATUS, f"{cls.__name__} has no row of its own in api/problems.STATUS"


def test_the_problem_body_shows_the_mapped_status():
    body = problem(errors.InsufficientFunds("card holds 1.00"))
    assert (body["status"], body["code"], body["detail"]) == (409, "insufficient_funds", "card holds 1.00")
    assert problem(errors.PayloadTooLarge())["status"] == 413
