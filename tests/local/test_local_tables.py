"""The local and test tables are built from infra/template.json, the file that deploys them."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.settings import Settings
from local.tables import create_tables, load_template, table_definitions, table_name


def _template_tables() -> dict[str, dict[str, Any]]:
    return {logical_id: resource["Properties"] for logical_id, resource in load_template()["Resources"].items()
            if resource["Type"] == "AWS::DynamoDB::Table"}


def _key_schema(entries: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(entry["AttributeName"], entry["KeyType"]) for entry in entries]


def test_table_definitions_are_the_template_tables_under_the_configured_names(settings: Settings):
    definitions = table_definitions(settings)

    assert set(definitions) == set(_template_tables()) == {"LedgerTable", "ViewsTable", "WebhooksTable"}
    assert definitions["LedgerTable"]["TableName"] == settings.ledger_table
    assert definitions["ViewsTable"]["TableName"] == settings.views_table
    assert definitions["WebhooksTable"]["TableName"] == settings.webhooks_table
    for logical_id, properties in _template_tables().items():
        definition = definitions[logical_id]
        assert definition["KeySchema"] == properties["KeySchema"]
        assert definition["AttributeDefinitions"] == properties["AttributeDefinitions"]
        assert definition["BillingMode"] == properties["BillingMode"]
        assert definition.get("GlobalSecondaryIndexes") == properties.get("GlobalSecondaryIndexes")
        stream = properties.get("StreamSpecification")
        expected_stream = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]} if stream else None
        assert definition.get("StreamSpecification") == expected_stream


def test_create_tables_builds_both_tables_as_the_template_defines(dynamodb: Any, settings: Settings):
    stream_arns = create_tables(dynamodb, settings)

    template = _template_tables()
    ledger = dynamodb.describe_table(TableName=settings.ledger_table)["Table"]
    views = dynamodb.describe_table(TableName=settings.views_table)["Table"]
    for table, properties in ((ledger, template["LedgerTable"]), (views, template["ViewsTable"])):
        assert table["TableStatus"] == "ACTIVE"
        assert _key_schema(table["KeySchema"]) == _key_schema(properties["KeySchema"])
        assert sorted(map(tuple, (d.values() for d in table["AttributeDefinitions"]))) == \
            sorted(map(tuple, (d.values() for d in properties["AttributeDefinitions"])))
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [gsi] = ledger["GlobalSecondaryIndexes"]
    [expected_gsi] = template["LedgerTable"]["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == expected_gsi["IndexName"] == "GSI1"
    assert _key_schema(gsi["KeySchema"]) == _key_schema(expected_gsi["KeySchema"])
    assert gsi["Projection"] == expected_gsi["Projection"]
    assert ledger["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert stream_arns == {"LedgerTable": ledger["LatestStreamArn"], "ViewsTable": "", "WebhooksTable": ""}
    assert "StreamSpecification" not in views or not views["StreamSpecification"]["StreamEnabled"]
    ttl = dynamodb.describe_time_to_live(TableName=settings.ledger_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_create_tables_twice_keeps_the_tables_and_their_data(dynamodb: Any, settings: Settings):
    first = create_tables(dynamodb, settings)
    dynamodb.put_item(TableName=settings.ledger_table, Item={"PK": {"S": "CARD#1"}, "SK": {"S": "META"}})

    second = create_tables(dynamodb, settings)

    assert second == first
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted([settings.ledger_table, settings.views_table,
                                                                   settings.webhooks_table])
    assert dynamodb.scan(TableName=settings.ledger_table)["Count"] == 1


def test_a_template_table_without_a_configured_name_is_refused(settings: Settings):
    with pytest.raises(ValueError, match="OrdersTable"):
        table_name("OrdersTable", settings)
