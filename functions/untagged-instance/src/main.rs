//! Stops running instances that lack the tags REQUIRED_TAGS asks for, or with GRACE_MINUTES > 0
//! marks them with a deadline first (hibernating those launched for it). Exempt instances and capacity
//! other services replace (Auto Scaling, fleets, EKS, Karpenter, EMR, ECS) are left alone.
//! Triggers: EC2 state changes, CloudTrail RunInstances/CreateTags/DeleteTags, Config compliance
//! changes, and a schedule (a sweep of every running instance, stopped in batches).

use remediation::instance::UntaggedInstances;

fn main() -> Result<(), remediation::Error> {
    remediation::run("untagged-instance", UntaggedInstances::from_sdk_config)
}
