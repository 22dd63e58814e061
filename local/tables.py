"""Create the tables from infra/template.json, so local and test tables match what deploys."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.settings import Settings, get_settings

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "template.json"

# Which setting names each table; a table added to the template must be added here too.
_TABLE_NAME_SETTING = {
    "LedgerTable": "ledger_table",
    "ViewsTable": "views_table",
    "WebhooksTable": "webhooks_table",
}

# CloudFormation properties with the same shape in create_table.
_COPIED = ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
           "GlobalSecondaryIndexes", "LocalSecondaryIndexes")
# Properties that matter only to a deployed table (or are applied after creation).
_IGNORED = frozenset({"TimeToLiveSpecification", "PointInTimeRecoverySpecification",
                      "DeletionProtectionEnabled", "SSESpecification", "Tags", "ContributorInsightsSpecification",
                      "TableClass"})


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        template: dict[str, Any] = json.load(handle)
    return template


def table_resources(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The template's AWS::DynamoDB::Table resources' Properties, by logical id."""
    template = template if template is not None else load_template()
    return {logical_id: resource.get("Properties", {})
            for logical_id, resource in template["Resources"].items()
            if resource.get("Type") == "AWS::DynamoDB::Table"}


def table_name(logical_id: str, settings: Settings) -> str:
    try:
        return str(getattr(settings, _TABLE_NAME_SETTING[logical_id]))
    except KeyError:
        raise ValueError(f"no setting names table {logical_id}; add it to _TABLE_NAME_SETTING") from None


def table_definitions(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    """create_table keyword arguments for every table in the template, by logical id."""
    settings = settings or get_settings()
    return {logical_id: _create_table_kwargs(table_name(logical_id, settings), properties)
            for logical_id, properties in table_resources().items()}


def _create_table_kwargs(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    unknown = set(properties) - set(_COPIED) - _IGNORED - {"StreamSpecification"}
    if unknown:
        # Refuse rather than silently create a table that differs from the deployed one.
        raise ValueError(f"table {name}: cannot translate properties {sorted(unknown)}")
    kwargs: dict[str, Any] = {"TableName": name}
    kwargs.update({key: properties[key] for key in _COPIED if key in properties})
    stream = properties.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return kwargs


def create_tables(dynamodb_client: Any, settings: Settings | None = None) -> dict[str, str]:
    """Create missing tables, wait until ACTIVE, enable TTL; {logical_id: LatestStreamArn or ""}.

    Existing tables are left as they are, so this is safe against DynamoDB Local, LocalStack
    or a real account, and on every start of the local server.
    """
    settings = settings or get_settings()
    resources = table_resources()
    stream_arns: dict[str, str] = {}
    for logical_id, kwargs in table_definitions(settings).items():
        name = kwargs["TableName"]
        if not _table_exists(dynamodb_client, name):
            try:
                dynamodb_client.create_table(**kwargs)
                logger.info("created table %s (%s)", name, logical_id)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceInUseException":
                    raise
                # Someone else created it between our describe and create: fine.
        dynamodb_client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        _enable_ttl(dynamodb_client, name, resources[logical_id].get("TimeToLiveSpecification"))
        table = dynamodb_client.describe_table(TableName=name)["Table"]
        stream_arns[logical_id] = table.get("LatestStreamArn", "")
    return stream_arns


def _table_exists(dynamodb_client: Any, name: str) -> bool:
    try:
        dynamodb_client.describe_table(TableName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def _enable_ttl(dynamodb_client: Any, name: str, spec: dict[str, Any] | None) -> None:
    if not spec or not spec.get("Enabled"):
        return
    try:
        current = dynamodb_client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return
        dynamodb_client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["AttributeName"]})
    except ClientError as exc:
        # Some emulators do not implement TTL; expiry is a deployed-table concern anyway.
        logger.warning("TTL not enabled on %s: %s", name, exc)
