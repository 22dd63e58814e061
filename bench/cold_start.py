"""Cold start: `import app` and its DynamoDB client in a fresh interpreter, against the floor of
what it cannot avoid: chalice, pydantic, boto3 and Powertools imported alone, with its Logger and
Metrics created and one DynamoDB client.

Run: .venv/bin/python -m bench.cold_start [--runs 15] [--python other-venv/bin/python]

Each sample is a new `python` process that times only the import (not the interpreter's own
start-up), in CPU time and wall time; medians of `--runs` samples, run alternately so machine load
hits each alike. On a shared machine read the CPU column: wall time there is mostly waiting.
The environment is the deployed one minus AWS: metrics and logs at their deployed defaults, and a
Lambda function name, so Powertools behaves as in Lambda (a Tracer would be enabled)."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One pydantic model: `import pydantic` alone is lazy and would leave BaseModel's machinery out.
FLOOR = ("import chalice, pydantic, boto3; from aws_lambda_powertools import Logger, Metrics; "
         "type('Floor', (pydantic.BaseModel,), {'__annotations__': {'amount': int}}); "
         "Logger(); Metrics(); boto3.client('dynamodb')")
IMPORTS_ONLY = "import chalice, pydantic, boto3; from aws_lambda_powertools import Logger, Metrics"
APP = "import app; from chalicelib.store.client import dynamodb; dynamodb()"
NOTHING = "pass"

# CPU time is what the work costs; wall time on a shared machine adds whatever else runs.
_TIMED = """
import time
wall, cpu = time.perf_counter(), time.process_time()
{statement}
print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
"""


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "OMNICARD_", "POWERTOOLS_"))}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "OMNICARD_JWT_SECRET": "bench-secret-0123456789-0123456789",
                "POWERTOOLS_SERVICE_NAME": "omnicard", "POWERTOOLS_METRICS_NAMESPACE": "Omnicard",
                "AWS_LAMBDA_FUNCTION_NAME": "omnicard-dev", "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def sample(python: str, statement: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds one fresh interpreter spends on `statement`."""
    output = subprocess.run([python, "-c", _TIMED.format(statement=statement)], cwd=ROOT, env=_environment(),
                            capture_output=True, text=True, check=True).stdout
    wall, cpu = output.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure(runs: int, python: str = sys.executable) -> dict[str, tuple[float, float]]:
    """Medians of (wall, CPU) ms per statement, sampled alternately so load hits each alike."""
    statements = {"app": APP, "floor": FLOOR, "imports only": IMPORTS_ONLY}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, statement in statements.items():
            samples[name].append(sample(python, statement))
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure (a venv of another version)")
    args = parser.parse_args()
    result = measure(args.runs, args.python)
    (app_wall, app_cpu), (floor_wall, floor_cpu) = result["app"], result["floor"]
    print(f"cold `import app` + DynamoDB client, medians of {args.runs} fresh interpreters ({args.python})")
    print("| what | CPU ms | wall ms |")
    print("|---|---|---|")
    print(f"| app | {app_cpu:.0f} | {app_wall:.0f} |")
    print(f"| floor (chalice, pydantic model, boto3, Powertools Logger and Metrics, one DynamoDB client) | "
          f"{floor_cpu:.0f} | {floor_wall:.0f} |")
    print(f"| libraries imported only | {result['imports only'][1]:.0f} | {result['imports only'][0]:.0f} |")
    print(f"| ratio app / floor | ×{app_cpu / floor_cpu:.2f} | ×{app_wall / floor_wall:.2f} |")


if __name__ == "__main__":
    main()
