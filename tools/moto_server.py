"""Starts moto_server for the test rig, with two fixes to moto 5.2.5's S3 (the test server, not AWS).

DESIGN.md lists these moto quirks; they are worked around here, never in function code:

1. PutObjectAcl ignores an AccessControlPolicy body and copies the bucket's ACL onto the object.
   Real S3 applies the body, and the functions send one (they rewrite the ACL keeping every
   non-public grant), so the body is read here when no grant headers are present.
2. Get{Bucket,Object}Acl render only the first grantee of a grant that was set with several grantees
   in one x-amz-grant-* header. Real S3 lists each grantee as its own grant, so grants are split here.

It also exits when the process that started it goes away, so a test run never leaves servers behind.
Usage: python tools/moto_server.py [moto_server arguments, e.g. -H 127.0.0.1 -p 5000]
"""

import os
import sys
import threading
import time

from moto.s3.models import FakeAcl, FakeGrant
from moto.s3.responses import S3Response
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


S3Response._acl_from_headers = _acl_from_headers_one_grantee_per_grant
S3Response.put_object_acl = _put_object_acl_reading_the_body


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    main(sys.argv[1:])
