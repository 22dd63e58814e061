"""Same tables everywhere: CloudFormation (moto's) builds the template's Table resources into exactly
the tables the local stack and the tests create from the same file, so the template is valid for
CloudFormation and neither side can drift."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.settings import Settings
from local.tables import create_tables, load_template, table_resources


def _tables_template(tables: dict[str, Any]) -> str:
    """A stack of just these Table resources, with the parameter and condition their encryption
    setting reads (default: DynamoDB's own key; the customer-managed key is left out)."""
    template = load_template()
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                       "Parameters": {"TableEncryption": template["Parameters"]["TableEncryption"]},
                       "Conditions": {"HasCustomerManagedKey": template["Conditions"]["HasCustomerManagedKey"]},
                       "Resources": tables})


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def _shape(dynamodb: Any, name: str) -> dict[str, Any]:
    """What makes two tables the same for the code: keys, attribute types, indexes, billing, stream, TTL."""
    table = dynamodb.describe_table(TableName=name)["Table"]
    stream = table.get("StreamSpecification") or {"StreamEnabled": False}
    return {
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "BillingMode": table["BillingModeSummary"]["BillingMode"],
        "GlobalSecondaryIndexes": sorted(
            ({"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
             for i in table.get("GlobalSecondaryIndexes", [])), key=lambda i: i["IndexName"]),
        "Stream": stream.get("StreamViewType") if stream["StreamEnabled"] else None,
    }


def test_cloudformation_and_the_local_stack_build_the_same_tables(dynamodb: Any):
    tables = {name: resource for name, resource in load_template()["Resources"].items()
              if resource["Type"] == "AWS::DynamoDB::Table"}
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="omnicard-tables", TemplateBody=_tables_template(tables))
    deployed = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cloudformation.describe_stack_resources(StackName="omnicard-tables")["StackResources"]}
    settings = Settings(ledger_table="local-ledger", views_table="local-views", webhooks_table="local-webhooks",
                        jwt_secret="local-test-secret")

    create_tables(dynamodb, settings)

    assert set(deployed) == set(tables) == {"LedgerTable", "ViewsTable", "WebhooksTable"}
    local_names = {"LedgerTable": settings.ledger_table, "ViewsTable": settings.views_table,
                   "WebhooksTable": settings.webhooks_table}
    for logical_id, physical_name in deployed.items():
        assert _shape(dynamodb, physical_name) == _shape(dynamodb, local_names[logical_id]), logical_id


def test_the_local_stack_turns_on_the_ttl_the_template_declares(dynamodb: Any):
    # moto's CloudFormation ignores TimeToLiveSpecification, so TTL is compared with the template itself.
    settings = Settings(ledger_table="local-ledger", views_table="local-views", webhooks_table="local-webhooks",
                        jwt_secret="local-test-secret")

    create_tables(dynamodb, settings)

    names = {"LedgerTable": settings.ledger_table, "ViewsTable": settings.views_table,
             "WebhooksTable": settings.webhooks_table}
    for logical_id, properties in table_resources().items():
        spec = properties.get("TimeToLiveSpecification")
        ttl = dynamodb.describe_time_to_live(TableName=names[logical_id])["TimeToLiveDescription"]
        expected = {"TimeToLiveStatus": "ENABLED", "AttributeName": spec["AttributeName"]} if spec else \
            {"TimeToLiveStatus": "DISABLED"}
        assert ttl == expected, logical_id


def test_a_table_changed_on_one_side_only_is_caught(dynamodb: Any):
    """Drift guard for the guard: a GSI added only to the CloudFormation side makes the shapes differ."""
    tables = {name: json.loads(json.dumps(resource)) for name, resource in load_template()["Resources"].items()
              if resource["Type"] == "AWS::DynamoDB::Table"}
    views = tables["ViewsTable"]["Properties"]
    views["AttributeDefinitions"].append({"AttributeName": "GSI9PK", "AttributeType": "S"})
    views["GlobalSecondaryIndexes"] = [{"IndexName": "GSI9", "KeySchema": [{"AttributeName": "GSI9PK", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "KEYS_ONLY"}}]
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="drifted", TemplateBody=_tables_template({"ViewsTable": tables["ViewsTable"]}))
    [resource] = cloudformation.describe_stack_resources(StackName="drifted")["StackResources"]
    settings = Settings(ledger_table="local-ledger", views_table="local-views", webhooks_table="local-webhooks",
                        jwt_secret="local-test-secret")

    create_tables(dynamodb, settings)

    assert _shape(dynamodb, resource["PhysicalResourceId"]) != _shape(dynamodb, settings.views_table)
