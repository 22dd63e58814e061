"""Each function has its own role, granting exactly the AWS actions its code can call, each on this
stack's own resources: the actions are derived from the function's entry point in app.py and the
chalicelib modules reachable from it (boto3 client calls, and the items inside TransactWriteItems),
so a new call without a grant, or a grant nobody calls, fails here. The scan is per module, not per
call path: a function reaching a module may call anything in it."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from tests.infra.sam_package import ROOT, Package

# Granted for the platform, not for a call in chalicelib: the runtime writes logs and X-Ray takes
# traces for every function; Lambda's stream poller reads the stream and parks failed batches with
# the stream handler's role; Lambda's asynchronous invocation parks a failed expiry run with its role.
_EVERY_FUNCTION = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
PLATFORM_ACTIONS = {
    "APIHandler": _EVERY_FUNCTION,
    "OnLedgerChange": _EVERY_FUNCTION | {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                         "dynamodb:ListStreams", "sqs:SendMessage"},
    "ExpireStars": _EVERY_FUNCTION | {"sqs:SendMessage"},
    # Lambda's SQS poller reads and deletes the delivery queue's messages with the function's role.
    "DeliverWebhooks": _EVERY_FUNCTION | {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                          "sqs:ChangeMessageVisibility"},
}
ROLES = {"APIHandler": "DefaultRole", "OnLedgerChange": "OnLedgerChangeRole", "ExpireStars": "ExpireStarsRole",
         "DeliverWebhooks": "DeliverWebhooksRole"}
# The queues each role may send to (the platform's parking of failures; webhook retries and dead
# letters), by role.
FAILURE_QUEUES = {"OnLedgerChangeRole": ["LedgerChangeFailures"], "ExpireStarsRole": ["ExpireStarsFailures"],
                  "DeliverWebhooksRole": ["WebhookDeliveries", "WebhookDeliveries", "WebhookDeadLetters"]}
# IAM authorises a transaction per item: TransactWriteItems needs the action of each item kind.
_TRANSACT_ITEM_ACTIONS = {
    "transact_write_items": {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                             "ConditionCheck": "ConditionCheckItem"},
    "transact_get_items": {"Get": "GetItem"},
}
# The resource type an action's resources must be, by service prefix.
_RESOURCE_TYPES = {"dynamodb": "AWS::DynamoDB::Table", "sqs": "AWS::SQS::Queue",
                   "events": "AWS::Events::EventBus", "logs": "AWS::Logs::LogGroup", "kms": "AWS::KMS::Key"}
# The one grant outside this stack's resources: the pepper's SSM parameter, named by a stack parameter.
PEPPER_PARAMETER_ARN = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${CardNumberPepperParameter}"}


def _modules(root: Path, entries: list[Path] | None = None) -> Iterator[ast.Module]:
    """The entry files (default: app.py) and every chalicelib module they import, directly or not:
    the code the functions run (operator tools under chalicelib that no handler imports run with the
    operator's credentials)."""
    seen: set[Path] = set()
    todo = list(entries or [root / "app.py"])
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


def function_entries(root: Path = ROOT) -> dict[str, list[Path]]:
    """Each function's entry files, from app.py: the modules its handler's body names (the API
    handler: the blueprints registered and the chalicelib/api modules wired at module level), plus
    those app.py's other module-level code names (shared: every function imports app.py). Keyed by
    Chalice's logical id (`expire_stars` → ExpireStars)."""
    app = ast.parse((root / "app.py").read_text(encoding="utf-8"))
    def imports(nodes: list[ast.AST]) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for node in (n for top in nodes for n in ast.walk(top)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib"):
                for alias in node.names:
                    base = root.joinpath(*node.module.split("."))  # type: ignore[union-attr]
                    candidates = [base / f"{alias.name}.py", base.with_suffix(".py"), base / "__init__.py"]
                    found[alias.asname or alias.name] = next(path for path in candidates if path.is_file())
        return found

    imported = imports([node for node in app.body if isinstance(node, ast.ImportFrom)])

    def named(nodes: list[ast.AST]) -> list[Path]:
        # app.py's module-level imports the nodes name, and what the nodes import themselves (a
        # handler importing its code in its body, so the other functions never load it)
        local = imports(nodes)
        return sorted({imported[n.id] for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in imported}
                      | set(local.values()))

    handlers = [node for node in app.body if isinstance(node, ast.FunctionDef)]
    routes = [node for node in app.body if isinstance(node, ast.For)]  # the blueprint registration loop
    module_level = named([node for node in app.body if not isinstance(node, (ast.FunctionDef, ast.For, ast.ImportFrom, ast.Import))])
    # chalicelib/api is the HTTP layer (routes, HTTP middleware): it runs in the API handler only.
    http = [path for path in module_level if path.parent == root / "chalicelib" / "api"]
    shared = [path for path in module_level if path not in http]
    entries = {"APIHandler": sorted(set(named(routes) + http + shared))}  # type: ignore[arg-type]
    for handler in handlers:
        entries["".join(part.title() for part in handler.name.split("_"))] = named([handler]) + shared  # type: ignore[list-item]
    return entries


def actions_used_by_the_code(root: Path = ROOT, entries: list[Path] | None = None) -> set[str]:
    """IAM actions of the boto3 client methods that the entry files (default: app.py) and the
    modules they import call."""
    modules = list(_modules(root, entries))
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


def _statements(package: Package, role: str | None = None) -> list[dict[str, Any]]:
    """The statements of one role (default: every function role), after checking that the roles
    are exactly the template's, inline only."""
    roles = package.of_type("AWS::IAM::Role")
    assert set(roles) == set(ROLES.values()), "one role per function, all in infra/template.json"
    assert not package.of_type("AWS::IAM::Policy") and not package.of_type("AWS::IAM::ManagedPolicy")
    for name in package.functions:
        assert "Policies" not in package.functions[name]["Properties"], f"{name}: SAM policies bypass the role"
    for name in (role,) if role else roles:
        assert "ManagedPolicyArns" not in roles[name]["Properties"], "a managed policy would grant what this test cannot see"
    return [statement for name in ((role,) if role else roles) for policy in roles[name]["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]]


def _granted(package: Package, role: str) -> set[str]:
    return {action for s in _statements(package, role) if s["Effect"] == "Allow" for action in _as_list(s["Action"])}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced_resource(resource: Any) -> str | None:
    """The logical id an intrinsic ARN points into: GetAtt X.Arn/StreamArn or Sub "${X.Arn}/…"."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str) and resource["Fn::Sub"].startswith("${"):
        return resource["Fn::Sub"][2:].split(".")[0].split("}")[0]
    return None


def test_each_function_runs_with_its_own_role(package: Package):
    assert set(package.functions) == set(ROLES) == set(function_entries()), "a new function needs its own role here"
    assert {name: f["Properties"]["Role"] for name, f in package.functions.items()} == \
        {name: {"Fn::GetAtt": [role, "Arn"]} for name, role in ROLES.items()}


@pytest.mark.parametrize("function", sorted(ROLES))
def test_each_role_grants_exactly_the_actions_its_functions_code_can_call(package: Package, function: str):
    used = actions_used_by_the_code(entries=function_entries()[function])
    granted = _granted(package, ROLES[function])

    app_granted = granted - PLATFORM_ACTIONS[function]
    assert used - app_granted == set(), f"{function}'s code calls these without a grant in infra/template.json"
    assert app_granted - used == set(), f"infra/template.json grants these to {function} but its code calls none"
    assert PLATFORM_ACTIONS[function] <= granted


def test_the_api_handler_can_neither_read_the_stream_nor_touch_a_failure_queue(package: Package):
    api = _granted(package, "DefaultRole")

    assert not {action for action in api if action.startswith("sqs:")}
    assert not api & {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
    assert "events:PutEvents" not in api  # events are published by the stream handler only


def test_each_role_parks_failures_only_on_its_own_queue(package: Package):
    for role in ROLES.values():
        queues = [_referenced_resource(resource) for s in _statements(package, role)
                  if any(action.startswith("sqs:") for action in _as_list(s["Action"])) for resource in _as_list(s["Resource"])]
        assert queues == FAILURE_QUEUES.get(role, []), role


def test_the_entry_points_are_the_handlers_own_modules():
    entries = {name: {path.relative_to(ROOT).as_posix() for path in paths} for name, paths in function_entries().items()}

    assert "chalicelib/streams/ledger.py" in entries["OnLedgerChange"]
    assert "chalicelib/services/stars.py" in entries["ExpireStars"]
    assert "chalicelib/api/cards.py" in entries["APIHandler"]
    assert not any(path.startswith(("chalicelib/api/", "chalicelib/streams/")) for path in entries["ExpireStars"])
    assert "chalicelib/observability.py" in entries["APIHandler"] & entries["OnLedgerChange"] & entries["ExpireStars"]


def test_only_the_delivery_function_decrypts_webhook_secrets_besides_the_api_and_nothing_else_touches_them(package: Package):
    def kms_grants(role: str) -> set[tuple[str, str | None]]:
        return {(action, _referenced_resource(resource)) for s in _statements(package, role)
                for action in _as_list(s["Action"]) if action.startswith("kms:") for resource in _as_list(s["Resource"])}

    assert kms_grants("DeliverWebhooksRole") == {("kms:Decrypt", "WebhookSecretKey")}
    # the API seals new secrets and unseals them for an idempotent replay of the 201
    assert kms_grants("DefaultRole") == {("kms:Encrypt", "WebhookSecretKey"), ("kms:Decrypt", "WebhookSecretKey")}
    assert kms_grants("OnLedgerChangeRole") == kms_grants("ExpireStarsRole") == set()
    delivery = {(action, _referenced_resource(r)) for s in _statements(package, "DeliverWebhooksRole")
                for action in _as_list(s["Action"]) if action.startswith("dynamodb:") for r in _as_list(s["Resource"])}
    assert delivery == {("dynamodb:Query", "WebhooksTable")}  # reads subscriptions, nothing of the ledger


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
        if service == "ssm":
            assert actions == ["ssm:GetParameter"] and resources == [PEPPER_PARAMETER_ARN], statement
            continue
        for resource in resources:
            target = _referenced_resource(resource)
            assert target is not None, f"{service} resource is not one of this stack's: {resource}"
            assert resource_types.get(target) == _RESOURCE_TYPES[service], f"{resource} is not a {_RESOURCE_TYPES[service]}"


@pytest.mark.parametrize("function", sorted(ROLES))
def test_index_queries_are_granted_only_on_the_ledger_tables_indexes(package: Package, function: str):
    statements = _statements(package, ROLES[function])
    index_grants = [s for s in statements if any("/index/" in str(r) for r in _as_list(s["Resource"]))]
    queries_an_index = any(
        (isinstance(node, ast.keyword) and node.arg == "IndexName") or (isinstance(node, ast.Constant) and node.value == "IndexName")
        for module in _modules(ROOT, function_entries()[function]) for node in ast.walk(module))

    if queries_an_index:
        assert [s["Action"] for s in index_grants] == [["dynamodb:Query"]]
        assert index_grants[0]["Resource"] == {"Fn::Sub": "${LedgerTable.Arn}/index/*"}
        assert package.resources["LedgerTable"]["Properties"]["GlobalSecondaryIndexes"]
    else:
        assert index_grants == [], f"no code of {function} queries an index: drop its index grant"


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
