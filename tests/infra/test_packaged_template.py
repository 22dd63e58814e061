"""The template `make package` produces is deployable as it stands: it lints, the stream mapping is
the one the handler's partial-failure contract needs, every function runs the project's Python with
the stack's tables, and every alarm watches a resource of this stack."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import yaml

from tests.infra.sam_package import BIN, ROOT, Package


def _project_python() -> str:
    """python3.X from pyproject's requires-python (">=3.11,<3.12")."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    minor = re.search(r">=\s*3\.(\d+)", requires)
    assert minor, f"cannot read the minimum Python from requires-python {requires!r}"
    return f"python3.{minor.group(1)}"


def test_the_packaged_template_passes_cfn_lint(package: Package):
    completed = subprocess.run([str(BIN / "cfn-lint"), str(package.template_path)],
                               capture_output=True, text=True, timeout=300, check=False)

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_ledger_stream_mapping_reports_failed_records_and_parks_what_keeps_failing(package: Package):
    mappings = {(function, name): event["Properties"] for function, resource in package.functions.items()
                for name, event in resource["Properties"].get("Events", {}).items() if event["Type"] == "DynamoDB"}

    assert mappings, "no DynamoDB stream event source in the packaged template"
    for (function, name), mapping in mappings.items():
        where = f"{function}.{name}"
        assert mapping["Stream"] == {"Fn::GetAtt": ["LedgerTable", "StreamArn"]}, where
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], where
        assert mapping["BisectBatchOnFunctionError"] is True, where
        assert 0 <= mapping["MaximumRetryAttempts"] <= 10000, where  # bounded: -1 would retry until the record expires
        assert 0 < mapping["MaximumRecordAgeInSeconds"] < 24 * 3600, where  # parked before the stream trims it
        # The counters are counted once per stream shard: the event must name its shard (a tumbling
        # window's `shardId`), and one batch per shard at a time (README, "Scale").
        assert 0 < mapping["TumblingWindowInSeconds"] <= 900, where
        assert mapping.get("ParallelizationFactor", 1) == 1, where
        on_failure = mapping["DestinationConfig"]["OnFailure"]
        assert on_failure["Destination"] == {"Fn::GetAtt": ["LedgerChangeFailures", "Arn"]}, where
        assert package.resources["LedgerChangeFailures"]["Type"] == "AWS::SQS::Queue"


def test_no_placeholder_stream_arn_survives_the_merge(package: Package):
    text = json.dumps(package.template)

    assert "000000000000" not in text
    assert ":stream/" not in text


def test_every_function_runs_the_projects_python(package: Package):
    expected = _project_python()

    assert expected == f"python{sys.version_info.major}.{sys.version_info.minor}", "tests run another Python"
    assert {name: f["Properties"]["Runtime"] for name, f in package.functions.items()} == \
        {name: expected for name in package.functions}
    assert {"APIHandler", "OnLedgerChange"} <= set(package.functions)


def test_every_function_is_wired_to_this_stacks_tables_bus_role_and_log_group(package: Package):
    for name, function in package.functions.items():
        variables = package.function_property(name, "Environment")["Variables"]
        assert variables["OMNICARD_LEDGER_TABLE"] == {"Ref": "LedgerTable"}, name
        assert variables["OMNICARD_VIEWS_TABLE"] == {"Ref": "ViewsTable"}, name
        assert variables["OMNICARD_LEDGER_STREAM_ARN"] == {"Fn::GetAtt": ["LedgerTable", "StreamArn"]}, name
        assert variables["OMNICARD_EVENT_BUS"] == {"Ref": "EventBus"}, name
        assert variables["OMNICARD_CARD_NUMBER_PEPPER_PARAMETER"] == {"Ref": "CardNumberPepperParameter"}, name
        assert "OMNICARD_CARD_NUMBER_PEPPER" not in variables, f"{name}: the pepper itself must not be in the environment"
        assert variables["OMNICARD_AUTH_MODE"] == "jwks", name
        assert package.function_property(name, "LoggingConfig") == {"LogGroup": {"Ref": "FunctionLogGroup"}}, name
        assert function["Properties"]["Tracing"] == "Active", name
    pepper = package.template["Parameters"]["CardNumberPepperParameter"]
    assert "Default" not in pepper and pepper["AllowedPattern"].startswith("^/")


