//! Which instances an event points at (pure). A scheduled sweep reads every running instance instead
//! (`UntaggedInstances::targets`).

use std::collections::HashSet;

use super::policy::InstanceState;
use crate::invocation::Unrelated;
use crate::shape::{ec2_items, str_field};
use crate::trigger::{ApiCall, Trigger, TriggerEvent};

/// An instance to check; a sweep has already read its state.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceTarget {
    pub instance_id: String,
    pub prefetched: Option<InstanceState>,
}

impl InstanceTarget {
    pub fn new(instance_id: impl Into<String>) -> Self {
        InstanceTarget {
            instance_id: instance_id.into(),
            prefetched: None,
        }
    }
}

/// The instance ids an event points at, or why the event is not for this function.
pub fn targets_of(trigger: &Trigger) -> Result<Vec<String>, Unrelated> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => api_call_instances(call),
        TriggerEvent::StateChange(change) => match change.state.as_str() {
            "pending" | "running" => Ok(vec![change.instance_id.clone()]),
            other => Err(Unrelated::new(format!(
                "instance {} entered {other}; only pending or running instances are checked",
                change.instance_id
            ))),
        },
        TriggerEvent::Compliance(change) if change.resource_type == "AWS::EC2::Instance" => {
            Ok(vec![change.resource_id.clone()])
        }
        TriggerEvent::Compliance(change) => Err(Unrelated::new(format!(
            "Config rule {} is about {}, not an EC2 instance",
            change.rule_name, change.resource_type
        ))),
        TriggerEvent::SecurityHub(finding) => {
            finding.resources_for("AwsEc2Instance", "an EC2 instance")
        }
        TriggerEvent::Schedule { .. } | TriggerEvent::Job(_) => Err(Unrelated::new(
            "scheduled sweeps list the instances themselves",
        )),
        TriggerEvent::Finding(_) | TriggerEvent::ConfigRule(_) => Err(Unrelated::new(format!(
            "{} events are not about instance tags",
            trigger.source
        ))),
    }
}

fn api_call_instances(call: &ApiCall) -> Result<Vec<String>, Unrelated> {
    if call.event_source != "ec2.amazonaws.com" {
        return Err(Unrelated::new(format!(
            "{} from {} is not an EC2 call",
            call.event_name, call.event_source
        )));
    }
    let ids: Vec<String> = match call.event_name.as_str() {
        "RunInstances" => ec2_items(call.response.get("instancesSet"))
            .iter()
            .filter_map(|item| str_field(item, "instanceId").map(String::from))
            .collect(),
        "CreateTags" | "DeleteTags" => ec2_items(call.request.get("resourcesSet"))
            .iter()
            .filter_map(|item| str_field(item, "resourceId"))
            .filter(|id| id.starts_with("i-"))
            .map(String::from)
            .collect(),
        other => {
            return Err(Unrelated::new(format!(
                "EC2 call {other} does not change instance tags"
            )))
        }
    };
    if ids.is_empty() {
        return Err(Unrelated::new(format!(
            "{} names no instance",
            call.event_name
        )));
    }
    let mut seen = HashSet::new();
    Ok(ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect())
}
