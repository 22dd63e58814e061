"""A bad rules file stops start-up with a message naming the field."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_app(rules_file):
    env = {**os.environ, "OMNICARD_RULES_FILE": str(rules_file)}
    return subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_bad_rules_file_stops_start_up_naming_the_field(tmp_path):
    rules = json.loads((ROOT / "chalicelib" / "rules.json").read_text())
    rules["stars"]["payment_rate"] = 2.5
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    result = _import_app(path)
    assert result.returncode != 0
    assert "stars.payment_rate" in result.stderr


def test_shipped_rules_file_starts(tmp_path):
    assert _import_app(ROOT / "chalicelib" / "rules.json").returncode == 0


def test_rules_change_takes_effect(tmp_path, monkeypatch):
    from chalicelib.settings import configured_rules, reset_settings

    rules = json.loads((ROOT / "chalicelib" / "rules.json").read_text())
    rules["stars"]["timezone"] = "Europe/Paris"
    rules["money"]["balance_cap"] = 200_000
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    monkeypatch.setenv("OMNICARD_RULES_FILE", str(path))
    reset_settings()
    try:
        assert (configured_rules().stars.timezone, configured_rules().money.balance_cap) == ("Europe/Paris", 200_000)
    finally:
        monkeypatch.delenv("OMNICARD_RULES_FILE")
        reset_settings()