def test_the_tables_keep_their_data_safe(package: Package):
    for name in ("LedgerTable", "ViewsTable"):
        table = package.resources[name]
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}, name
    assert package.resources["LedgerTable"]["Properties"]["StreamSpecification"] == \
        {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_alarms_watch_the_stream_the_queue_the_api_and_every_table(package: Package):
    alarms = package.of_type("AWS::CloudWatch::Alarm")
    watched = {json.dumps(alarm["Properties"], sort_keys=True) for alarm in alarms.values()}
    stream_functions = [name for name, f in package.functions.items()
                        if any(e["Type"] == "DynamoDB" for e in f["Properties"].get("Events", {}).values())]
    api = package.resources["RestAPI"]["Properties"]

    def watches(metric: str, value: object) -> bool:
        return any(f'"MetricName": "{metric}"' in text and json.dumps(value, sort_keys=True) in text for text in watched)

    for function in stream_functions:
        assert watches("IteratorAge", {"Ref": function}), function
    assert watches("ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["LedgerChangeFailures", "QueueName"]})
    assert watches("5XXError", {"Name": "ApiName", "Value": api["Name"]})
    assert watches("5XXError", {"Name": "Stage", "Value": api["StageName"]})
    for table in package.of_type("AWS::DynamoDB::Table"):
        assert watches("ReadThrottleEvents", {"Ref": table}) and watches("WriteThrottleEvents", {"Ref": table}), table
    for name, alarm in alarms.items():
        assert "README" in alarm["Properties"]["AlarmDescription"], f"{name} should point the operator at the runbook"


def _problem_shapes() -> dict[tuple[str, int], dict[str, object]]:
    """The app's problem body for each (code, status) it answers, as api/problems.py writes it."""
    from chalicelib.api.problems import problem, status_of
    from chalicelib.domain import errors

    shapes = {}
    for error_class in vars(errors).values():
        if isinstance(error_class, type) and issubclass(error_class, errors.DomainError) and error_class.code != "error":
            shapes[(error_class.code, status_of(error_class))] = problem(error_class())
    return shapes


def test_api_gateways_own_answers_are_problem_json_shaped_like_the_apps(package: Package):
    responses = package.resources["RestAPI"]["Properties"]["GatewayResponses"]
    app_problems = _problem_shapes()

    assert {"MISSING_AUTHENTICATION_TOKEN", "UNSUPPORTED_MEDIA_TYPE", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for response_type, response in responses.items():
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'", response_type
        [template] = response["ResponseTemplates"].values()
        assert "$" not in template, f"{response_type}: no substitution, so nothing of the request (a header) is echoed"
        body = json.loads(template)
        assert list(body) == ["type", "title", "status", "detail", "code"], response_type
        assert str(body["status"]) == response["StatusCode"], response_type
        if body["code"] == "internal_error":  # the app's own 500 (chalicelib/api/http.py)
            assert (body["type"], body["title"]) == ("about:blank", "Internal error")
            continue
        assert body["type"] in {shape["type"] for (code, _), shape in app_problems.items() if code == body["code"]}, \
            f"{response_type}: {body['code']} is not a code the app answers"
        if (body["code"], body["status"]) in app_problems:
            assert body["title"] == app_problems[(body["code"], body["status"])]["title"], response_type
    # An unknown path deployed answers exactly what the local edge answers (chalicelib/api/problems.py).
    from chalicelib.api.problems import UNKNOWN_PATH, problem
    for unknown in ("MISSING_AUTHENTICATION_TOKEN", "RESOURCE_NOT_FOUND"):
        assert responses[unknown]["StatusCode"] == "404"
        assert json.loads(responses[unknown]["ResponseTemplates"]["application/json"]) == problem(UNKNOWN_PATH)
    assert (responses["UNSUPPORTED_MEDIA_TYPE"]["StatusCode"], json.loads(
        responses["UNSUPPORTED_MEDIA_TYPE"]["ResponseTemplates"]["application/json"])["code"]) == ("415", "validation_error")
    assert responses["THROTTLED"]["StatusCode"] == "429"


def test_the_api_has_one_throttled_access_logged_stage(package: Package):
    api = package.resources["RestAPI"]["Properties"]

    assert "OpenApiVersion" in api, "without it SAM adds a second, untraced stage named Stage"
    assert api["StageName"] == "api" and api["TracingEnabled"] is True
    assert api["MethodSettings"] == [{"ResourcePath": "/*", "HttpMethod": "*",
                                      "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
                                      "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"}}]
    condition, access_logs, disabled = api["AccessLogSetting"]["Fn::If"]
    assert (condition, disabled) == ("HasApiAccessLogs", {"Ref": "AWS::NoValue"})
    assert access_logs["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access_logs["Format"])
    assert "$context.requestId" in fields.values() and "$context.status" in fields.values()
    assert not [value for value in fields.values() if "header" in value.lower() or "authorizer" in value.lower()]
    assert package.template["Parameters"]["ApiAccessLogs"]["Default"] == "enabled"


def test_the_stream_handler_has_configurable_reserved_concurrency(package: Package):
    reserved = package.functions["OnLedgerChange"]["Properties"]["ReservedConcurrentExecutions"]
    parameter = package.template["Parameters"]["StreamHandlerReservedConcurrency"]

    # 0 would throttle the function completely: it means "reserve none" instead.
    assert reserved == {"Fn::If": ["ReservesStreamConcurrency", {"Ref": "StreamHandlerReservedConcurrency"},
                                   {"Ref": "AWS::NoValue"}]}
    assert package.template["Conditions"]["ReservesStreamConcurrency"] == \
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "StreamHandlerReservedConcurrency"}, 0]}]}
    assert parameter["Default"] > 0 and parameter["MinValue"] == 0


