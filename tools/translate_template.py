"""Translates the SAM template to plain CloudFormation, as `sam deploy` would, so that cfn-lint can
check the resources SAM generates (plain cfn-lint stops at AWS::Serverless::* resources).

Local CodeUri values are replaced by an s3:// placeholder first, as `sam package` would.
Usage: python tools/translate_template.py template.yaml out.json
"""

import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policies (every role is written out), so none are looked up."""

    def load(self):
        return {}


def main(source, target):
    with open(source) as f:
        template = yaml_parse(f.read())
    placeholder = "s3://remediation-artifacts/placeholder.zip"
    globals_function = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = placeholder
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = placeholder
    translated = transform(template, {}, NoManagedPolicies())
    with open(target, "w") as f:
        json.dump(translated, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
