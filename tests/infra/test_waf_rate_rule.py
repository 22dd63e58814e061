"""The deployed edge limits what the local edge (local/edges.py) limits: the rules file's request
rate per principal, keyed on the token, health and documents exempt, answered 429 rate_limited."""
import json
import re

from chalicelib.settings import load_rules
from local.edges import EXEMPT_PATHS
from tests.conftest import ROOT


def _resources():
    return json.loads((ROOT / "infra" / "template.json").read_text())["Resources"]


def test_the_waf_rate_rule_limits_each_token_to_the_rules_files_rate_per_minute():
    acl = _resources()["ApiWebAcl"]["Properties"]
    (rule,) = acl["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == load_rules().limits.requests_per_principal_per_minute
    assert rate["EvaluationWindowSec"] == 60
    assert rate["CustomKeys"] == [{"Header": {"Name": "authorization",
                                              "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}]
    exempt = re.compile(rate["ScopeDownStatement"]["NotStatement"]["Statement"]["RegexMatchStatement"]["RegexString"])
    assert all(exempt.match(path) for path in EXEMPT_PATHS) and not exempt.match("/v1/cards/crd_1")
    response = rule["Action"]["Block"]["CustomResponse"]
    body = json.loads(acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"])
    assert (response["ResponseCode"], body["code"], body["status"]) == (429, "rate_limited", 429)


def test_the_web_acl_guards_the_api_stage():
    association = _resources()["ApiWebAclAssociation"]
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert "/restapis/${RestAPI}/stages/api" in association["Properties"]["ResourceArn"]["Fn::Sub"]
