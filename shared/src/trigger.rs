//! Every event shape the functions accept, turned into one normalized [`Trigger`].
//!
//! An event is only a hint: functions re-read the resource before they act. Parsing therefore keeps
//! what identifies the resource and the cause, and answers anything it cannot use with [`Ignored`]
//! and a reason, never a panic.

use std::collections::HashMap;
use std::fmt;

use aws_lambda_events::cloudwatch_events::cloudtrail::AWSAPICall;
use aws_lambda_events::cloudwatch_events::ec2::InstanceStateChange;
use aws_lambda_events::config::ConfigEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::organization::SweepJob;
use crate::shape::{number_field, str_field};

pub mod security_hub;

pub use security_hub::{ControlFinding, CustomAction};

/// Where a trigger came from; the `trigger.source` of a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Cloudtrail,
    Ec2State,
    Config,
    Guardduty,
    Securityhub,
    Schedule,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cloudtrail => "cloudtrail",
            Source::Ec2State => "ec2-state",
            Source::Config => "config",
            Source::Guardduty => "guardduty",
            Source::Securityhub => "securityhub",
            Source::Schedule => "schedule",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One usable event, whatever shape it arrived in.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub source: Source,
    /// The EventBridge envelope `id`; for GuardDuty and Security Hub the finding id; for a Config rule
    /// its rule.
    pub event_id: String,
    pub account: String,
    pub region: String,
    pub event: TriggerEvent,
    /// The account's name, when Organizations told it (organization mode).
    pub account_name: Option<String>,
    /// The SQS message it came in, when it came from a queue: a failure fails that message alone
    /// (`batchItemFailures`), and SQS delivers it again.
    pub message_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerEvent {
    ApiCall(ApiCall),
    StateChange(StateChange),
    Compliance(ComplianceChange),
    Finding(Finding),
    /// A failed control check from Security Hub, or a person's custom action on one.
    SecurityHub(ControlFinding),
    Schedule {
        rule_arns: Vec<String>,
    },
    /// One account x region of a fanned-out sweep, from the sweep queue.
    Job(SweepJob),
    ConfigRule(ConfigRuleInvocation),
}

/// A successful CloudTrail management or data event.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiCall {
    pub event_source: String,
    pub event_name: String,
    /// CloudTrail's own `eventID` (the envelope id is the trigger's `event_id`).
    pub cloudtrail_event_id: String,
    /// Who made the call: `userIdentity.arn`, or its type when there is no ARN.
    pub actor: String,
    /// The role behind an assumed-role session (`sessionContext.sessionIssuer.arn`).
    pub actor_role_arn: Option<String>,
    pub request: Value,
    pub response: Value,
    /// `detail.resources[]` as (type, ARN).
    pub resources: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateChange {
    pub instance_id: String,
    pub state: String,
}

/// A Config rule reported a resource NON_COMPLIANT (other results are ignored while parsing).
#[derive(Clone, Debug, PartialEq)]
pub struct ComplianceChange {
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
}

/// A GuardDuty finding, reduced to what points at a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub id: String,
    pub finding_type: String,
    pub severity: f64,
    pub updated_at: String,
    pub resource_type: String,
    pub resource_role: Option<String>,
    pub buckets: Vec<String>,
    pub instance_id: Option<String>,
    pub security_group_ids: Vec<String>,
    /// Local ports probed or attacked (port probes, inbound connections).
    pub ports: Vec<u16>,
}

/// A custom Config rule invocation (no EventBridge envelope); `invokingEvent` and
/// `ruleParameters` are decoded from their JSON strings.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigRuleInvocation {
    pub rule_name: String,
    pub result_token: String,
    pub event_left_scope: bool,
    pub invoking_event: Value,
    pub rule_parameters: Value,
}

/// An event that no function can act on, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ignored {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

impl Ignored {
    pub fn new(reason: impl Into<String>, event_id: Option<&str>) -> Self {
        Ignored {
            reason: reason.into(),
            event_id: event_id.map(String::from),
        }
    }
}

