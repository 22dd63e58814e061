"""`make deploy-check`: the README's Deploy section run command by command with the AWS CLI against a
loopback moto server (the SAM transform and moto's other gaps bridged in tests/infra/deploy_rehearsal.py,
never in the template), then the created stack's wiring asserted, and cfn-lint and checkov run over
the SAM template and its CloudFormation translation.

Skipped in `make test` (it needs the deploy tools' venv, ~450 MB, and a packaged stage); CI runs
`make deploy-check` beside it."""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from tests.infra.deploy_rehearsal import (DEPLOY_BIN, REGION, change_set_outputs_in_moto, event_bus_ref_in_moto,
                                          moto_server, readme_block, run_readme_block, sam_transform_in_moto,
                                          swagger_body_in_moto, translate)
from tests.infra.sam_package import BIN, ROOT, STAGE

pytestmark = pytest.mark.skipif(os.environ.get("OMNICARD_DEPLOY_CHECK") != "1",
                                reason="the deploy rehearsal runs with `make deploy-check`")

STACK = f"omnicard-{STAGE}"
BUILT = ROOT / "build" / STAGE
PEPPER_PARAMETER = f"/omnicard/{STAGE}/card-number-pepper"


@dataclass
class Deployed:
    """The stack the README's commands created in moto, and how to ask moto about it."""

    endpoint: str
    cli: subprocess.CompletedProcess[str]
    translated: dict[str, Any]
    physical: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def function(self, logical_id: str) -> dict[str, Any]:
        configuration: dict[str, Any] = self.client("lambda").get_function_configuration(
            FunctionName=self.physical[logical_id])
        return configuration

    def role_statements(self, logical_id: str) -> list[dict[str, Any]]:
        iam = self.client("iam")
        name = self.physical[logical_id]
        statements = []
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            # moto's CloudFormation stores an inline role policy as Python's repr of the dict (IAM
            # hands back JSON, which botocore decodes): read it back as moto wrote it.
            statements += (ast.literal_eval(unquote(document)) if isinstance(document, str) else document)["Statement"]
        return statements


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    assert (BUILT / "sam.json").is_file(), "run through `make deploy-check` (it packages the stage first)"
    with sam_transform_in_moto() as translated, swagger_body_in_moto(), event_bus_ref_in_moto(), \
            change_set_outputs_in_moto(), moto_server() as endpoint:
        home = tmp_path_factory.mktemp("home")
        account = run_readme_block(readme_block("### Deploy it", 0), endpoint, {"<account>": "123456789012"}, home)
        assert account.returncode == 0, f"the README's once-per-account commands failed:\n{account.stderr[-4000:]}"
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket="omnicard-artifacts")
        topic = boto3.client("sns", endpoint_url=endpoint, region_name=REGION).create_topic(Name="ops")["TopicArn"]
        cli = run_readme_block(readme_block("### Deploy it", 1), endpoint,
                               {"<artifact-bucket>": "omnicard-artifacts", "<ops-topic-arn>": topic}, home)
        assert cli.returncode == 0, f"the README's deploy commands failed:\n{cli.stderr[-4000:]}"
        resources = boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION) \
            .describe_stack_resources(StackName=STACK)["StackResources"]
        # moto lists resource types it cannot create without their ids: they are checked from the translation.
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if "PhysicalResourceId" in r}
        assert len(translated) == 1, "the deploy should have sent one template through the SAM transform"
        yield Deployed(endpoint=endpoint, cli=cli, translated=translated[0], physical=physical)


