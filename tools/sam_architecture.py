"""Prints the Architecture that `sam deploy` will use: the one in samconfig.toml's deploy parameter_overrides.

`make sam-build` builds for this architecture, so that build and deploy can never disagree (a binary built
for x86_64 cannot run on an arm64 function). Usage: python tools/sam_architecture.py [samconfig.toml]
"""

import re
import sys
import tomllib

path = sys.argv[1] if len(sys.argv) > 1 else "samconfig.toml"
with open(path, "rb") as f:
    config = tomllib.load(f)
overrides = config["default"]["deploy"]["parameters"].get("parameter_overrides", "")
if isinstance(overrides, list):
    overrides = " ".join(overrides)
found = re.search(r'Architecture="?(arm64|x86_64)"?', overrides)
if not found:
    sys.exit(f"{path}: no Architecture=arm64|x86_64 in [default.deploy.parameters] parameter_overrides")
print(found.group(1))