impl Trigger {
    /// Whether this is a scheduled sweep (every resource in scope) rather than an event about some.
    pub fn is_sweep(&self) -> bool {
        match self.event {
            TriggerEvent::Schedule { .. } => !self.is_exemption_report(),
            TriggerEvent::Job(_) => true,
            _ => false,
        }
    }

    /// The sweep job this trigger is, when it came from the sweep queue.
    pub fn job(&self) -> Option<&SweepJob> {
        match &self.event {
            TriggerEvent::Job(job) => Some(job),
            _ => None,
        }
    }

    /// Whether this is the schedule of the weekly exemption report: a Scheduled Event from a rule
    /// whose name contains `exemption-report` (EventBridge names the rule in `resources`).
    pub fn is_exemption_report(&self) -> bool {
        match &self.event {
            TriggerEvent::Schedule { rule_arns } => rule_arns.iter().any(|arn| {
                arn.rsplit_once("rule/")
                    .is_some_and(|(_, name)| name.to_ascii_lowercase().contains("exemption-report"))
            }),
            _ => false,
        }
    }

    /// A short human description of the cause, the notification's `trigger.detail`.
    pub fn detail(&self) -> String {
        match &self.event {
            TriggerEvent::ApiCall(call) => format!("{} by {}", call.event_name, call.actor),
            TriggerEvent::StateChange(change) => {
                format!("instance {} entered {}", change.instance_id, change.state)
            }
            TriggerEvent::Compliance(change) => format!(
                "Config rule {} found {} {} NON_COMPLIANT",
                change.rule_name, change.resource_type, change.resource_id
            ),
            TriggerEvent::Finding(finding) => format!(
                "GuardDuty finding {} (severity {})",
                finding.finding_type, finding.severity
            ),
            TriggerEvent::SecurityHub(finding) => match &finding.action {
                Some(action) => format!(
                    "Security Hub custom action {:?} on control {} ({}): a person asked for this fix",
                    action.name, finding.control_id, finding.title
                ),
                None => format!(
                    "Security Hub control {} FAILED ({})",
                    finding.control_id, finding.title
                ),
            },
            TriggerEvent::Schedule { .. } if self.is_exemption_report() => {
                "weekly exemption report".to_string()
            }
            TriggerEvent::Schedule { .. } => "scheduled sweep".to_string(),
            TriggerEvent::Job(job) if job.part == 0 => {
                format!(
                    "scheduled sweep of account {} in {}",
                    job.account, job.region
                )
            }
            TriggerEvent::Job(job) => format!(
                "scheduled sweep of account {} in {} (continued, part {})",
                job.account, job.region, job.part
            ),
            TriggerEvent::ConfigRule(rule) => {
                let message_type = str_field(&rule.invoking_event, "messageType").unwrap_or("?");
                format!("Config rule {} invoked ({message_type})", rule.rule_name)
            }
        }
    }

    /// The Security Hub finding this trigger is, when it is one.
    pub fn security_hub(&self) -> Option<&ControlFinding> {
        match &self.event {
            TriggerEvent::SecurityHub(finding) => Some(finding),
            _ => None,
        }
    }

    /// Whether a person explicitly asked for this fix (a Security Hub custom action): it is carried out
    /// even in a dry run.
    pub fn is_approval(&self) -> bool {
        self.security_hub().is_some_and(|f| f.action.is_some())
    }

    /// Who asked for this fix, when a person did. Security Hub's custom action event names the action
    /// and its account, not the person who chose it (Security Hub User Guide, "EventBridge event
    /// formats": no identity field), so the action is what can be named.
    pub fn requested_by(&self) -> Option<String> {
        let finding = self.security_hub()?;
        let action = finding.action.as_ref()?;
        Some(format!(
            "a person in Security Hub, with custom action {:?} ({}) on finding {} in account {}; Security Hub does not say who",
            action.name, action.arn, finding.id, finding.hub_account
        ))
    }

    /// An `Ignored` answer about this trigger.
    pub fn ignored(&self, reason: impl Into<String>) -> Ignored {
        Ignored::new(reason, Some(&self.event_id))
    }
}

