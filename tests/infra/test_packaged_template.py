"""The template `make package` produces is deployable as it stands: it lints, the stream mapping is
the one the handler's partial-failure contract needs, every function runs the project's Python with
the stack's tables, and every alarm watches a resource of this stack."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

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
        assert variables["OMNICARD_CARD_NUMBER_PEPPER"] == {"Ref": "CardNumberPepper"}, name
        assert variables["OMNICARD_AUTH_MODE"] == "jwks", name
        assert function["Properties"]["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]}, name
        assert package.function_property(name, "LoggingConfig") == {"LogGroup": {"Ref": "FunctionLogGroup"}}, name
        assert function["Properties"]["Tracing"] == "Active", name
    assert package.template["Parameters"]["CardNumberPepper"]["NoEcho"] is True
    assert "Default" not in package.template["Parameters"]["CardNumberPepper"]


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