def test_a_failed_daily_expiry_is_parked_and_alarmed(package: Package):
    invoke = package.functions["ExpireStars"]["Properties"]["EventInvokeConfig"]
    alarms = package.of_type("AWS::CloudWatch::Alarm").values()

    assert invoke["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["ExpireStarsFailures", "Arn"]}}
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2
    assert any(a["Properties"].get("MetricName") == "Errors" and a["Properties"]["Dimensions"] ==
               [{"Name": "FunctionName", "Value": {"Ref": "ExpireStars"}}] for a in alarms)
    assert any(a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible" and a["Properties"]["Dimensions"] ==
               [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["ExpireStarsFailures", "QueueName"]}}] for a in alarms)


def test_failure_queues_outlive_the_stack(package: Package):
    for name in ("LedgerChangeFailures", "ExpireStarsFailures"):
        queue = package.resources[name]
        assert queue["DeletionPolicy"] == queue["UpdateReplacePolicy"] == "Retain", name
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name


def test_the_tables_can_use_a_customer_managed_key_kept_with_them(package: Package):
    key = package.resources["TableKey"]

    assert key["Condition"] == "HasCustomerManagedKey" and package.template["Parameters"]["TableEncryption"]["Default"] == "aws-owned"
    assert key["DeletionPolicy"] == "Retain" and key["Properties"]["EnableKeyRotation"] is True
    for name in ("LedgerTable", "ViewsTable"):
        assert package.resources[name]["Properties"]["SSESpecification"] == {"Fn::If": [
            "HasCustomerManagedKey", {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "TableKey"}},
            {"Ref": "AWS::NoValue"}]}, name


def test_nothing_in_the_stack_has_a_fixed_name_that_could_clash_in_an_account(package: Package):
    fixed_name_keys = {"TableName", "QueueName", "RoleName", "LogGroupName", "FunctionName", "TopicName"}

    for name, resource in package.resources.items():
        if resource["Type"].startswith("AWS::Serverless::"):
            continue
        named = {key: value for key, value in resource.get("Properties", {}).items() if key in fixed_name_keys}
        # A Ref to one of the stack's resources names nothing new; a literal (or a built string) does.
        assert all(isinstance(value, dict) and set(value) <= {"Ref", "Fn::GetAtt"} for value in named.values()), name
    assert package.resources["EventBus"]["Properties"]["Name"] == \
        {"Fn::If": ["HasEventBusName", {"Ref": "EventBusName"}, {"Ref": "AWS::StackName"}]}
    assert package.template["Parameters"]["EventBusName"]["Default"] == ""


def _documented_deploy_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"aws cloudformation deploy (?:[^\n]*\\\n)*[^\n]*", readme)
    assert commands, "the README's Deploy section has no `aws cloudformation deploy` command"
    return commands[0]


def test_the_packaged_template_fits_what_the_documented_deploy_command_accepts(package: Package):
    # What `aws cloudformation package` uploads is this template as YAML, CodeUri an s3:// URI.
    packaged = json.loads(json.dumps(package.template).replace('"./deployment.zip"', '"s3://omnicard-artifacts-bucket/omnicard-dev/0123456789abcdef0123456789abcdef"'))
    size = len(yaml.safe_dump(packaged, default_flow_style=False, sort_keys=False, width=1000).encode())
    # CloudFormation takes a template body of at most 51,200 bytes; through S3 (`deploy --s3-bucket`), 1 MB.
    limit = 1_000_000 if "--s3-bucket" in _documented_deploy_command() else 51_200

    assert size < limit * 0.8, f"the packaged template ({size} bytes) nears the {limit}-byte limit of the README's command"
