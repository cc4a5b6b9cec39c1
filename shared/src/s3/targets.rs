//! Which buckets, objects and accounts an event points at (pure). A scheduled sweep lists the buckets
//! instead (`S3PublicAccess::targets`), and so does a change to the account's settings unless
//! `BLOCK_PUBLIC_ACCESS=always` makes the account a resource of its own.

use serde_json::Value;

use super::policy::public_group_of_uri;
use crate::invocation::Unrelated;
use crate::shape::{field_ignore_case, one_or_many, str_field, strings};
use crate::trigger::{ApiCall, Trigger, TriggerEvent};

/// Canned ACLs that grant to AllUsers or AuthenticatedUsers.
const PUBLIC_CANNED_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];
const GRANT_HEADERS: &[&str] = &[
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// A bucket, one object in it, an upload in progress, or the account's own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum S3Target {
    Bucket(String),
    Object {
        bucket: String,
        key: String,
    },
    /// A multipart upload started with a public ACL (`CreateMultipartUpload`): the object does not
    /// exist until the upload completes, so only the bucket's `IgnorePublicAcls` can keep it private.
    Upload {
        bucket: String,
        key: String,
    },
    /// The account-level Block Public Access settings of this account id.
    Account(String),
}

/// The buckets and objects an event points at, or why the event is not for this function.
pub fn targets_of(trigger: &Trigger) -> Result<Vec<S3Target>, Unrelated> {
    match &trigger.event {
        TriggerEvent::ApiCall(call) => api_call_targets(call, &trigger.account),
        TriggerEvent::Compliance(change) if change.resource_type == "AWS::S3::Bucket" => {
            Ok(vec![S3Target::Bucket(change.resource_id.clone())])
        }
        // Config names this resource by the account id.
        TriggerEvent::Compliance(change)
            if change.resource_type == "AWS::S3::AccountPublicAccessBlock" =>
        {
            account_target(
                Some(&change.resource_id)
                    .filter(|id| !id.is_empty())
                    .unwrap_or(&trigger.account),
            )
        }
        TriggerEvent::Compliance(change) => Err(Unrelated::new(format!(
            "Config rule {} is about {}, not an S3 bucket",
            change.rule_name, change.resource_type
        ))),
        TriggerEvent::Finding(finding)
            if finding.finding_type == "Policy:S3/AccountBlockPublicAccessDisabled" =>
        {
            account_target(&trigger.account)
        }
        TriggerEvent::Finding(finding) => {
            if !finding.finding_type.starts_with("Policy:S3/Bucket") {
                return Err(Unrelated::new(format!(
                    "GuardDuty finding type {} is not about a bucket's public access",
                    finding.finding_type
                )));
            }
            if finding.buckets.is_empty() {
                return Err(Unrelated::new(format!(
                    "GuardDuty finding {} names no bucket",
                    finding.id
                )));
            }
            Ok(finding
                .buckets
                .iter()
                .cloned()
                .map(S3Target::Bucket)
                .collect())
        }
        // Any control on a bucket; the account's own settings for the S3 controls (S3.1).
        TriggerEvent::SecurityHub(finding) => {
            let mut targets: Vec<S3Target> = finding
                .resources_of("AwsS3Bucket")
                .into_iter()
                .map(S3Target::Bucket)
                .collect();
            if finding.control_id.starts_with("S3.") {
                targets.extend(
                    finding
                        .resources_of("AwsAccount")
                        .into_iter()
                        .map(S3Target::Account),
                );
            }
            if targets.is_empty() {
                finding.resources_for("AwsS3Bucket", "an S3 bucket")?;
            }
            Ok(targets)
        }
        TriggerEvent::Schedule { .. } | TriggerEvent::Job(_) => Err(Unrelated::new(
            "scheduled sweeps list the buckets themselves",
        )),
        TriggerEvent::StateChange(_) | TriggerEvent::ConfigRule(_) => Err(Unrelated::new(format!(
            "{} events are not about S3",
            trigger.source
        ))),
    }
}

fn account_target(account: &str) -> Result<Vec<S3Target>, Unrelated> {
    if account.is_empty() {
        return Err(Unrelated::new("the event names no account"));
    }
    Ok(vec![S3Target::Account(account.to_string())])
}

