//! Revokes security group ingress open to 0.0.0.0/0 or ::/0 on ports outside ALLOWED_PUBLIC_PORTS,
//! re-opening the allowed ports a broad rule also covered.
//! Triggers: CloudTrail ingress changes, Config compliance changes, GuardDuty exposed-port findings, schedule.

use remediation::security_group::OpenSecurityGroup;

fn main() -> Result<(), remediation::Error> {
    remediation::run("open-security-group", OpenSecurityGroup::from_sdk_config)
}
