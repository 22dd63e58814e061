"""boto3 clients, created once per process (lazily: a route that needs none pays nothing)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

# Throttling and transient errors are retried by botocore's standard mode (jittered backoff).
CONFIG = _CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def events() -> Any:
    """EventBridge, for the stream handler's change events."""
    return boto3.client("events", config=_CONFIG)


@lru_cache(maxsize=1)
def ssm() -> Any:
    """Parameter Store, for the card-number pepper of a deployed stage."""
    return boto3.client("ssm", config=_CONFIG)


_RESETS: list[Callable[[], None]] = []


def process_client(factory: Callable[[], Any]) -> Callable[[], Any]:
    """A client made once per process by `factory`, in the module that uses it (so the IAM scan of
    tests/infra sees each service only in the functions whose code reaches it); reset_clients()
    drops it too."""
    cached = lru_cache(maxsize=1)(factory)
    _RESETS.append(cached.cache_clear)
    return cached


def reset_clients() -> None:
    """Drop cached clients (tests start moto after import)."""
    dynamodb.cache_clear()
    events.cache_clear()
    ssm.cache_clear()
    for reset in _RESETS:
        reset()


def to_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """Python values → DynamoDB attribute values; None fields are left out."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def to_attribute(value: Any) -> dict[str, Any]:
    return _serializer.serialize(value)


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values → Python values, numbers as int (we store no fractions)."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