/// Parses a Lambda payload: one event, an SNS batch whose messages are events, or an SQS batch of
/// sweep jobs (or events). Returns one entry per event; GuardDuty findings repeated in a batch are
/// kept once (latest update).
pub fn parse_payload(payload: &Value) -> Vec<Result<Trigger, Ignored>> {
    let parsed = match payload {
        Value::Object(map) if is_sqs_batch(payload) && map.contains_key("Records") => {
            parse_sqs_batch(payload)
        }
        Value::Object(map) if map.contains_key("Records") => parse_sns_batch(payload),
        Value::Object(_) => parse_events(payload),
        Value::Array(_) => vec![Err(Ignored::new(
            "payload is a JSON array; expected one event or an SNS batch",
            None,
        ))],
        other => vec![Err(Ignored::new(
            format!("payload is {}; expected a JSON object", json_kind(other)),
            None,
        ))],
    };
    dedupe_findings(parsed)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_sns_batch(payload: &Value) -> Vec<Result<Trigger, Ignored>> {
    let batch: SnsEvent = match serde_json::from_value(payload.clone()) {
        Ok(batch) => batch,
        Err(err) => {
            return vec![Err(Ignored::new(
                format!("malformed SNS batch: {err}"),
                None,
            ))]
        }
    };
    if batch.records.is_empty() {
        return vec![Err(Ignored::new("SNS batch has no records", None))];
    }
    batch
        .records
        .iter()
        .flat_map(|record| {
            let message_id = record.sns.message_id.as_str();
            match serde_json::from_str::<Value>(&record.sns.message) {
                Ok(inner @ Value::Object(_))
                    if !inner.as_object().is_some_and(|m| m.contains_key("Records")) =>
                {
                    parse_events(&inner)
                }
                Ok(_) => vec![Err(Ignored::new(
                    "SNS message is not a single event object",
                    Some(message_id),
                ))],
                Err(err) => vec![Err(Ignored::new(
                    format!("SNS message is not JSON: {err}"),
                    Some(message_id),
                ))],
            }
        })
        .collect()
}

/// Whether a payload is an SQS batch (its records say `"eventSource": "aws:sqs"`; SNS's say
/// `"EventSource": "aws:sns"`).
pub fn is_sqs_batch(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

fn parse_sqs_batch(payload: &Value) -> Vec<Result<Trigger, Ignored>> {
    let batch: SqsEvent = match serde_json::from_value(payload.clone()) {
        Ok(batch) => batch,
        Err(err) => {
            return vec![Err(Ignored::new(
                format!("malformed SQS batch: {err}"),
                None,
            ))]
        }
    };
    batch
        .records
        .iter()
        .flat_map(|record| {
            let message_id = record.message_id.as_deref().unwrap_or_default();
            let body = record.body.as_deref().unwrap_or_default();
            let parsed = match SweepJob::from_body(body) {
                Some(Ok(job)) => vec![Ok(Trigger {
                    source: Source::Schedule,
                    event_id: job.sweep_id.clone(),
                    account: job.account.clone(),
                    region: job.region.clone(),
                    account_name: job.account_name.clone(),
                    message_id: None,
                    event: TriggerEvent::Job(job),
                })],
                Some(Err(reason)) => vec![Err(Ignored::new(reason, Some(message_id)))],
                None => match serde_json::from_str::<Value>(body) {
                    Ok(event @ Value::Object(_)) => parse_events(&event),
                    _ => vec![Err(Ignored::new(
                        "SQS message is neither a sweep job nor an event",
                        Some(message_id),
                    ))],
                },
            };
            parsed.into_iter().map(move |entry| {
                entry.map(|mut trigger| {
                    trigger.message_id = Some(message_id.to_string());
                    trigger
                })
            })
        })
        .collect()
}

/// Parses one event object into its triggers: one, except for a Security Hub event, which may carry
/// several findings (one trigger each). Never empty.
pub fn parse_events(event: &Value) -> Vec<Result<Trigger, Ignored>> {
    let detail_type = str_field(event, "detail-type");
    if str_field(event, "source") == Some("aws.securityhub")
        && matches!(
            detail_type,
            Some(security_hub::IMPORTED | security_hub::CUSTOM_ACTION)
        )
    {
        return security_hub::parse(event);
    }
    vec![parse_event(event)]
}

/// Parses one event object: an EventBridge envelope or a custom Config rule invocation.
pub fn parse_event(event: &Value) -> Result<Trigger, Ignored> {
    if event.get("detail-type").is_some() {
        return parse_eventbridge(event);
    }
    if event.get("invokingEvent").is_some() && event.get("resultToken").is_some() {
        return parse_config_rule(event);
    }
    Err(Ignored::new(
        "not an EventBridge event, SNS batch or Config rule invocation",
        None,
    ))
}

fn parse_eventbridge(event: &Value) -> Result<Trigger, Ignored> {
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|err| {
            Ignored::new(
                format!("malformed EventBridge envelope: {err}"),
                str_field(event, "id"),
            )
        })?;
    let event_id = envelope.id.clone().unwrap_or_default();
    let ignored = |reason: String| Ignored::new(reason, Some(&event_id));
    let detail = &envelope.detail;
    let account = envelope
        .account
        .clone()
        .or_else(|| str_field(detail, "accountId").map(String::from))
        .unwrap_or_default();
    let region = envelope
        .region
        .clone()
        .or_else(|| str_field(detail, "awsRegion").map(String::from))
        .unwrap_or_default();

    let (source, parsed) = match envelope.detail_type.as_str() {
        "AWS API Call via CloudTrail" => (Source::Cloudtrail, parse_api_call(detail)),
        "EC2 Instance State-change Notification" => (Source::Ec2State, parse_state_change(detail)),
        "Config Rules Compliance Change" => (Source::Config, parse_compliance_change(detail)),
        "GuardDuty Finding" => (Source::Guardduty, parse_finding(detail)),
        "Scheduled Event" => (
            Source::Schedule,
            Ok(TriggerEvent::Schedule {
                rule_arns: envelope.resources.clone().unwrap_or_default(),
            }),
        ),
        other => return Err(ignored(format!("unsupported detail-type {other:?}"))),
    };
    let event = parsed.map_err(ignored)?;
    // GuardDuty repeats a finding under new envelope ids; the finding id is what identifies it.
    let event_id = match &event {
        TriggerEvent::Finding(finding) => finding.id.clone(),
        _ => event_id,
    };
    // A GuardDuty administrator account receives its members' findings on its own bus, under its own
    // envelope account; the finding's `accountId` and `region` are where the resource is (GuardDuty
    // User Guide, "Finding details": the account in which the activity took place).
    let (account, region) = match &event {
        TriggerEvent::Finding(_) => (
            str_field(detail, "accountId")
                .map(String::from)
                .unwrap_or(account),
            str_field(detail, "region")
                .map(String::from)
                .unwrap_or(region),
        ),
        _ => (account, region),
    };
    Ok(Trigger {
        source,
        event_id,
        account,
        region,
        event,
        account_name: None,
        message_id: None,
    })
}

fn parse_api_call(detail: &Value) -> Result<TriggerEvent, String> {
    let call: AWSAPICall<Value, Value> = serde_json::from_value(detail.clone())
        .map_err(|err| format!("malformed CloudTrail record: {err}"))?;
    if let Some(code) = str_field(detail, "errorCode") {
        return Err(format!(
            "{} failed with {code}: the call changed nothing",
            call.event_name
        ));
    }
    let actor_role_arn = call
        .user_identity
        .session_context
        .as_ref()
        .and_then(|ctx| ctx.session_issuer.as_ref())
        .map(|issuer| issuer.arn.clone())
        .filter(|arn| !arn.is_empty());
    let actor = call
        .user_identity
        .arn
        .clone()
        .filter(|arn| !arn.is_empty())
        .unwrap_or_else(|| call.user_identity.r#type.clone());
    let resources = detail
        .get("resources")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|r| {
                    let arn = str_field(r, "ARN").or_else(|| str_field(r, "arn"))?;
                    Some((
                        str_field(r, "type").unwrap_or("").to_string(),
                        arn.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TriggerEvent::ApiCall(ApiCall {
        event_source: call.event_source,
        event_name: call.event_name,
        cloudtrail_event_id: call.event_id,
        actor,
        actor_role_arn,
        request: call.request_parameters,
        response: call.response_elements.unwrap_or(Value::Null),
        resources,
    }))
}

fn parse_state_change(detail: &Value) -> Result<TriggerEvent, String> {
    let change: InstanceStateChange = serde_json::from_value(detail.clone())
        .map_err(|err| format!("malformed EC2 state-change detail: {err}"))?;
    if change.instance_id.is_empty() {
        return Err("EC2 state-change without an instance id".to_string());
    }
    Ok(TriggerEvent::StateChange(StateChange {
        instance_id: change.instance_id,
        state: change.state,
    }))
}

fn parse_compliance_change(detail: &Value) -> Result<TriggerEvent, String> {
    let new_result = detail.get("newEvaluationResult");
    let qualifier = new_result
        .and_then(|r| r.get("evaluationResultIdentifier"))
        .and_then(|r| r.get("evaluationResultQualifier"));
    let pick = |name: &str| {
        str_field(detail, name)
            .or_else(|| qualifier.and_then(|q| str_field(q, name)))
            .map(String::from)
    };
    let rule_name = pick("configRuleName").unwrap_or_default();
    let compliance = new_result
        .and_then(|r| str_field(r, "complianceType"))
        .unwrap_or("");
    if compliance != "NON_COMPLIANT" {
        return Err(format!(
            "Config rule {rule_name:?} reported {}: nothing to fix",
            if compliance.is_empty() {
                "no compliance type"
            } else {
                compliance
            }
        ));
    }
    let resource_type =
        pick("resourceType").ok_or("Config compliance change without resourceType")?;
    let resource_id = pick("resourceId").ok_or("Config compliance change without resourceId")?;
    Ok(TriggerEvent::Compliance(ComplianceChange {
        rule_name,
        resource_type,
        resource_id,
    }))
}

/// The parts of a GuardDuty finding (EventBridge, camelCase) that name a resource.
/// `aws_lambda_events` has no GuardDuty type.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FindingDetail {
    id: String,
    r#type: String,
    severity: Value,
    updated_at: Value,
    resource: FindingResource,
    service: FindingService,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FindingResource {
    resource_type: String,
    s3_bucket_details: Vec<Value>,
    instance_details: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FindingService {
    archived: Value,
    resource_role: Value,
    additional_info: Value,
    action: Value,
}

fn parse_finding(detail: &Value) -> Result<TriggerEvent, String> {
    let raw: FindingDetail = serde_json::from_value(detail.clone())
        .map_err(|err| format!("malformed GuardDuty finding: {err}"))?;
    if raw.id.is_empty() || raw.r#type.is_empty() {
        return Err("GuardDuty finding without id or type".to_string());
    }
    if raw.service.archived.as_bool() == Some(true) {
        return Err(format!("GuardDuty finding {} is archived", raw.id));
    }
    if is_sample_finding(&raw.service.additional_info) {
        return Err(format!(
            "GuardDuty finding {} is a generated sample",
            raw.id
        ));
    }
    let buckets = raw
        .resource
        .s3_bucket_details
        .iter()
        .filter_map(|b| str_field(b, "name").map(String::from))
        .collect();
    let instance = &raw.resource.instance_details;
    let security_group_ids = instance
        .get("networkInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|nic| nic.get("securityGroups").and_then(Value::as_array))
        .flatten()
        .filter_map(|sg| str_field(sg, "groupId").map(String::from))
        .fold(Vec::new(), |mut ids: Vec<String>, id| {
            if !ids.contains(&id) {
                ids.push(id);
            }
            ids
        });
    Ok(TriggerEvent::Finding(Finding {
        id: raw.id,
        finding_type: raw.r#type,
        severity: match &raw.severity {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.parse().unwrap_or(0.0),
            _ => 0.0,
        },
        updated_at: raw.updated_at.as_str().unwrap_or("").to_string(),
        resource_type: raw.resource.resource_type,
        resource_role: raw.service.resource_role.as_str().map(String::from),
        buckets,
        instance_id: str_field(instance, "instanceId").map(String::from),
        security_group_ids,
        ports: finding_ports(&raw.service.action),
    }))
}

/// GuardDuty marks sample findings in `additionalInfo.sample`, or inside the JSON string
/// `additionalInfo.value` in the newer shape.
fn is_sample_finding(additional_info: &Value) -> bool {
    let sample_flag = |info: &Value| match info.get("sample") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if sample_flag(additional_info) {
        return true;
    }
    additional_info
        .get("value")
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .is_some_and(|inner| sample_flag(&inner))
}

fn finding_ports(action: &Value) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut add = |details: Option<&Value>| {
        if let Some(port) = details
            .and_then(|d| number_field(d, "port"))
            .and_then(|p| u16::try_from(p).ok())
        {
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
    };
    if let Some(probes) = action
        .pointer("/portProbeAction/portProbeDetails")
        .and_then(Value::as_array)
    {
        for probe in probes {
            add(probe.get("localPortDetails"));
        }
    }
    if let Some(connection) = action.get("networkConnectionAction") {
        if str_field(connection, "connectionDirection") != Some("OUTBOUND") {
            add(connection.get("localPortDetails"));
        }
    }
    ports
}

fn parse_config_rule(event: &Value) -> Result<Trigger, Ignored> {
    let invocation: ConfigEvent = serde_json::from_value(event.clone())
        .map_err(|err| Ignored::new(format!("malformed Config rule invocation: {err}"), None))?;
    let rule_name = invocation.config_rule_name.clone().unwrap_or_default();
    let decode = |name: &str, text: Option<&String>| -> Result<Value, Ignored> {
        match text.map(|t| t.trim()).filter(|t| !t.is_empty()) {
            None => Ok(Value::Object(Default::default())),
            Some(text) => serde_json::from_str(text).map_err(|err| {
                Ignored::new(format!("Config rule {name} is not JSON: {err}"), None)
            }),
        }
    };
    let invoking_event = decode("invokingEvent", invocation.invoking_event.as_ref())?;
    let rule_parameters = decode("ruleParameters", invocation.rule_parameters.as_ref())?;
    let account = invocation
        .account_id
        .clone()
        .or_else(|| str_field(&invoking_event, "awsAccountId").map(String::from))
        .unwrap_or_default();
    let region = invocation
        .config_rule_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(3))
        .unwrap_or("")
        .to_string();
    Ok(Trigger {
        source: Source::Config,
        event_id: invocation
            .config_rule_id
            .clone()
            .unwrap_or_else(|| rule_name.clone()),
        account,
        region,
        event: TriggerEvent::ConfigRule(ConfigRuleInvocation {
            rule_name,
            result_token: invocation.result_token.unwrap_or_default(),
            event_left_scope: invocation.event_left_scope,
            invoking_event,
            rule_parameters,
        }),
        account_name: None,
        message_id: None,
    })
}

/// Keeps one trigger per GuardDuty finding id (the most recently updated one); the others are
/// answered as duplicates.
fn dedupe_findings(parsed: Vec<Result<Trigger, Ignored>>) -> Vec<Result<Trigger, Ignored>> {
    let mut latest: HashMap<String, (usize, String)> = HashMap::new();
    for (index, entry) in parsed.iter().enumerate() {
        if let Ok(Trigger {
            event: TriggerEvent::Finding(finding),
            ..
        }) = entry
        {
            let newer = latest
                .get(&finding.id)
                .is_none_or(|(_, seen)| finding.updated_at >= *seen);
            if newer {
                latest.insert(finding.id.clone(), (index, finding.updated_at.clone()));
            }
        }
    }
    parsed
        .into_iter()
        .enumerate()
        .map(|(index, entry)| match &entry {
            Ok(Trigger {
                event: TriggerEvent::Finding(finding),
                ..
            }) if latest.get(&finding.id).map(|(keep, _)| *keep) != Some(index) => {
                Err(Ignored::new(
                    format!(
                        "duplicate of GuardDuty finding {} in this batch",
                        finding.id
                    ),
                    Some(&finding.id),
                ))
            }
            _ => entry,
        })
        .collect()
}

#[cfg(test)]
mod tests;
