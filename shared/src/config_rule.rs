//! The custom AWS Config rule: evaluates buckets, security groups and instances with the very
//! policies the remediations enforce (`s3::plan_acl`, `security_group::plan_group`,
//! `instance::plan_instance`), so Config shows exactly what the functions would fix.
//!
//! Three message types: a configuration item (evaluated from the item itself), an oversized item
//! (its current state is read with the remediations' own action layers), and a scheduled run
//! (every resource of the rule's types). Results go to Config with `PutEvaluations`, 100 at a time.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_config::types::{ComplianceType, Evaluation as SdkEvaluation};
use aws_sdk_s3::types::{Grant, Grantee, Permission, Type};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::config::{parse_required_tags, PortSet, Settings};
use crate::error::AwsError;
use crate::instance::{
    plan_instance, problems_text, required_tags_text, InstanceAction, InstanceActions,
    InstanceState,
};
use crate::s3::{plan_acl, S3Actions, ALL_USERS_URI, AUTHENTICATED_USERS_URI};
use crate::security_group::{plan_group, IngressRule, RuleSource, SecurityGroupActions};
use crate::shape::str_field;
use crate::trigger::{parse_payload, ConfigRuleInvocation, Trigger, TriggerEvent};

/// The IAM actions this rule needs: its own PutEvaluations, and the read-only calls it makes through
/// the remediations' action layers (never their changes).
pub const IAM_ACTIONS: &[&str] = &[
    "config:PutEvaluations",
    "s3:ListAllMyBuckets",
    "s3:GetBucketAcl",
    "s3:GetBucketTagging",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeInstances",
];

pub const BUCKET: &str = "AWS::S3::Bucket";
pub const SECURITY_GROUP: &str = "AWS::EC2::SecurityGroup";
pub const INSTANCE: &str = "AWS::EC2::Instance";
pub const RESOURCE_TYPES: [&str; 3] = [BUCKET, SECURITY_GROUP, INSTANCE];

/// Config's limits: evaluations per PutEvaluations call, characters per annotation.
const EVALUATIONS_PER_CALL: usize = 100;
const ANNOTATION_LIMIT: usize = 256;
/// Extra PutEvaluations rounds for evaluations Config reports back as failed.
const RETRY_ROUNDS: usize = 2;

const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

// ---------------------------------------------------------------------------------------------
// Rule parameters
// ---------------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
#[error("invalid rule parameter {name}={value}: {reason}")]
pub struct ParameterError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// The settings and resource types one rule evaluates with.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleScope {
    pub settings: Settings,
    pub resource_types: Vec<&'static str>,
}

/// The function's settings, overridden by the rule's `ruleParameters`
/// (`resourceTypes`, `allowedPublicPorts`, `requiredTags`, `exemptTag`).
pub fn rule_scope(defaults: &Settings, parameters: &Value) -> Result<RuleScope, ParameterError> {
    let mut scope = RuleScope {
        settings: defaults.clone(),
        resource_types: RESOURCE_TYPES.to_vec(),
    };
    let Some(parameters) = parameters.as_object() else {
        return Ok(scope);
    };
    for (name, value) in parameters {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        let error = |reason: String| ParameterError {
            name: name.clone(),
            value: text.clone(),
            reason,
        };
        match name.as_str() {
            "resourceTypes" => {
                let mut types = Vec::new();
                for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match RESOURCE_TYPES.iter().find(|t| **t == part) {
                        Some(t) => types.push(*t),
                        None => {
                            return Err(error(format!(
                                "{part} is not one of {}",
                                RESOURCE_TYPES.join(", ")
                            )))
                        }
                    }
                }
                if !types.is_empty() {
                    scope.resource_types = types;
                }
            }
            "allowedPublicPorts" => {
                scope.settings.allowed_public_ports = PortSet::parse(&text).map_err(error)?;
            }
            "requiredTags" => {
                scope.settings.required_tags = parse_required_tags(&text).map_err(error)?;
            }
            "exemptTag" => {
                if text.is_empty() {
                    return Err(error("the exemption tag key is empty".to_string()));
                }
                scope.settings.exempt_tag = text.clone();
            }
            _ => tracing::warn!(parameter = %name, "unknown rule parameter ignored"),
        }
    }
    Ok(scope)
}

// ---------------------------------------------------------------------------------------------
// Verdicts: the remediations' policies, answered as Config compliance
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    NonCompliant,
    NotApplicable,
}

impl Compliance {
    pub fn as_str(self) -> &'static str {
        match self {
            Compliance::Compliant => "COMPLIANT",
            Compliance::NonCompliant => "NON_COMPLIANT",
            Compliance::NotApplicable => "NOT_APPLICABLE",
        }
    }

    fn sdk(self) -> ComplianceType {
        match self {
            Compliance::Compliant => ComplianceType::Compliant,
            Compliance::NonCompliant => ComplianceType::NonCompliant,
            Compliance::NotApplicable => ComplianceType::NotApplicable,
        }
    }
}

pub type Verdict = (Compliance, String);

fn exempt(settings: &Settings, tag_keys: &[String], finding: &str) -> Option<Verdict> {
    tag_keys.contains(&settings.exempt_tag).then(|| {
        (
            Compliance::Compliant,
            format!("exempt (tag {}): {finding}", settings.exempt_tag),
        )
    })
}

/// What `open-security-group` would revoke.
pub fn security_group_verdict(
    tag_keys: &[String],
    rules: &[IngressRule],
    settings: &Settings,
) -> Verdict {
    let allowed = &settings.allowed_public_ports;
    let plan = plan_group(rules, allowed, &[]);
    if plan.is_compliant() {
        return (
            Compliance::Compliant,
            "no ingress open to the internet on disallowed ports".to_string(),
        );
    }
    let open: Vec<String> = plan
        .revoke
        .iter()
        .map(|r| format!("{} open to {}", r.traffic(), r.source_text()))
        .collect();
    let allowed = if allowed.ranges().is_empty() {
        "none".to_string()
    } else {
        allowed.to_string()
    };
    let finding = format!("{} (allowed public ports: {allowed})", open.join("; "));
    exempt(settings, tag_keys, &finding).unwrap_or((Compliance::NonCompliant, finding))
}

/// What `s3-public-access` would remove.
pub fn bucket_verdict(tag_keys: &[String], grants: &[Grant], settings: &Settings) -> Verdict {
    let plan = plan_acl(grants);
    if plan.is_compliant() {
        return (
            Compliance::Compliant,
            "no public grants in the bucket ACL".to_string(),
        );
    }
    let finding = plan.reason("bucket");
    exempt(settings, tag_keys, &finding).unwrap_or((Compliance::NonCompliant, finding))
}

/// What `untagged-instance` would stop (or mark). Instances that are not pending or running are
/// not applicable; Auto Scaling members are non-compliant although the function leaves them running.
pub fn instance_verdict(
    instance: &InstanceState,
    settings: &Settings,
    now: OffsetDateTime,
) -> Verdict {
    let plan = plan_instance(instance, settings, now);
    let required = required_tags_text(&settings.required_tags);
    let problems = problems_text(&plan.problems);
    match plan.action {
        InstanceAction::NotRunning => (
            Compliance::NotApplicable,
            format!("instance is {}", instance.state),
        ),
        InstanceAction::Compliant | InstanceAction::RemoveMark => (
            Compliance::Compliant,
            format!("carries the required tags ({required})"),
        ),
        InstanceAction::Exempt => (
            Compliance::Compliant,
            format!("exempt (tag {}): {problems}", settings.exempt_tag),
        ),
        InstanceAction::AutoScaling(group) => (
            Compliance::NonCompliant,
            format!(
                "{problems}; Auto Scaling group {group}: fix its launch template (not stopped)"
            ),
        ),
        InstanceAction::Stop { .. } | InstanceAction::Mark(_) | InstanceAction::Wait(_) => (
            Compliance::NonCompliant,
            format!("{problems} (required: {required})"),
        ),
    }
}

/// At most 256 characters, cut on a character boundary.
pub fn annotation(text: &str) -> String {
    if text.chars().count() <= ANNOTATION_LIMIT {
        return text.to_string();
    }
    let cut: String = text.chars().take(ANNOTATION_LIMIT - 3).collect();
    format!("{cut}...")
}

// ---------------------------------------------------------------------------------------------
// Configuration items (pure)
// ---------------------------------------------------------------------------------------------

/// One result for Config.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub resource_type: String,
    pub resource_id: String,
    pub compliance: Compliance,
    pub annotation: String,
    /// RFC 3339: when the evaluated state was captured.
    pub ordering_timestamp: String,
}

impl Evaluation {
    pub fn new(
        resource_type: &str,
        resource_id: &str,
        (compliance, why): Verdict,
        ordering_timestamp: &str,
    ) -> Self {
        Evaluation {
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            compliance,
            annotation: annotation(&why),
            ordering_timestamp: ordering_timestamp.to_string(),
        }
    }
}

/// The item's tags: Config's `tags` map.
fn item_tags(item: &Value) -> Vec<(String, String)> {
    item.get("tags")
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn keys(tags: &[(String, String)]) -> Vec<String> {
    tags.iter().map(|(k, _)| k.clone()).collect()
}

/// Ingress rules from a security group item's `configuration.ipPermissions` (rule ids are not in
/// the item; the verdict does not need them).
pub fn rules_from_item(configuration: &Value) -> Vec<IngressRule> {
    let mut rules = Vec::new();
    for permission in configuration
        .get("ipPermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let protocol = str_field(permission, "ipProtocol")
            .unwrap_or("-1")
            .to_string();
        let port = |name: &str| {
            permission
                .get(name)
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(-1)
        };
        let rule = |source: RuleSource| IngressRule {
            rule_id: String::new(),
            protocol: protocol.clone(),
            from_port: port("fromPort"),
            to_port: port("toPort"),
            source,
        };
        // `ipv4Ranges` (objects) is the current field; older items only have `ipRanges` (strings).
        let v4: Vec<String> = match permission.get("ipv4Ranges").and_then(Value::as_array) {
            Some(ranges) => ranges
                .iter()
                .filter_map(|r| str_field(r, "cidrIp").map(String::from))
                .collect(),
            None => permission
                .get("ipRanges")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().or_else(|| str_field(r, "cidrIp")))
                .map(String::from)
                .collect(),
        };
        rules.extend(v4.into_iter().map(|c| rule(RuleSource::Ipv4(c))));
        for range in permission
            .get("ipv6Ranges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(cidr) = str_field(range, "cidrIpv6") {
                rules.push(rule(RuleSource::Ipv6(cidr.to_string())));
            }
        }
        for other in ["prefixListIds", "userIdGroupPairs"] {
            for entry in permission
                .get(other)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = str_field(entry, "prefixListId")
                    .or_else(|| str_field(entry, "groupId"))
                    .unwrap_or(other);
                rules.push(rule(RuleSource::Other(id.to_string())));
            }
        }
    }
    rules
}

/// Grants from a bucket item's `supplementaryConfiguration.AccessControlList` (a JSON string of
/// `grantList` entries whose grantee is `"AllUsers"`, `"AuthenticatedUsers"`, `"LogDelivery"` or
/// `{"id": ...}`, with permissions like `Read`, `FullControl`).
pub fn grants_from_item(supplementary: &Value) -> Vec<Grant> {
    let acl = match supplementary.get("AccessControlList") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    ["grantList", "grantSet"]
        .iter()
        .filter_map(|field| acl.get(*field).and_then(Value::as_array))
        .flatten()
        .filter_map(config_grant)
        .collect()
}

fn config_grant(entry: &Value) -> Option<Grant> {
    let grantee = match entry.get("grantee")? {
        Value::String(group) => {
            let uri = match group.as_str() {
                "AllUsers" => ALL_USERS_URI,
                "AuthenticatedUsers" => AUTHENTICATED_USERS_URI,
                "LogDelivery" => LOG_DELIVERY_URI,
                other => other,
            };
            Grantee::builder()
                .r#type(Type::Group)
                .uri(uri)
                .build()
                .ok()?
        }
        object => {
            let id = str_field(object, "id").or_else(|| str_field(object, "identifier"))?;
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(id)
                .build()
                .ok()?
        }
    };
    let permission = match str_field(entry, "permission")? {
        "FullControl" => "FULL_CONTROL",
        "Read" => "READ",
        "Write" => "WRITE",
        "ReadAcp" => "READ_ACP",
        "WriteAcp" => "WRITE_ACP",
        other => other,
    };
    Some(
        Grant::builder()
            .grantee(grantee)
            .permission(Permission::from(permission))
            .build(),
    )
}

/// Evaluates one configuration item from its own content.
pub fn evaluate_item(item: &Value, scope: &RuleScope, now: OffsetDateTime) -> Option<Evaluation> {
    let resource_type = str_field(item, "resourceType")?;
    let resource_id = str_field(item, "resourceId")?;
    let captured = str_field(item, "configurationItemCaptureTime").unwrap_or("");
    let status = str_field(item, "configurationItemStatus").unwrap_or("OK");
    let evaluation = |verdict| {
        Some(Evaluation::new(
            resource_type,
            resource_id,
            verdict,
            captured,
        ))
    };
    if !scope.resource_types.contains(&resource_type) {
        return evaluation((
            Compliance::NotApplicable,
            format!("{resource_type} is not evaluated by this rule"),
        ));
    }
    if status.starts_with("ResourceDeleted") || status == "ResourceNotRecorded" {
        return evaluation((
            Compliance::NotApplicable,
            format!("resource status {status}"),
        ));
    }
    let configuration = item.get("configuration").unwrap_or(&Value::Null);
    let tags = item_tags(item);
    let settings = &scope.settings;
    evaluation(match resource_type {
        SECURITY_GROUP => {
            security_group_verdict(&keys(&tags), &rules_from_item(configuration), settings)
        }
        BUCKET => {
            let supplementary = item
                .get("supplementaryConfiguration")
                .unwrap_or(&Value::Null);
            bucket_verdict(&keys(&tags), &grants_from_item(supplementary), settings)
        }
        _ => {
            let state = configuration
                .pointer("/state/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let instance = InstanceState {
                instance_id: resource_id.to_string(),
                state,
                tags,
            };
            instance_verdict(&instance, settings, now)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The function
// ---------------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum ConfigRuleError {
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Rejected(String),
}

pub struct ConfigRule {
    s3: S3Actions,
    groups: SecurityGroupActions,
    instances: InstanceActions,
    config: aws_sdk_config::Client,
    defaults: Settings,
    clock: fn() -> OffsetDateTime,
}

impl ConfigRule {
    pub fn from_sdk_config(sdk: &SdkConfig, defaults: Settings) -> Self {
        ConfigRule {
            s3: S3Actions::from_sdk_config(sdk),
            groups: SecurityGroupActions::from_sdk_config(sdk),
            instances: InstanceActions::from_sdk_config(sdk),
            config: aws_sdk_config::Client::new(sdk),
            defaults,
            clock: OffsetDateTime::now_utc,
        }
    }

    pub fn from_clients(
        s3: S3Actions,
        groups: SecurityGroupActions,
        instances: InstanceActions,
        config: aws_sdk_config::Client,
        defaults: Settings,
    ) -> Self {
        ConfigRule {
            s3,
            groups,
            instances,
            config,
            defaults,
            clock: OffsetDateTime::now_utc,
        }
    }

    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// Handles one Lambda payload: evaluates and reports every Config rule invocation in it.
    /// Anything else is answered as ignored; bad parameters and AWS failures are errors.
    pub async fn handle(&self, payload: &Value) -> Result<Value, ConfigRuleError> {
        let mut results = Vec::new();
        for parsed in parse_payload(payload) {
            let trigger = match parsed {
                Ok(trigger) => trigger,
                Err(ignored) => {
                    tracing::info!(reason = %ignored.reason, "event ignored");
                    results.push(json!({"status": "ignored", "reason": ignored.reason}));
                    continue;
                }
            };
            let TriggerEvent::ConfigRule(invocation) = &trigger.event else {
                let reason = format!(
                    "{} events are for the remediation functions, not the Config rule",
                    trigger.source
                );
                tracing::info!(%reason, "event ignored");
                results.push(json!({"status": "ignored", "reason": reason}));
                continue;
            };
            results.push(self.evaluate_and_report(&trigger, invocation).await?);
        }
        let status = if results.iter().all(|r| r["status"] == "ignored") {
            "ignored"
        } else {
            "done"
        };
        Ok(json!({"function": "config-rule", "status": status, "results": results}))
    }

    async fn evaluate_and_report(
        &self,
        trigger: &Trigger,
        invocation: &ConfigRuleInvocation,
    ) -> Result<Value, ConfigRuleError> {
        let scope = rule_scope(&self.defaults, &invocation.rule_parameters)?;
        let event = &invocation.invoking_event;
        let message_type = str_field(event, "messageType").unwrap_or("");
        let now = (self.clock)();
        let notified = str_field(event, "notificationCreationTime")
            .map(String::from)
            .unwrap_or_else(|| rfc3339(now));
        let (evaluations, unreadable) = match message_type {
            "ConfigurationItemChangeNotification" => {
                let item = event.get("configurationItem").unwrap_or(&Value::Null);
                let mut evaluation = evaluate_item(item, &scope, now).ok_or_else(|| {
                    ConfigRuleError::Rejected("the configuration item names no resource".into())
                })?;
                if invocation.event_left_scope {
                    evaluation.compliance = Compliance::NotApplicable;
                    evaluation.annotation = "the resource left the rule's scope".to_string();
                }
                (vec![evaluation], Vec::new())
            }
            "OversizedConfigurationItemChangeNotification" => {
                let summary = event
                    .get("configurationItemSummary")
                    .unwrap_or(&Value::Null);
                let (Some(resource_type), Some(resource_id)) = (
                    str_field(summary, "resourceType"),
                    str_field(summary, "resourceId"),
                ) else {
                    return Err(ConfigRuleError::Rejected(
                        "the oversized item summary names no resource".into(),
                    ));
                };
                let captured =
                    str_field(summary, "configurationItemCaptureTime").unwrap_or(&notified);
                let status = str_field(summary, "configurationItemStatus").unwrap_or("OK");
                let verdict = if invocation.event_left_scope {
                    (
                        Compliance::NotApplicable,
                        "the resource left the rule's scope".to_string(),
                    )
                } else if status.starts_with("ResourceDeleted") {
                    (
                        Compliance::NotApplicable,
                        format!("resource status {status}"),
                    )
                } else if !scope.resource_types.contains(&resource_type) {
                    (
                        Compliance::NotApplicable,
                        format!("{resource_type} is not evaluated by this rule"),
                    )
                } else {
                    self.current_verdict(resource_type, resource_id, &scope.settings, now)
                        .await?
                };
                (
                    vec![Evaluation::new(
                        resource_type,
                        resource_id,
                        verdict,
                        captured,
                    )],
                    Vec::new(),
                )
            }
            "ScheduledNotification" => {
                self.evaluate_all(&scope, &trigger.region, &notified, now)
                    .await?
            }
            other => {
                return Err(ConfigRuleError::Rejected(format!(
                    "unknown Config message type {other:?}"
                )))
            }
        };
        self.put_evaluations(&invocation.result_token, &evaluations)
            .await?;
        let mut summary: BTreeMap<&str, usize> = BTreeMap::new();
        for evaluation in &evaluations {
            *summary.entry(evaluation.compliance.as_str()).or_default() += 1;
            tracing::info!(
                resource_type = %evaluation.resource_type,
                resource_id = %evaluation.resource_id,
                compliance = evaluation.compliance.as_str(),
                annotation = %evaluation.annotation,
                "evaluation"
            );
        }
        Ok(json!({
            "status": "done",
            "rule": invocation.rule_name,
            "message_type": message_type,
            "summary": summary,
            "unreadable": unreadable,
            "evaluations": evaluations,
        }))
    }

    /// The verdict on one resource's current state, read as the remediation reads it.
    async fn current_verdict(
        &self,
        resource_type: &str,
        resource_id: &str,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> Result<Verdict, AwsError> {
        let gone = |err: &AwsError| {
            (
                Compliance::NotApplicable,
                format!("resource no longer exists ({err})"),
            )
        };
        match resource_type {
            SECURITY_GROUP => match self.groups.group_state(resource_id).await {
                Ok(state) => Ok(security_group_verdict(
                    &state.tag_keys,
                    &state.ingress,
                    settings,
                )),
                Err(err) if err.is_not_found() => Ok(gone(&err)),
                Err(err) => Err(err),
            },
            BUCKET => match self.bucket_state(resource_id).await {
                Ok((tag_keys, grants)) => Ok(bucket_verdict(&tag_keys, &grants, settings)),
                Err(err) if err.is_not_found() => Ok(gone(&err)),
                Err(err) => Err(err),
            },
            _ => {
                let found = self.instances.instances(&[resource_id.to_string()]).await?;
                Ok(match found.first() {
                    Some(instance) => instance_verdict(instance, settings, now),
                    None => (
                        Compliance::NotApplicable,
                        "instance no longer exists".to_string(),
                    ),
                })
            }
        }
    }

    async fn bucket_state(&self, bucket: &str) -> Result<(Vec<String>, Vec<Grant>), AwsError> {
        let acl = self.s3.bucket_acl(bucket).await?;
        let tag_keys = self.s3.bucket_tag_keys(bucket).await?;
        Ok((tag_keys, acl.grants))
    }

    /// Every resource of the rule's types in the region. Buckets that cannot be read for a
    /// permanent reason are left out (and listed), not guessed.
    async fn evaluate_all(
        &self,
        scope: &RuleScope,
        region: &str,
        notified: &str,
        now: OffsetDateTime,
    ) -> Result<(Vec<Evaluation>, Vec<String>), AwsError> {
        let settings = &scope.settings;
        let mut evaluations = Vec::new();
        let mut unreadable = Vec::new();
        if scope.resource_types.contains(&SECURITY_GROUP) {
            for (group_id, state) in self.groups.all_groups().await? {
                let verdict = security_group_verdict(&state.tag_keys, &state.ingress, settings);
                evaluations.push(Evaluation::new(
                    SECURITY_GROUP,
                    &group_id,
                    verdict,
                    notified,
                ));
            }
        }
        if scope.resource_types.contains(&INSTANCE) {
            for instance in self.instances.running_instances().await? {
                let verdict = instance_verdict(&instance, settings, now);
                evaluations.push(Evaluation::new(
                    INSTANCE,
                    &instance.instance_id,
                    verdict,
                    notified,
                ));
            }
        }
        if scope.resource_types.contains(&BUCKET) {
            let region = Some(region).filter(|r| !r.is_empty());
            for bucket in self.s3.list_buckets(region).await? {
                match self.bucket_state(&bucket).await {
                    Ok((tag_keys, grants)) => {
                        let verdict = bucket_verdict(&tag_keys, &grants, settings);
                        evaluations.push(Evaluation::new(BUCKET, &bucket, verdict, notified));
                    }
                    Err(err) if err.is_transient() => return Err(err),
                    // Deleted since the listing: nothing to report.
                    Err(err) if err.is_not_found() => {}
                    Err(err) => {
                        tracing::error!(error = %err, bucket, "bucket not evaluated");
                        unreadable.push(format!("{bucket}: {err}"));
                    }
                }
            }
        }
        Ok((evaluations, unreadable))
    }

    /// Sends evaluations 100 per call; evaluations Config reports as failed are sent again
    /// (twice at most), then the invocation fails so that Lambda retries it.
    pub async fn put_evaluations(
        &self,
        result_token: &str,
        evaluations: &[Evaluation],
    ) -> Result<(), ConfigRuleError> {
        let mut pending: Vec<SdkEvaluation> = evaluations
            .iter()
            .map(sdk_evaluation)
            .collect::<Result<_, _>>()?;
        for round in 0..=RETRY_ROUNDS {
            let mut failed = Vec::new();
            for batch in pending.chunks(EVALUATIONS_PER_CALL) {
                let output = self
                    .config
                    .put_evaluations()
                    .result_token(result_token)
                    .set_evaluations(Some(batch.to_vec()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("PutEvaluations", e))?;
                failed.extend(output.failed_evaluations().iter().cloned());
            }
            if failed.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                failed = failed.len(),
                round,
                "Config did not accept some evaluations"
            );
            pending = failed;
        }
        Err(ConfigRuleError::Rejected(format!(
            "Config kept rejecting {} evaluation(s), e.g. {}",
            pending.len(),
            pending
                .first()
                .map(|e| e.compliance_resource_id())
                .unwrap_or("?")
        )))
    }
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn sdk_evaluation(evaluation: &Evaluation) -> Result<SdkEvaluation, ConfigRuleError> {
    let ordering = DateTime::from_str(&evaluation.ordering_timestamp, Format::DateTime)
        .unwrap_or_else(|_| DateTime::from(std::time::SystemTime::now()));
    SdkEvaluation::builder()
        .compliance_resource_type(&evaluation.resource_type)
        .compliance_resource_id(&evaluation.resource_id)
        .compliance_type(evaluation.compliance.sdk())
        .annotation(&evaluation.annotation)
        .ordering_timestamp(ordering)
        .build()
        .map_err(|e| ConfigRuleError::Rejected(format!("evaluation not buildable: {e}")))
}

#[cfg(test)]
mod tests;
