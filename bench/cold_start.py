"""Cold start: `import app` in a fresh interpreter, against the floor of what it cannot avoid:
chalice, pydantic, boto3 and Powertools imported alone, with its Logger, Metrics and Tracer created
(Tracer() imports the X-Ray SDK and patches botocore, as it does deployed).

Run: .venv/bin/python -m bench.cold_start [--runs 15]

Each sample is a new `python` process that times only the import (the interpreter's own start-up
is measured apart); medians of `--runs` samples, run alternately so machine load hits both alike.
The environment is the Lambda one minus AWS: tracing on as deployed (Tracer patches botocore),
metrics and logs at their deployed defaults."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOOR = ("import chalice, pydantic, boto3; from aws_lambda_powertools import Logger, Metrics, Tracer; "
         "Logger(); Metrics(); Tracer()")
IMPORTS_ONLY = "import chalice, pydantic, boto3; from aws_lambda_powertools import Logger, Metrics, Tracer"
APP = "import app"
NOTHING = "pass"

_TIMED = """
import time
started = time.perf_counter()
{statement}
print((time.perf_counter() - started) * 1000)
"""


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "OMNICARD_", "POWERTOOLS_"))}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "OMNICARD_JWT_SECRET": "bench-secret-0123456789-0123456789",
                "POWERTOOLS_SERVICE_NAME": "omnicard", "POWERTOOLS_METRICS_NAMESPACE": "Omnicard",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def sample(statement: str) -> float:
    """Milliseconds one fresh interpreter spends on `statement`."""
    output = subprocess.run([sys.executable, "-c", _TIMED.format(statement=statement)], cwd=ROOT, env=_environment(),
                            capture_output=True, text=True, check=True).stdout
    return float(output.strip().splitlines()[-1])


def interpreter_start() -> float:
    import time
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", NOTHING], env=_environment(), check=True)
    return (time.perf_counter() - started) * 1000


def measure(runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"app": [], "floor": [], "imports only": [], "interpreter": []}
    for _ in range(runs):
        samples["app"].append(sample(APP))
        samples["floor"].append(sample(FLOOR))
        samples["imports only"].append(sample(IMPORTS_ONLY))
        samples["interpreter"].append(interpreter_start())
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    result = measure(runs)
    print(f"cold `import app`, median of {runs} fresh interpreters (Python start-up, {result['interpreter']:.0f} ms, apart)")
    print(f"| import app | {result['app']:.0f} ms | floor {result['floor']:.0f} ms (the libraries and Powertools' "
          f"Logger, Metrics, Tracer) | ×{result['app'] / result['floor']:.2f} |")
    print(f"(the libraries imported without creating Logger, Metrics and Tracer: {result['imports only']:.0f} ms)")


if __name__ == "__main__":
    main()
