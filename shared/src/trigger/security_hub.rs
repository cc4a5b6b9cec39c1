//! Security Hub findings (ASFF) from EventBridge: `Security Hub Findings - Imported` (every new or
//! updated finding) and `Security Hub Findings - Custom Action` (a person chose a custom action on
//! findings in the console). Both carry findings in `detail.findings[]` (AWS Security Hub User Guide,
//! "EventBridge event formats for Security Hub CSPM"); each finding becomes one trigger, in the finding's
//! own account and region (`AwsAccountId`, `Region`: an administrator or aggregation region receives
//! its members' and linked regions' findings under its own envelope).

use serde::Deserialize;
use serde_json::Value;

use super::{Ignored, Source, Trigger, TriggerEvent};
use crate::invocation::Unrelated;
use crate::shape::str_field;

pub const IMPORTED: &str = "Security Hub Findings - Imported";
pub const CUSTOM_ACTION: &str = "Security Hub Findings - Custom Action";

/// A failed control check, reduced to what identifies the finding, its control and its resources.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlFinding {
    /// `Id` and `ProductArn`: together they name the finding to `BatchUpdateFindings`.
    pub id: String,
    pub product_arn: String,
    /// `Compliance.SecurityControlId` (consolidated control findings), else `ProductFields.ControlId`
    /// (standard-specific findings), else the last part of `GeneratorId`.
    pub control_id: String,
    pub title: String,
    pub resources: Vec<FindingResource>,
    /// The account and region whose Security Hub sent the event: where the finding is updated (an
    /// administrator account may update its members' findings; an aggregation region, its linked
    /// regions').
    pub hub_account: String,
    pub hub_region: String,
    /// The custom action a person chose, when the event is one.
    pub action: Option<CustomAction>,
    /// `Note.UpdatedBy` and whether the note is at least as recent as the finding's `UpdatedAt`: a
    /// `BatchUpdateFindings` leaves `UpdatedAt` alone and sends the finding again as an Imported event,
    /// so a note newer than the finding is that update coming back, not a new check.
    pub note_by: Option<String>,
    pub note_is_latest: bool,
}

/// One `Resources[]` entry: its ASFF type and the id the functions use (bucket name, group id,
/// instance id, account id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingResource {
    pub kind: String,
    pub id: String,
}

/// A Security Hub custom action: a person asked for this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomAction {
    pub name: String,
    pub arn: String,
}

impl ControlFinding {
    /// Whether this finding is this function's own update of it coming back (see `note_is_latest`). A
    /// custom action is a person's request, never an echo.
    pub fn is_echo_of(&self, function: &str) -> bool {
        self.action.is_none() && self.note_is_latest && self.note_by.as_deref() == Some(function)
    }

    /// The ids of the resources of one ASFF type.
    pub fn resources_of(&self, kind: &str) -> Vec<String> {
        self.resources
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.id.clone())
            .collect()
    }

    /// The ids of the resources of one ASFF type (`noun`: how a person names it), or why the finding
    /// is not for the function that handles that type.
    pub fn resources_for(&self, kind: &str, noun: &str) -> Result<Vec<String>, Unrelated> {
        let ids = self.resources_of(kind);
        if ids.is_empty() {
            let kinds: Vec<&str> = self.resources.iter().map(|r| r.kind.as_str()).collect();
            return Err(Unrelated::new(format!(
                "Security Hub finding for control {} is about {}, not {noun}",
                self.control_id,
                kinds.join(", ")
            )));
        }
        Ok(ids)
    }
}

/// The ASFF fields read here (PascalCase, as the format spells them). `Value` where a finding from
/// another product may carry another shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Asff {
    id: String,
    product_arn: String,
    generator_id: String,
    aws_account_id: String,
    region: String,
    title: String,
    updated_at: String,
    record_state: String,
    workflow: Value,
    workflow_state: String,
    compliance: Value,
    product_fields: Value,
    resources: Vec<Value>,
    note: Value,
}

