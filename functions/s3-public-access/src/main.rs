//! Removes public grants from S3 bucket and object ACLs and turns on Block Public Access.
//! Triggers: CloudTrail S3 calls, Config compliance changes, GuardDuty S3 findings, schedule.

use remediation::s3::S3PublicAccess;

fn main() -> Result<(), remediation::Error> {
    remediation::run("s3-public-access", S3PublicAccess::from_sdk_config)
}
