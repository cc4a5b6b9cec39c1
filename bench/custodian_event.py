"""Cloud Custodian's event path, as its Lambda runs it, for `make bench`.

    python custodian_event.py prepare POLICY DIR   writes DIR/config.json: POLICY from
                                                   custodian-policies.yml in its Lambda mode
    python custodian_event.py run EVENT            (in DIR) one fresh process handling EVENT through
                                                   c7n.handler.dispatch_event, as Custodian's Lambda

`run` prints one JSON line: when the interpreter reached this script (`started`, Unix seconds),
how long `import c7n.handler` took, and how long handling the event took (`work_s`: reading the
policy, loading its resource types, the AWS calls and the actions). The bench spawns it and measures
the interpreter's own start-up from the spawn to `started`.
"""

import time

STARTED = time.time()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# The event each policy listens to in Lambda mode: the same events the functions get.
MODES = {
    "s3-public-grants": {
        "type": "cloudtrail",
        "events": [
            {
                "source": "s3.amazonaws.com",
                "event": "PutBucketAcl",
                "ids": "requestParameters.bucketName",
            }
        ],
    },
    "sg-public-ingress": {
        "type": "cloudtrail",
        "events": [
            {
                "source": "ec2.amazonaws.com",
                "event": "AuthorizeSecurityGroupIngress",
                "ids": "requestParameters.groupId",
            }
        ],
    },
    "ec2-missing-tags": {"type": "ec2-instance-state", "events": ["running"]},
}


def prepare(policy_name, directory):
    import yaml

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "custodian-policies.yml")) as f:
        policies = yaml.safe_load(f)["policies"]
    policy = next(p for p in policies if p["name"] == policy_name)
    policy["mode"] = dict(MODES[policy_name], role="arn:aws:iam::123456789012:role/custodian")
    config = {
        # What `custodian` writes into its Lambda package; the account id spares an STS call.
        "execution-options": {"account_id": "123456789012", "output_dir": directory},
        "policies": [policy],
    }
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)


class Context:
    function_name = "custodian-bench"
    aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:custodian-bench"

    def get_remaining_time_in_millis(self):
        return 300_000


def run(event_file):
    with open(event_file) as f:
        event = json.load(f)
    before_import = time.time()
    from c7n import handler

    imported = time.time()
    handler.dispatch_event(event, Context())
    done = time.time()
    print(
        json.dumps(
            {
                "started": STARTED,
                "import_s": imported - before_import,
                "work_s": done - imported,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    else:
        run(sys.argv[2])
