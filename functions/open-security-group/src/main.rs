//! Revokes security group ingress open to the internet (0.0.0.0/0, ::/0, wide pieces of it, or a prefix
//! list holding one) on ports outside ALLOWED_PUBLIC_PORTS, keeping the allowed ports a broad rule also
//! covered open (narrowing it in place when the group is at its rules quota).
//! Triggers: CloudTrail ingress changes, Config compliance changes, GuardDuty exposed-port findings, schedule.

use remediation::security_group::OpenSecurityGroup;

fn main() -> Result<(), remediation::Error> {
    remediation::run("open-security-group", OpenSecurityGroup::from_sdk_config)
}
