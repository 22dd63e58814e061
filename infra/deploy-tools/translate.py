"""Translate a SAM template into plain CloudFormation, as CloudFormation's AWS::Serverless transform
does: `python translate.py <region> [Name=value ...] < sam.json > cloudformation.json`.

Runs in the deploy tools' venv (build/.deploy-venv, aws-sam-translator pinned there) and needs no
AWS account: the template names its roles, so no managed policy has to be looked up."""
from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    region, assignments = argv[0], argv[1:]
    os.environ["AWS_DEFAULT_REGION"] = region
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.transform import transform  # noqa: F401  (import check)
    from samtranslator.translator.translator import Translator

    parameters = dict(assignment.split("=", 1) for assignment in assignments)
    template = json.load(sys.stdin)
    session = boto3.session.Session(region_name=region, aws_access_key_id="unused", aws_secret_access_key="unused")
    translated = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session).translate(
        template, parameter_values=parameters, get_managed_policy_map=lambda: {})
    json.dump(translated, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