def _resolve(value: Any, deployed: Deployed) -> Any:
    """Refs to this stack's resources as their physical ids, to compare the translation with moto."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return deployed.physical.get(value["Ref"], value)
    if isinstance(value, dict):
        return {key: _resolve(item, deployed) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, deployed) for item in value]
    return value


def test_the_readme_commands_run_as_written_and_create_the_stack(deployed: Deployed):
    stack = deployed.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "Successfully created/updated stack" in deployed.cli.stdout
    assert {"LedgerTable", "ViewsTable", "APIHandler", "OnLedgerChange", "ExpireStars", "RestAPI",
            "DefaultRole", "OnLedgerChangeRole", "ExpireStarsRole", "EventBus", "FunctionLogGroup"} <= set(deployed.physical)
    parameter = deployed.client("ssm").get_parameter(Name=PEPPER_PARAMETER, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString" and len(parameter["Value"]) >= 32
    # The last command prints the outputs a client and an operator need.
    outputs = json.loads(deployed.cli.stdout[deployed.cli.stdout.rindex("\n[") + 1:])
    by_key = {output["OutputKey"]: output["OutputValue"] for output in outputs}
    assert by_key["EndpointURL"].startswith("https://") and by_key["EndpointURL"].endswith("/api/")
    assert by_key["FunctionLogGroupName"] == deployed.physical["FunctionLogGroup"]
    assert by_key["LedgerTableName"] == deployed.physical["LedgerTable"]


def test_the_account_is_set_up_for_access_logs_as_the_readme_says(deployed: Deployed):
    role_arn = deployed.client("apigateway").get_account()["cloudwatchRoleArn"]
    attached = deployed.client("iam").list_attached_role_policies(RoleName=role_arn.rsplit("/", 1)[1])

    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AmazonAPIGatewayPushToCloudWatchLogs"]


def test_the_uploaded_template_fits_what_the_deploy_command_accepts(deployed: Deployed):
    packaged = (BUILT / "packaged.yaml").read_bytes()

    assert "--s3-bucket" in readme_block("### Deploy it", 1).split("aws cloudformation deploy")[1]
    assert 51_200 < len(packaged) <= 1_000_000, len(packaged)


def test_every_function_gets_this_stacks_resources_and_no_secret(deployed: Deployed):
    stream_arn = deployed.client("dynamodb").describe_table(
        TableName=deployed.physical["LedgerTable"])["Table"]["LatestStreamArn"]

    for logical_id in ("APIHandler", "OnLedgerChange", "ExpireStars", "DeliverWebhooks"):
        variables = deployed.function(logical_id)["Environment"]["Variables"]
        assert variables["OMNICARD_WEBHOOKS_TABLE"] == deployed.physical["WebhooksTable"], logical_id
        assert variables["OMNICARD_WEBHOOK_QUEUE_URL"] == deployed.physical["WebhookDeliveries"], logical_id
        assert not [name for name in variables if "SECRET" in name], logical_id
        assert variables["OMNICARD_LEDGER_TABLE"] == deployed.physical["LedgerTable"], logical_id
        assert variables["OMNICARD_VIEWS_TABLE"] == deployed.physical["ViewsTable"], logical_id
        assert variables["OMNICARD_LEDGER_STREAM_ARN"] == stream_arn, logical_id
        assert variables["OMNICARD_EVENT_BUS"] == STACK, "the bus is named after the stack by default"
        assert variables["OMNICARD_CARD_NUMBER_PEPPER_PARAMETER"] == PEPPER_PARAMETER, logical_id
        assert not [name for name in variables if "PEPPER" in name and name != "OMNICARD_CARD_NUMBER_PEPPER_PARAMETER"]
        # moto reports every function PassThrough: tracing is checked in the translation.
        assert deployed.translated["Resources"][logical_id]["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_each_function_runs_with_its_own_role(deployed: Deployed):
    roles = {logical_id: deployed.function(logical_id)["Role"].rsplit("/", 1)[1]
             for logical_id in ("APIHandler", "OnLedgerChange", "ExpireStars", "DeliverWebhooks")}

    assert roles == {"APIHandler": deployed.physical["DefaultRole"],
                     "OnLedgerChange": deployed.physical["OnLedgerChangeRole"],
                     "ExpireStars": deployed.physical["ExpireStarsRole"],
                     "DeliverWebhooks": deployed.physical["DeliverWebhooksRole"]}


def test_only_the_stream_handlers_role_reads_the_stream_and_parks_batches(deployed: Deployed):
    def actions(role: str) -> dict[str, list[str]]:
        granted: dict[str, list[str]] = {}
        for statement in deployed.role_statements(role):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                granted.setdefault(action, []).extend(resources)
        return granted

    api, stream, expiry = actions("DefaultRole"), actions("OnLedgerChangeRole"), actions("ExpireStarsRole")
    ledger_changes = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.physical["LedgerChangeFailures"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    expiry_failures = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.physical["ExpireStarsFailures"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    stream_reads = {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"}
    assert not stream_reads & set(api) and not stream_reads & set(expiry)
    assert stream_reads <= set(stream)
    assert "sqs:SendMessage" not in api
    assert stream["sqs:SendMessage"] == [ledger_changes] and expiry["sqs:SendMessage"] == [expiry_failures]
    assert "events:PutEvents" in stream and "events:PutEvents" not in api
    for granted, tables in ((api, ("LedgerTable", "ViewsTable", "WebhooksTable")), (stream, ("LedgerTable", "ViewsTable")),
                            (expiry, ("LedgerTable", "ViewsTable"))):  # every ARN resolved to this stack's own resources
        assert granted["ssm:GetParameter"] == [f"arn:aws:ssm:{REGION}:123456789012:parameter{PEPPER_PARAMETER}"]
        assert sorted(granted["dynamodb:PutItem"]) == sorted(
            f"arn:aws:dynamodb:{REGION}:123456789012:table/{deployed.physical[table]}" for table in tables)


def test_the_stream_mapping_reads_the_real_stream_reports_failures_and_parks_batches(deployed: Deployed):
    [mapping] = [m for m in deployed.client("lambda").list_event_source_mappings()["EventSourceMappings"]
                 if m["FunctionArn"].endswith(f":function:{deployed.physical['OnLedgerChange']}")]
    stream_arn = deployed.client("dynamodb").describe_table(
        TableName=deployed.physical["LedgerTable"])["Table"]["LatestStreamArn"]
    queue_arn = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.physical["LedgerChangeFailures"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    assert mapping["EventSourceArn"] == stream_arn
    assert mapping["FunctionArn"].endswith(f":function:{deployed.physical['OnLedgerChange']}")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 10
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    reserved = deployed.client("lambda").get_function_concurrency(FunctionName=deployed.physical["OnLedgerChange"])
    assert reserved["ReservedConcurrentExecutions"] == 5


def test_webhook_deliveries_come_from_the_rules_queue_with_partial_failures_and_a_dead_letter_queue(deployed: Deployed):
    sqs = deployed.client("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=deployed.physical["WebhookDeliveries"], AttributeNames=["All"])["Attributes"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=deployed.physical["WebhookDeadLetters"],
                                        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    [mapping] = [m for m in deployed.client("lambda").list_event_source_mappings()["EventSourceMappings"]
                 if m["FunctionArn"].endswith(f":function:{deployed.physical['DeliverWebhooks']}")]

    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert json.loads(queue["RedrivePolicy"]) == {"deadLetterTargetArn": dead_arn, "maxReceiveCount": 5}
    # the rule on this stack's bus sends to it
    assert deployed.client("events").list_rule_names_by_target(TargetArn=queue["QueueArn"], EventBusName=STACK)["RuleNames"]


def test_the_api_has_one_stage_with_throttling_access_logs_and_problem_json_gateway_responses(deployed: Deployed):
    # moto cannot create AWS::ApiGateway::Stage: the stage is checked in the translation, its
    # references resolved against what moto created.
    stages = {name: resource["Properties"] for name, resource in deployed.translated["Resources"].items()
              if resource["Type"] == "AWS::ApiGateway::Stage"}
    apigateway = deployed.client("apigateway")
    responses = {r["responseType"]: r for r in apigateway.get_gateway_responses(
        restApiId=deployed.physical["RestAPI"])["items"]}

    [stage] = stages.values()  # SAM's extra `Stage` stage is gone
    assert stage["StageName"] == "api" and stage["TracingEnabled"] is True
    assert _resolve(stage["RestApiId"], deployed) == deployed.physical["RestAPI"]
    [throttle] = stage["MethodSettings"]
    assert (throttle["ResourcePath"], throttle["HttpMethod"]) == ("/*", "*")
    assert (throttle["ThrottlingRateLimit"], throttle["ThrottlingBurstLimit"]) == \
        ({"Ref": "ApiThrottlingRateLimit"}, {"Ref": "ApiThrottlingBurstLimit"})
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in
                  deployed.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Parameters"]}
    assert (parameters["ApiThrottlingRateLimit"], parameters["ApiThrottlingBurstLimit"]) == ("100", "200")
    access_logs = stage["AccessLogSetting"]["Fn::If"][1]
    assert access_logs["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "ApiAccessLogGroup" in deployed.physical
    assert {"MISSING_AUTHENTICATION_TOKEN", "UNSUPPORTED_MEDIA_TYPE", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    not_found = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert not_found["statusCode"] == "404"
    assert not_found["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert json.loads(not_found["responseTemplates"]["application/json"])["code"] == "not_found"
    routes = {item["path"] for item in apigateway.get_resources(restApiId=deployed.physical["RestAPI"])["items"]}
    assert {"/v1/health", "/v1/cards/{card_id}/payments"} <= routes


def test_the_daily_expiry_parks_failures_and_is_alarmed(deployed: Deployed):
    # moto cannot create AWS::Lambda::EventInvokeConfig nor alarms: checked in the translation.
    resources = deployed.translated["Resources"]
    [invoke_config] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    rules = deployed.client("events").list_rules()["Rules"]

    assert _resolve(invoke_config["FunctionName"], deployed) == deployed.physical["ExpireStars"]
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["ExpireStarsFailures", "Arn"]}
    assert "ExpireStarsFailures" in deployed.physical
    assert any(a["MetricName"] == "Errors" and _resolve(a["Dimensions"][0]["Value"], deployed) == deployed.physical["ExpireStars"]
               for a in alarms if "MetricName" in a)
    assert [rule["ScheduleExpression"] for rule in rules] == ["cron(5 0 * * ? *)"]


def _checkov(paths: list[Path]) -> list[tuple[str, str]]:
    args = [str(DEPLOY_BIN / "checkov"), "--framework", "cloudformation", "--quiet", "--compact", "-o", "json"]
    for path in paths:
        args += ["-f", str(path)]
    completed = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    reports = json.loads(completed.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return sorted({(check["check_id"], check["resource"]) for report in reports
                   for check in report["results"]["failed_checks"]})


def _accepted_findings() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- checkov-accepted"):].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `(CKV\w+)`", table, flags=re.M))


def test_checkov_finds_nothing_but_what_the_readme_lists_with_a_reason(deployed: Deployed, tmp_path: Path):
    translated = tmp_path / "cloudformation.json"
    translated.write_text(json.dumps(deployed.translated), encoding="utf-8")

    findings = _checkov([BUILT / "sam.json", translated])

    accepted = _accepted_findings()
    assert accepted, "the README's checkov table is missing"
    assert [f for f in findings if f[0] not in accepted] == []
    assert accepted <= {check for check, _ in findings}, "a listed finding no longer occurs: drop it from the README"


def test_cfn_lint_passes_the_cloudformation_translation(deployed: Deployed, tmp_path: Path):
    translated = tmp_path / "cloudformation.json"
    translated.write_text(json.dumps(deployed.translated), encoding="utf-8")

    completed = subprocess.run([str(BIN / "cfn-lint"), str(translated)], capture_output=True, text=True,
                               timeout=300, check=False)

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_translation_of_the_template_in_build_matches_the_deployed_one(deployed: Deployed):
    # What the rehearsal deployed is what `make package` wrote (no stale build/ output).
    sam = json.loads((BUILT / "sam.json").read_text(encoding="utf-8"))
    again = translate(sam | {"Resources": {name: _with_s3_code(resource) for name, resource in sam["Resources"].items()}})

    assert set(again["Resources"]) == set(deployed.translated["Resources"])


def _with_s3_code(resource: dict[str, Any]) -> dict[str, Any]:
    if resource["Type"] == "AWS::Serverless::Function":
        return resource | {"Properties": resource["Properties"] | {"CodeUri": "s3://bucket/deployment.zip"}}
    return resource