/// Every finding of a Security Hub event, each a trigger or the reason it is ignored.
pub fn parse(envelope: &Value) -> Vec<Result<Trigger, Ignored>> {
    let event_id = str_field(envelope, "id").unwrap_or_default();
    let detail_type = str_field(envelope, "detail-type").unwrap_or_default();
    let hub_account = str_field(envelope, "account").unwrap_or_default();
    let hub_region = str_field(envelope, "region").unwrap_or_default();
    let action = (detail_type == CUSTOM_ACTION).then(|| CustomAction {
        name: envelope
            .pointer("/detail/actionName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        arn: envelope
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    });
    let findings = match envelope.pointer("/detail/findings") {
        Some(Value::Array(findings)) if !findings.is_empty() => findings,
        _ => {
            return vec![Err(Ignored::new(
                format!("{detail_type} event carries no findings"),
                Some(event_id),
            ))]
        }
    };
    findings
        .iter()
        .map(|raw| {
            let finding: Asff = serde_json::from_value(raw.clone()).map_err(|err| {
                Ignored::new(
                    format!("malformed Security Hub finding: {err}"),
                    Some(event_id),
                )
            })?;
            let reported_id = if finding.id.is_empty() {
                event_id.to_string()
            } else {
                finding.id.clone()
            };
            let (found, account, region) =
                control_finding(finding, hub_account, hub_region, action.clone())
                    .map_err(|reason| Ignored::new(reason, Some(&reported_id)))?;
            Ok(Trigger {
                source: Source::Securityhub,
                event_id: found.id.clone(),
                account,
                region,
                event: TriggerEvent::SecurityHub(found),
                account_name: None,
                message_id: None,
            })
        })
        .collect()
}

/// The finding, with the account and region of its resources; or why it is
/// not one to act on.
fn control_finding(
    finding: Asff,
    hub_account: &str,
    hub_region: &str,
    action: Option<CustomAction>,
) -> Result<(ControlFinding, String, String), String> {
    if finding.id.is_empty() || finding.product_arn.is_empty() {
        return Err("Security Hub finding without Id or ProductArn".to_string());
    }
    let id = &finding.id;
    let compliance = str_field(&finding.compliance, "Status").unwrap_or("");
    match compliance {
        "FAILED" => {}
        "" => {
            return Err(format!(
                "Security Hub finding {id} is not a control check (no Compliance.Status)"
            ))
        }
        other => {
            return Err(format!(
                "Security Hub finding {id} is {other}: nothing to fix"
            ))
        }
    }
    if finding.record_state != "ACTIVE" {
        return Err(format!(
            "Security Hub finding {id} is {}",
            if finding.record_state.is_empty() {
                "without a RecordState"
            } else {
                &finding.record_state
            }
        ));
    }
    // `WorkflowState` is the deprecated field; `Workflow.Status` replaces it.
    let workflow = str_field(&finding.workflow, "Status")
        .unwrap_or(&finding.workflow_state)
        .to_string();
    if matches!(workflow.as_str(), "SUPPRESSED" | "RESOLVED") {
        return Err(format!(
            "Security Hub finding {id} is {workflow} in Security Hub: left as people set it"
        ));
    }
    let control_id = str_field(&finding.compliance, "SecurityControlId")
        .or_else(|| str_field(&finding.product_fields, "ControlId"))
        .map(String::from)
        .unwrap_or_else(|| {
            finding
                .generator_id
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        });
    let account = Some(finding.aws_account_id.clone())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| hub_account.to_string());
    let region = Some(finding.region.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| hub_region.to_string());
    let resources = finding
        .resources
        .iter()
        .filter_map(|r| resource(r, &account))
        .collect::<Vec<_>>();
    if resources.is_empty() {
        return Err(format!("Security Hub finding {id} names no resource"));
    }
    let note_by = str_field(&finding.note, "UpdatedBy").map(String::from);
    // ASFF times are RFC 3339 (with or without fractions of a second); a note or finding without a
    // readable time is not an echo.
    let note_is_latest = match (
        str_field(&finding.note, "UpdatedAt").and_then(rfc3339),
        rfc3339(&finding.updated_at),
    ) {
        (Some(note), Some(finding)) => note >= finding,
        _ => false,
    };
    let found = ControlFinding {
        id: finding.id,
        product_arn: finding.product_arn,
        control_id,
        title: finding.title,
        resources,
        hub_account: hub_account.to_string(),
        hub_region: hub_region.to_string(),
        action,
        note_by,
        note_is_latest,
    };
    Ok((found, account, region))
}

fn rfc3339(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// One `Resources[]` entry with the id the functions use: a bucket's name from `arn:aws:s3:::name`, a
/// group's id from its details or its ARN, an instance's id from its ARN, an account's id from
/// `AWS::::Account:<id>`.
fn resource(entry: &Value, account: &str) -> Option<FindingResource> {
    let kind = str_field(entry, "Type")?.to_string();
    let arn = str_field(entry, "Id").unwrap_or_default();
    let after = |marker: &str| arn.rsplit_once(marker).map(|(_, id)| id.to_string());
    let id = match kind.as_str() {
        "AwsS3Bucket" => after(":::").or_else(|| {
            entry
                .pointer("/Details/AwsS3Bucket/Name")
                .and_then(Value::as_str)
                .map(String::from)
        }),
        "AwsEc2SecurityGroup" => entry
            .pointer("/Details/AwsEc2SecurityGroup/GroupId")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| after("security-group/")),
        "AwsEc2Instance" => after("instance/"),
        "AwsAccount" => after(":")
            .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
            .or_else(|| Some(account.to_string())),
        _ => Some(arn.to_string()),
    }?;
    (!id.is_empty()).then_some(FindingResource { kind, id })
}
