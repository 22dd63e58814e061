"""The deploy rehearsal's harness (`make deploy-check`): the README's Deploy commands run with the
AWS CLI against a loopback moto server, and the SAM transform that moto lacks.

moto's gaps are bridged here, never in the template: moto's CloudFormation has no
AWS::Serverless-2016-10-31 transform, so templates that declare it are translated with
aws-sam-translator (pinned in the deploy tools' venv) on their way into moto, as CloudFormation
does on its side."""
from __future__ import annotations

import json
import os
import re
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.infra.sam_package import ROOT

DEPLOY_VENV = ROOT / "build" / ".deploy-venv"
DEPLOY_BIN = DEPLOY_VENV / "bin"
TRANSLATE = ROOT / "infra" / "deploy-tools" / "translate.py"
SERVERLESS = "AWS::Serverless-2016-10-31"
REGION = "us-east-1"


def translate(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The CloudFormation that CloudFormation's SAM transform makes of `template`."""
    assignments = [f"{name}={value}" for name, value in (parameters or {}).items()]
    completed = subprocess.run([str(DEPLOY_BIN / "python"), "-I", str(TRANSLATE), REGION, *assignments],
                               input=json.dumps(template), capture_output=True, text=True, timeout=120, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"aws-sam-translator refused the template:\n{completed.stderr}")
    translated: dict[str, Any] = json.loads(completed.stdout)
    return translated


def _load(template: str) -> dict[str, Any]:
    try:
        return json.loads(template)
    except json.JSONDecodeError:
        loaded: dict[str, Any] = yaml.safe_load(template)
        return loaded


@contextmanager
def sam_transform_in_moto() -> Iterator[list[dict[str, Any]]]:
    """Patch moto's CloudFormation so templates declaring the SAM transform are translated first;
    yields the translated templates, in order."""
    from moto.cloudformation.models import CloudFormationBackend

    translated: list[dict[str, Any]] = []
    original_stack, original_change_set = CloudFormationBackend.create_stack, CloudFormationBackend.create_change_set

    def bridged(template: str, parameters: dict[str, Any]) -> str:
        loaded = _load(template)
        if loaded.get("Transform") != SERVERLESS:
            return template
        translated.append(translate(loaded, {k: str(v) for k, v in (parameters or {}).items()}))
        return json.dumps(translated[-1])

    def create_stack(self: Any, name: str, template: str, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return original_stack(self, name, bridged(template, parameters), parameters, *args, **kwargs)

    def create_change_set(self: Any, stack_name: str, change_set_name: str, template: str,
                          parameters: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return original_change_set(self, stack_name, change_set_name, bridged(template, parameters), parameters,
                                   *args, **kwargs)

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]
    CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]
    try:
        yield translated
    finally:
        CloudFormationBackend.create_stack = original_stack  # type: ignore[method-assign]
        CloudFormationBackend.create_change_set = original_change_set  # type: ignore[method-assign]


@contextmanager
def swagger_body_in_moto() -> Iterator[None]:
    """Patch moto's AWS::ApiGateway::RestApi, which ignores `Body`: import the Swagger 2.0 body SAM
    writes (paths, methods, their Lambda proxy integrations, x-amazon-apigateway-gateway-responses)
    through moto's own API Gateway calls, as CloudFormation does from the body."""
    from moto.apigateway.models import RestAPI, apigateway_backends

    original = RestAPI.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        api = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        body = cloudformation_json["Properties"].get("Body") or {}
        backend = apigateway_backends[account_id][region_name]
        for path, methods in sorted(body.get("paths", {}).items()):
            parent = api.default
            for part in [p for p in path.split("/") if p]:
                current = f"{parent.get_path().rstrip('/')}/{part}"
                parent = api.get_resource_for_path(current) or backend.create_resource(api.id, parent.id, part)
            for method, operation in methods.items():
                backend.put_method(api.id, parent.id, method.upper(), authorization_type="NONE")
                integration = operation["x-amazon-apigateway-integration"]
                backend.put_integration(api.id, parent.id, method.upper(), integration["type"].upper(),
                                        integration["uri"], integration["httpMethod"])
        for response_type, response in body.get("x-amazon-apigateway-gateway-responses", {}).items():
            backend.put_gateway_response(api.id, response_type, response.get("statusCode"),
                                         response.get("responseParameters"), response.get("responseTemplates"))
        return api

    RestAPI.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        RestAPI.create_from_cloudformation_json = classmethod(original)  # type: ignore[method-assign,assignment]


@contextmanager
def change_set_outputs_in_moto() -> Iterator[None]:
    """moto computes a stack's outputs when the stack object is made, which for a change set
    (`aws cloudformation deploy`) is before it has a template: recompute them once it is executed."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        change_set = self.change_sets.get(change_set_name) or next(
            c for c in self.change_sets.values() if c.change_set_name == change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudFormationBackend.execute_change_set = original  # type: ignore[method-assign]


@contextmanager
def event_bus_ref_in_moto() -> Iterator[None]:
    """moto's EventBus has no physical id, so `Ref EventBus` resolves to the model object (and
    Lambda's ListFunctions then fails to serialise it); CloudFormation's Ref is the bus name."""
    from moto.events.models import EventBus

    EventBus.physical_resource_id = property(lambda bus: bus.name)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del EventBus.physical_resource_id  # type: ignore[attr-defined]


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port; yields its endpoint URL. The URL says `localhost`, not
    127.0.0.1: moto reads a TemplateURL (`aws cloudformation deploy --s3-bucket`) path-style only
    from localhost URLs."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    # AWS's managed policies exist in every account; moto creates them only when asked (the README
    # attaches AmazonAPIGatewayPushToCloudWatchLogs).
    previous = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = previous


def readme_block(heading: str, index: int = 0) -> str:
    """The `index`-th ```sh block under the README heading `heading`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading):]
    section = section[: re.search(r"\n#{2,3} ", section[len(heading):]).start() + len(heading)]  # type: ignore[union-attr]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return blocks[index]


def run_readme_block(block: str, endpoint: str, substitutions: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run a README shell block as written, with the AWS CLI of the deploy tools' venv pointed at
    `endpoint`, its <placeholders> replaced, and `make package` (already run by `make deploy-check`)
    checked rather than run again."""
    for placeholder, value in substitutions.items():
        block = block.replace(placeholder, value)
    left = re.findall(r"<[a-z-]+>", block)
    assert not left, f"placeholders without a rehearsal value: {left}"
    shim = ('make() { [ "$1" = package ] && [ -f "build/${2#STAGE=}/sam.json" ] || '
            '{ echo "rehearsal: unexpected make $*" >&2; return 1; }; }\n')
    env = {"PATH": f"{DEPLOY_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(workdir),
           "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_PAGER": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return subprocess.run(["bash", "-euo", "pipefail", "-x", "-c", shim + block], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
