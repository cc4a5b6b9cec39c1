"""Starts moto_server for the test rig, with two fixes to moto 5.2.5's S3 (the test server, not AWS).

These are moto quirks, not AWS behaviour; they are worked around here, never in function code:

1. PutObjectAcl ignores an AccessControlPolicy body and copies the bucket's ACL onto the object.
   Real S3 applies the body, and the functions send one (they rewrite the ACL keeping every
   non-public grant), so the body is read here when no grant headers are present.
2. Get{Bucket,Object}Acl render only the first grantee of a grant that was set with several grantees
   in one x-amz-grant-* header. Real S3 lists each grantee as its own grant, so grants are split here.
3. DescribeInstances counts MaxResults in reservations, not instances: 10,000 instances launched 500 per
   RunInstances come back in one page, which takes moto longer than the functions' 10 s attempt timeout.
   EC2 pages by instances ("MaxResults: the maximum number of items to return", 5-1000; EC2 API
   Reference, DescribeInstances), so pages here hold at most MaxResults instances.

With IAM enforced (`/moto-api/reset-auth`), moto 5.2.5 recomputes SNS query signatures differently
from the AWS SDK for Rust and answers SignatureDoesNotMatch; the rig tests authorization, not
signatures, so signature checks are skipped here (access keys and policies are still enforced).

It also exits when the process that started it goes away, so a test run never leaves servers behind,
and it can inject faults for the reliability tests: POST /_rig/faults with
[{"operation": "RevokeSecurityGroupIngress", "times": 2, "status": 400, "code": "RequestLimitExceeded"}]
answers the next 2 calls of that query-protocol operation (EC2, SNS, STS) with that error instead of
passing them to moto; "times": -1 means every call. S3's ACL writes (PutBucketAcl, PutObjectAcl: a PUT
with the `acl` sub-resource, path-style) can be failed the same way, for what moto does not model, such as
a bucket whose Object Ownership disables ACLs (AccessControlListNotSupported). GET /_rig/faults tells how many calls each fault answered.
A fault may also name request parameters it applies to, `"match": {"RoleArn": "222222222222"}` (each value a
substring of that form parameter: an AssumeRole refused for one account only, as a member account without the
role answers AccessDenied), and may slow calls down instead of failing them: `"delay_ms": 300` without a `code`
passes the call to moto after that pause (a slow account, to make a sweep job run out of time).
Usage: python tools/moto_server.py [moto_server arguments, e.g. -H 127.0.0.1 -p 5000]
"""

import copy
import io
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

from moto.s3.models import FakeAcl, FakeGrant
from moto.s3.responses import S3Response
from moto.iam.access_control import IAMRequestBase
from moto.core.responses import ActionResult
from moto.ec2.responses.instances import InstanceResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_acl_from_headers = S3Response._acl_from_headers


def _acl_from_headers_one_grantee_per_grant(self, headers):
    acl = _acl_from_headers(self, headers)
    if acl is None:
        return None
    return FakeAcl(
        [FakeGrant([grantee], grant.permissions) for grant in acl.grants for grantee in grant.grantees]
    )


def _put_object_acl_reading_the_body(self):
    acl = self._acl_from_headers(self.headers)
    if acl is None and self.body:
        acl = self._acl_from_body()
    if acl is None:
        acl = self.backend.get_bucket(self.bucket_name).acl
    self.backend.put_object_acl(self.bucket_name, self.parse_key_name(), acl)
    response_headers = self._get_cors_headers_other()
    self._get_checksum(response_headers)
    return 200, response_headers, ""


_describe_instances = InstanceResponse.describe_instances


def _describe_instances_paged_by_instance(self):
    if "MaxResults" not in self.data or "InstanceId.1" in self.data:
        return _describe_instances(self)
    self.error_on_dryrun()
    reservations = self.ec2_backend.describe_instances(filters=self._filters_from_querystring())
    max_results = int(self._get_param("MaxResults"))
    start = int(self._get_param("NextToken") or 0)
    end, seen, page = start + max_results, 0, []
    for reservation in reservations:
        count = len(reservation.instances)
        low, high = max(start - seen, 0), min(end - seen, count)
        if low < high:
            part = copy.copy(reservation)
            part.instances = reservation.instances[low:high]
            page.append(part)
        seen += count
    return ActionResult({"Reservations": page, "NextToken": str(end) if seen > end else None})


InstanceResponse.describe_instances = _describe_instances_paged_by_instance
S3Response._acl_from_headers = _acl_from_headers_one_grantee_per_grant
S3Response.put_object_acl = _put_object_acl_reading_the_body
IAMRequestBase.check_signature = lambda self: None


_faults = []
_faults_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _query_request(environ):
    """Action and form of a query-protocol request, leaving the body readable for moto."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None, {}
    if "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return None, {}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    form = parse_qs(body.decode("utf-8", "replace"))
    return form.get("Action", [None])[0], form


def _s3_acl_write(environ):
    """PutBucketAcl or PutObjectAcl for a path-style `PUT /bucket[/key]?acl`, else None."""
    if environ.get("REQUEST_METHOD") != "PUT":
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "acl" not in query:
        return None
    path = environ.get("PATH_INFO", "").strip("/")
    return "PutObjectAcl" if "/" in path else "PutBucketAcl"


def _error_body(fault, action, form):
    code, message = fault["code"], fault.get("message", "injected by the test rig")
    if action in ("PutBucketAcl", "PutObjectAcl"):  # S3's REST error shape
        return f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>rig-{action}</RequestId></Error>"
    if form.get("Version") == ["2016-11-15"]:  # EC2's own error shape
        return (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
                f"</Errors><RequestID>rig-{action}</RequestID></Response>")
    return (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>rig-{action}</RequestId></ErrorResponse>")


def _dispatch_with_faults(self, environ, start_response):
    if environ.get("PATH_INFO") == "/_rig/faults":
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            faults = json.loads(environ["wsgi.input"].read(length) or b"[]")
            with _faults_lock:
                _faults[:] = [dict(f, hits=0) for f in faults]
        with _faults_lock:
            body = json.dumps(_faults).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    if environ.get("PATH_INFO") == "/moto-api/reset":
        with _faults_lock:
            _faults.clear()
    if _faults:
        action, form = _query_request(environ)
        action = action or _s3_acl_write(environ)
        with _faults_lock:
            fault = next((f for f in _faults if f["operation"] == action and f["times"] != 0
                          and all(v in form.get(k, [""])[0] for k, v in f.get("match", {}).items())), None)
            if fault is not None:
                fault["times"] -= 1 if fault["times"] > 0 else 0
                fault["hits"] += 1
        if fault is not None and "code" not in fault:
            time.sleep(fault.get("delay_ms", 0) / 1000)
        elif fault is not None:
            body = _error_body(fault, action, form).encode()
            status = fault.get("status", 400)
            start_response(f"{status} Injected", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _dispatch_with_faults


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    main(sys.argv[1:])