fn api_call_targets(call: &ApiCall, account: &str) -> Result<Vec<S3Target>, Unrelated> {
    if call.event_source != "s3.amazonaws.com" {
        return Err(Unrelated::new(format!(
            "{} from {} is not an S3 call",
            call.event_name, call.event_source
        )));
    }
    let request = &call.request;
    // Account-level Block Public Access (CloudTrail names these apart from the API's PutPublicAccessBlock).
    match call.event_name.as_str() {
        "PutAccountPublicAccessBlock" if block_public_access_fully_on(request) => {
            return Err(Unrelated::new(
                "PutAccountPublicAccessBlock turned every protection on",
            ))
        }
        "PutAccountPublicAccessBlock" | "DeleteAccountPublicAccessBlock" => {
            return account_target(account)
        }
        _ => {}
    }
    let bucket = str_field(request, "bucketName")
        .map(String::from)
        .or_else(|| bucket_from_resources(call))
        .ok_or_else(|| Unrelated::new(format!("{} names no bucket", call.event_name)))?;
    match call.event_name.as_str() {
        "PutBucketAcl" | "CreateBucket" | "DeleteBucketPublicAccessBlock" | "PutBucketPolicy" => {
            Ok(vec![S3Target::Bucket(bucket)])
        }
        "PutBucketPublicAccessBlock" if block_public_access_fully_on(request) => Err(
            Unrelated::new("PutBucketPublicAccessBlock turned every protection on"),
        ),
        "PutBucketPublicAccessBlock" => Ok(vec![S3Target::Bucket(bucket)]),
        "PutObjectAcl" => Ok(vec![object_target(call, bucket)?]),
        "PutObject" | "CopyObject" if request_grants_public_access(request) => {
            Ok(vec![object_target(call, bucket)?])
        }
        "CreateMultipartUpload" if request_grants_public_access(request) => {
            match object_target(call, bucket)? {
                S3Target::Object { bucket, key } => Ok(vec![S3Target::Upload { bucket, key }]),
                other => Ok(vec![other]),
            }
        }
        "PutObject" | "CopyObject" | "CreateMultipartUpload" => Err(Unrelated::new(format!(
            "{} set no public ACL",
            call.event_name
        ))),
        other => Err(Unrelated::new(format!(
            "S3 call {other} does not change public access"
        ))),
    }
}

/// `requestParameters.key` as given; the object ARN in `resources` when the key is missing.
fn object_target(call: &ApiCall, bucket: String) -> Result<S3Target, Unrelated> {
    let key = str_field(&call.request, "key")
        .map(String::from)
        .or_else(|| {
            let prefix = format!("arn:aws:s3:::{bucket}/");
            call.resources
                .iter()
                .filter(|(kind, _)| kind == "AWS::S3::Object")
                .find_map(|(_, arn)| arn.strip_prefix(&prefix).map(String::from))
        });
    match key {
        Some(key) if !key.is_empty() => Ok(S3Target::Object { bucket, key }),
        _ => Err(Unrelated::new(format!(
            "{} names no object key",
            call.event_name
        ))),
    }
}

fn bucket_from_resources(call: &ApiCall) -> Option<String> {
    call.resources
        .iter()
        .find(|(kind, _)| kind == "AWS::S3::Bucket")
        .and_then(|(_, arn)| arn.strip_prefix("arn:aws:s3:::"))
        .map(String::from)
}

/// Whether a request's headers or body grant anything to AllUsers or AuthenticatedUsers.
pub fn request_grants_public_access(request: &Value) -> bool {
    let canned = strings(field_ignore_case(request, "x-amz-acl"))
        .iter()
        .any(|acl| PUBLIC_CANNED_ACLS.contains(&acl.trim()));
    let headers = GRANT_HEADERS.iter().any(|header| {
        strings(field_ignore_case(request, header))
            .iter()
            .any(|value| {
                value.contains("/global/AllUsers") || value.contains("/global/AuthenticatedUsers")
            })
    });
    let body = request
        .pointer("/AccessControlPolicy/AccessControlList")
        .map(|list| {
            one_or_many(list.get("Grant")).iter().any(|grant| {
                grant
                    .get("Grantee")
                    .and_then(|g| str_field(g, "URI"))
                    .is_some_and(|uri| public_group_of_uri(uri).is_some())
            })
        })
        .unwrap_or(false);
    canned || headers || body
}

/// True only when the request visibly sets all four settings to true (booleans or strings).
fn block_public_access_fully_on(request: &Value) -> bool {
    let Some(config) = request.get("PublicAccessBlockConfiguration") else {
        return false;
    };
    [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ]
    .iter()
    .all(|name| match config.get(*name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}
