"""The functions' role grants exactly the AWS actions their code calls, each on this stack's own
resources: the actions are derived from app.py and the chalicelib modules it imports (boto3 client
calls, and the items inside TransactWriteItems), so a new call without a grant, or a grant nobody
calls, fails here."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from tests.infra.sam_package import ROOT, Package

# Granted for the platform, not for a call in chalicelib: Lambda's stream poller reads the stream
# and parks failed batches with the function's role, the runtime writes logs, X-Ray takes traces.
PLATFORM_ACTIONS = {
    "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
    "sqs:SendMessage", "logs:CreateLogStream", "logs:PutLogEvents",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",
}
# IAM authorises a transaction per item: TransactWriteItems needs the action of each item kind.
_TRANSACT_ITEM_ACTIONS = {
    "transact_write_items": {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                             "ConditionCheck": "ConditionCheckItem"},
    "transact_get_items": {"Get": "GetItem"},
}
# The resource type an action's resources must be, by service prefix.
_RESOURCE_TYPES = {"dynamodb": "AWS::DynamoDB::Table", "sqs": "AWS::SQS::Queue",
                   "events": "AWS::Events::EventBus", "logs": "AWS::Logs::LogGroup"}


def _modules(root: Path) -> Iterator[ast.Module]:
    """app.py and every chalicelib module it imports, directly or not: the code the functions run
    (operator tools under chalicelib that no handler imports run with the operator's credentials)."""
    seen: set[Path] = set()
    todo = [root / "app.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        yield module
        todo.extend(_imported_files(root, path, module))


def _imported_files(root: Path, path: Path, module: ast.Module) -> Iterator[Path]:
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            package = node.module or ""
            if node.level:  # relative: resolve against this file's package
                parts = path.relative_to(root).with_suffix("").parts[:-node.level]
                package = ".".join([*parts, *([package] if package else [])])
            names = [package, *(f"{package}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "chalicelib":
                continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # the packages on the way are imported too
                base = root.joinpath(*parts[:depth])
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.is_file():
                        yield candidate


def _boto3_services(modules: list[ast.Module]) -> set[str]:
    """Services of every `boto3.client("<service>", ...)`; a resource API call would be missed, so refuse it."""
    services = set()
    for node in (n for module in modules for n in ast.walk(module)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name) and node.func.value.id == "boto3":
            assert node.func.attr == "client", "boto3.resource/session calls are not understood by this scan"
            service = node.args[0]
            assert isinstance(service, ast.Constant), "boto3.client needs a literal service name to be scanned"
            services.add(service.value)
    return services


def actions_used_by_the_code(root: Path = ROOT) -> set[str]:
    """IAM actions of the boto3 client methods that app.py and the modules it imports call."""
    modules = list(_modules(root))
    called = {node.func.attr for module in modules for node in ast.walk(module)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    dict_keys = {key.value for module in modules for node in ast.walk(module) if isinstance(node, ast.Dict)
                 for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)}
    session = botocore.session.get_session()
    actions = set()
    for service in _boto3_services(modules):
        model = session.get_service_model(service)
        prefix = model.signing_name
        operations = {xform_name(name): name for name in model.operation_names}
        for method in called & set(operations):
            if method in _TRANSACT_ITEM_ACTIONS:
                actions |= {f"{prefix}:{action}" for kind, action in _TRANSACT_ITEM_ACTIONS[method].items()
                            if kind in dict_keys}
            else:
                actions.add(f"{prefix}:{operations[method]}")
    return actions


def _statements(package: Package) -> list[dict[str, Any]]:
    roles = package.of_type("AWS::IAM::Role")
    assert set(roles) == {"DefaultRole"}, "the functions must have exactly one role: infra/template.json's"
    assert not package.of_type("AWS::IAM::Policy") and not package.of_type("AWS::IAM::ManagedPolicy")
    role = roles["DefaultRole"]["Properties"]
    assert "ManagedPolicyArns" not in role, "a managed policy would grant what this test cannot see"
    for name in package.functions:
        assert "Policies" not in package.functions[name]["Properties"], f"{name}: SAM policies bypass the role"
    return [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced_resource(resource: Any) -> str | None:
    """The logical id an intrinsic ARN points into: GetAtt X.Arn/StreamArn or Sub "${X.Arn}/…"."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str) and resource["Fn::Sub"].startswith("${"):
        return resource["Fn::Sub"][2:].split(".")[0].split("}")[0]
    return None


def test_the_role_grants_exactly_the_actions_the_code_calls(package: Package):
    used = actions_used_by_the_code()
    granted = {action for s in _statements(package) if s["Effect"] == "Allow" for action in _as_list(s["Action"])}

    app_granted = granted - PLATFORM_ACTIONS
    assert used - app_granted == set(), "the code calls these without a grant in infra/template.json"
    assert app_granted - used == set(), "infra/template.json grants these but no code calls them"
    assert PLATFORM_ACTIONS <= granted


def test_the_scan_finds_the_calls_it_is_meant_to_find():
    used = actions_used_by_the_code()

    # Known calls: the lock PutItem, the balance transaction's Update/Put/ConditionCheck items, the
    # card GetItem, the transactions Query, releasing a key with DeleteItem.
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem",
            "dynamodb:Query", "dynamodb:DeleteItem"} <= used
    assert "dynamodb:TransactWriteItems" not in used  # not an IAM action


def test_every_grant_is_on_this_stacks_own_resources(package: Package):
    statements = _statements(package)
    resource_types = {name: resource["Type"] for name, resource in package.resources.items()}

    for statement in statements:
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])
        services = {action.split(":")[0] for action in actions}
        assert statement["Effect"] == "Allow" and "*" not in actions and all("*" not in a for a in actions), statement
        if resources == ["*"]:
            assert services == {"xray"}, f"only X-Ray (no resource-level permissions) may use '*': {statement}"
            continue
        assert len(services) == 1, f"one service per statement keeps the scoping readable: {statement}"
        [service] = services
        for resource in resources:
            target = _referenced_resource(resource)
            assert target is not None, f"{service} resource is not one of this stack's: {resource}"
            assert resource_types.get(target) == _RESOURCE_TYPES[service], f"{resource} is not a {_RESOURCE_TYPES[service]}"


def test_index_queries_are_granted_only_on_the_ledger_tables_indexes(package: Package):
    statements = _statements(package)
    index_grants = [s for s in statements if any("/index/" in str(r) for r in _as_list(s["Resource"]))]
    queries_an_index = any(
        (isinstance(node, ast.keyword) and node.arg == "IndexName") or (isinstance(node, ast.Constant) and node.value == "IndexName")
        for module in _modules(ROOT) for node in ast.walk(module))

    if queries_an_index:
        assert [s["Action"] for s in index_grants] == [["dynamodb:Query"]]
        assert index_grants[0]["Resource"] == {"Fn::Sub": "${LedgerTable.Arn}/index/*"}
        assert package.resources["LedgerTable"]["Properties"]["GlobalSecondaryIndexes"]
    else:
        assert index_grants == [], "no code queries an index: drop the index grant"


def test_the_scan_turns_client_calls_and_transaction_items_into_actions(tmp_path: Path):
    fake = tmp_path / "chalicelib"
    (fake / "ops").mkdir(parents=True)
    (tmp_path / "app.py").write_text("from chalicelib import store\n")
    (fake / "__init__.py").write_text("")
    (fake / "store.py").write_text(
        "import boto3\nclient = boto3.client('dynamodb')\n"
        "def write():\n    from .keys import KEY\n    client.batch_write_item(RequestItems={})\n"
        "    client.transact_write_items(TransactItems=[{'Delete': {}}])\n")
    (fake / "keys.py").write_text("import boto3\nKEY = boto3.client('events').put_events(Entries=[])\n")
    # an operator tool no handler imports: its calls need no grant in the functions' role
    (fake / "ops" / "tool.py").write_text("import boto3\nboto3.client('dynamodb').scan(TableName='t')\n")

    assert actions_used_by_the_code(tmp_path) == {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "events:PutEvents"}
