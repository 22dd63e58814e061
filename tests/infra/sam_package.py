"""What `make package` writes, read the way SAM and CloudFormation will read it."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STAGE = "dev"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Package:
    """What `make package STAGE=dev` writes: the SAM template and the code zip."""

    template: dict[str, Any]
    template_path: Path
    zip_path: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def function_property(self, name: str, key: str) -> Any:
        """A function's property as SAM sees it: the function's own value merged over Globals
        (maps are merged, the function's keys win)."""
        own = self.functions[name]["Properties"].get(key)
        default = self.template.get("Globals", {}).get("Function", {}).get(key)
        if isinstance(own, dict) and isinstance(default, dict):
            return _merge(default, own)
        return own if own is not None else default


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged

