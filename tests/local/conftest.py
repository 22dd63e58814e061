"""Fixtures for the local stack's tests: moto with the environment the stack itself uses."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.settings import Settings, reset_settings
from chalicelib.store.client import reset_clients
from local.server import Stack, running_stack
from local.tables import create_tables

REGION = "us-east-1"


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto, fake credentials, and the endpoint mode moto's streams need (botocore >= 1.44.4 otherwise
    sends stream calls to an account-specific host that moto does not intercept)."""
    for name, value in {"AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def settings() -> Settings:
    return Settings(ledger_table="test-ledger", views_table="test-views", webhooks_table="test-webhooks",
                    jwt_secret="test-secret")


@pytest.fixture
def dynamodb(mocked_aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def streams(mocked_aws: None) -> Any:
    return boto3.client("dynamodbstreams", region_name=REGION)


@pytest.fixture
def ledger_stream_arn(dynamodb: Any, settings: Settings) -> str:
    return create_tables(dynamodb, settings)["LedgerTable"]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One `make run`-like stack (API over a real socket, moto, stream and webhook pumps) per module."""
    with running_stack(0) as running:
        yield running
    reset_clients()
    reset_settings()
