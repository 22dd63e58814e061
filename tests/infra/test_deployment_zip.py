"""The code zip `make package` writes is complete on its own: in a clean venv holding nothing but the
zip's contents, `import app` works with the tracer on (as in Lambda) and the handler serves a
request, holding exactly the runtime lock (requirements.txt). A missing dependency, or aws_xray_sdk, shows here."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

from local.export_requirements import REQUIREMENTS, locked_versions, normalise
from tests.infra.sam_package import Package

# Runs inside the clean venv with `python -I`: imports only from the unzipped package and the stdlib.
_SERVE_HEALTH = r"""
import json, sys
task_root = sys.argv[1]
sys.path.insert(0, task_root)
import app
from chalicelib.observability import tracer

class Context:
    function_name = "omnicard-dev-APIHandler"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:omnicard-dev-APIHandler"
    aws_request_id = "lambda-request-1"
    def get_remaining_time_in_millis(self):
        return 30000

event = {"resource": "/v1/health", "path": "/v1/health", "httpMethod": "GET", "headers": {"accept": "application/json"},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/v1/health", "httpMethod": "GET", "requestId": "apigw-request-1",
                            "path": "/api/v1/health", "stage": "api"}}
response = app.app(event, Context())
outside = sorted({m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and "-packages" in m.__file__})
print(json.dumps({"status": response["statusCode"], "body": json.loads(response["body"]),
                  "tracer_enabled": tracer is not None and not tracer.disabled, "site_packages_modules": outside}))
"""


@pytest.fixture(scope="module")
def task_root(package: Package, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(package.zip_path) as archive:
        archive.extractall(root)
    return root


def _shipped(task_root: Path) -> dict[str, str]:
    """{normalised name: version} of every distribution in the unzipped package."""
    shipped = {}
    for info in task_root.glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        shipped[normalise(name)] = version
    return shipped


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the zip holds x86_64 Linux wheels (Architectures: x86_64)")
def test_the_zip_alone_imports_the_app_and_serves_a_request_with_tracing_on(task_root: Path, tmp_path: Path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_DEFAULT_REGION": "us-east-1",
           "OMNICARD_JWT_SECRET": "zip-check-secret-0123456789abcdef0123456789",
           # What Lambda sets: Tracer turns itself on only inside Lambda.
           "LAMBDA_TASK_ROOT": str(task_root), "AWS_LAMBDA_FUNCTION_NAME": "omnicard-dev-APIHandler",
           "OMNICARD_TRACE_CALLS": "true",  # as the dev stage sets it
           "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"}

    completed = subprocess.run([str(environment / "bin" / "python"), "-I", "-c", _SERVE_HEALTH, str(task_root)],
                               env=env, capture_output=True, text=True, timeout=120, check=False)

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["body"] == {"status": "ok"}
    assert result["tracer_enabled"] is True
    assert result["site_packages_modules"] == [], "something was imported from outside the zip"
    logs = [json.loads(line) for line in completed.stdout.splitlines()[:-1] if line.startswith("{")]
    served = [line for line in logs if line.get("message") == "request served"]
    assert served and served[0]["correlation_id"] == "apigw-request-1"


def test_the_zip_holds_exactly_the_runtime_lock(task_root: Path):
    shipped, locked = _shipped(task_root), locked_versions(REQUIREMENTS)

    assert {name: (shipped.get(name), version) for name, version in locked.items() if shipped.get(name) != version} == {}, \
        "locked package missing from the zip or at another version"
    assert sorted(set(shipped) - set(locked)) == [], "the zip holds packages the lock does not"
    assert "aws-xray-sdk" in shipped, "Tracer needs aws-xray-sdk (aws-lambda-powertools[tracer])"


def test_the_zip_ships_the_app_and_nothing_from_the_local_stack_or_tests(task_root: Path):
    top_level = {path.name for path in task_root.iterdir()}

    assert {"app.py", "chalicelib", "chalice"} <= top_level
    assert not top_level & {"local", "tests", "bench", "infra", "moto", "pytest", "_pytest", "hypothesis", "cfnlint"}
    assert (task_root / "chalicelib" / "observability.py").exists()


# API Gateway events for the pages, answered by the unzipped handler: the console's files and
# Swagger UI's (from the zipped Powertools) must both be in the zip.
_SERVE_PAGES = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import app

class Context:
    function_name = "omnicard-dev-APIHandler"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:omnicard-dev-APIHandler"
    aws_request_id = "lambda-request-1"
    def get_remaining_time_in_millis(self):
        return 30000

def get(resource, path, params=None):
    event = {"resource": resource, "path": path, "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
             "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": params,
             "stageVariables": None, "body": None, "isBase64Encoded": False,
             "requestContext": {"resourcePath": resource, "httpMethod": "GET", "requestId": "r", "path": "/api" + path,
                                "stage": "api"}}
    response = app.app(event, Context())
    return {"status": response["statusCode"], "type": response["headers"].get("Content-Type"), "size": len(response["body"])}

print(json.dumps([get("/console", "/console"), get("/console/{asset}", "/console/console.js", {"asset": "console.js"}),
                  get("/v1/docs", "/v1/docs"), get("/v1/docs/{asset}", "/v1/docs/swagger-ui.js", {"asset": "swagger-ui.js"})]))
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the zip holds x86_64 Linux wheels (Architectures: x86_64)")
def test_the_zip_serves_the_console_and_the_docs_page_from_its_own_files(task_root: Path, tmp_path: Path):
    assert {path.name for path in (task_root / "chalicelib" / "web").iterdir()} >= {
        "console.html", "console.js", "console.css", "docs.html", "docs.js", "docs.css"}
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_DEFAULT_REGION": "us-east-1",
           "OMNICARD_JWT_SECRET": "zip-check-secret-0123456789abcdef0123456789", "POWERTOOLS_TRACE_DISABLED": "true"}

    completed = subprocess.run([str(environment / "bin" / "python"), "-I", "-c", _SERVE_PAGES, str(task_root)],
                               env=env, capture_output=True, text=True, timeout=120, check=False)

    assert completed.returncode == 0, completed.stderr
    pages = json.loads(completed.stdout.strip().splitlines()[-1])
    assert [(page["status"], page["type"].split(";")[0]) for page in pages] == [
        (200, "text/html"), (200, "text/javascript"), (200, "text/html"), (200, "text/javascript")]
    assert pages[3]["size"] > 1_000_000  # Swagger UI's bundle, not an error page
