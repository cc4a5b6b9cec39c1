//! The AWS side of `remediation-undo`: reading each recorded part of a resource as it is now, and
//! making the recorded calls. Reads go through the remediations' own actions, so a part reads exactly
//! as the remediation read it; the writes only an undo makes are here.

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};
use serde_json::{json, Value};

use super::restore::Call;
use crate::error::{AwsError, ErrorKind};
use crate::instance::{undo::tags_json, InstanceActions, STOP_AFTER_TAG};
use crate::outcome::ResourceType;
use crate::s3::{self, undo as s3_undo, S3Actions};
use crate::security_group::{undo::rule_json, SecurityGroupActions};

/// What a person running `remediation-undo` needs: the reads that compare the resource with the
/// message, and the writes that restore it (documented in `docs/undo.md`).
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetBucketAcl",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetObjectAcl",
    "s3:GetAccountPublicAccessBlock",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutAccountPublicAccessBlock",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:DescribeInstances",
    "ec2:StartInstances",
    "ec2:CreateTags",
    "ec2:DeleteTags",
];

pub struct UndoActions {
    s3: S3Actions,
    groups: SecurityGroupActions,
    instances: InstanceActions,
    ec2: aws_sdk_ec2::Client,
}

impl UndoActions {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        UndoActions {
            s3: S3Actions::from_sdk_config(sdk),
            groups: SecurityGroupActions::from_sdk_config(sdk),
            instances: InstanceActions::from_sdk_config(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }

    /// One part of the resource as it is now, in the shape the message recorded it.
    pub async fn read_part(
        &self,
        resource_type: ResourceType,
        resource_id: &str,
        part: &str,
    ) -> Result<Value, AwsError> {
        let (bucket, key) = resource_id.split_once('/').unwrap_or((resource_id, ""));
        match (resource_type, part) {
            (ResourceType::S3Bucket, "acl") => {
                Ok(s3_undo::acl_json(&self.s3.bucket_acl(bucket).await?))
            }
            (ResourceType::S3Object, "acl") => {
                Ok(s3_undo::acl_json(&self.s3.object_acl(bucket, key).await?))
            }
            (ResourceType::S3Bucket, "policy") => {
                Ok(json!(self.s3.bucket_policy(bucket).await?.map(|p| p.text)))
            }
            (ResourceType::S3Bucket | ResourceType::S3Object, "block_public_access") => {
                Ok(s3_undo::block_public_access_json(
                    self.s3.public_access_block(bucket).await?.as_ref(),
                ))
            }
            (ResourceType::S3Account, "block_public_access") => {
                Ok(s3_undo::block_public_access_json(
                    self.s3
                        .account_public_access_block(resource_id)
                        .await?
                        .as_ref(),
                ))
            }
            (ResourceType::SecurityGroup, "ingress") => {
                let state = self.groups.group_state(resource_id).await?;
                Ok(Value::Array(state.ingress.iter().map(rule_json).collect()))
            }
            (ResourceType::Ec2Instance, "state" | "stop_after" | "tags") => {
                let ids = [resource_id.to_string()];
                let Some(instance) = self.instances.instances(&ids).await?.pop() else {
                    return Err(AwsError::new(
                        "DescribeInstances",
                        ErrorKind::NotFound,
                        Some("InvalidInstanceID.NotFound"),
                        format!("instance {resource_id} does not exist"),
                    ));
                };
                Ok(match part {
                    // A stop in progress is the stop the remediation made; a start in progress is
                    // the state before it.
                    "state" => json!(match instance.state.as_str() {
                        "stopping" => "stopped",
                        "pending" => "running",
                        other => other,
                    }),
                    "stop_after" => json!(instance.tag(STOP_AFTER_TAG)),
                    _ => tags_json(&instance.tags),
                })
            }
            (resource_type, part) => Err(unreadable(format!(
                "a {} has no part {part} this tool can read",
                resource_type.as_str()
            ))),
        }
    }

    /// Makes one recorded call.
    pub async fn call(&self, call: &Call) -> Result<(), AwsError> {
        let p = &call.parameters;
        let text = |name: &str| {
            p[name]
                .as_str()
                .map(String::from)
                .ok_or_else(|| unreadable(format!("{} without {name}", call.operation)))
        };
        let block = || s3_undo::block_public_access_from_json(&p["PublicAccessBlockConfiguration"]);
        match (call.service.as_str(), call.operation.as_str()) {
            ("s3", "PutBucketAcl") => {
                let acl = acl(&p["AccessControlPolicy"])?;
                self.s3.put_bucket_acl(&text("Bucket")?, &acl).await
            }
            ("s3", "PutObjectAcl") => {
                let acl = acl(&p["AccessControlPolicy"])?;
                self.s3
                    .put_object_acl(&text("Bucket")?, &text("Key")?, &acl)
                    .await
            }
            ("s3", "PutBucketPolicy") => {
                self.s3
                    .put_bucket_policy(&text("Bucket")?, &text("Policy")?)
                    .await
            }
            ("s3", "PutPublicAccessBlock" | "DeletePublicAccessBlock") => {
                self.s3
                    .set_public_access_block(&text("Bucket")?, block().as_ref())
                    .await
            }
            ("s3control", "PutPublicAccessBlock" | "DeletePublicAccessBlock") => {
                self.s3
                    .set_account_public_access_block(&text("AccountId")?, block().as_ref())
                    .await
            }
            ("ec2", "AuthorizeSecurityGroupIngress") => {
                self.ec2
                    .authorize_security_group_ingress()
                    .group_id(text("GroupId")?)
                    .set_ip_permissions(Some(permissions(&p["IpPermissions"])))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("AuthorizeSecurityGroupIngress", e))?;
                Ok(())
            }
            ("ec2", "RevokeSecurityGroupIngress") => {
                self.ec2
                    .revoke_security_group_ingress()
                    .group_id(text("GroupId")?)
                    .set_ip_permissions(Some(permissions(&p["IpPermissions"])))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
                Ok(())
            }
            ("ec2", "StartInstances") => {
                self.ec2
                    .start_instances()
                    .set_instance_ids(Some(strings(&p["InstanceIds"])))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("StartInstances", e))?;
                Ok(())
            }
            ("ec2", "CreateTags" | "DeleteTags") => {
                let tags = p["Tags"].as_array().cloned().unwrap_or_default();
                for tag in tags {
                    let key = tag["Key"].as_str().unwrap_or_default();
                    let ids = strings(&p["Resources"]);
                    let results = match tag["Value"].as_str() {
                        Some(value) if call.operation == "CreateTags" => {
                            self.instances.tag(&ids, key, value).await
                        }
                        _ => self.instances.untag(&ids, key).await,
                    };
                    for result in results.into_values() {
                        result?;
                    }
                }
                Ok(())
            }
            (service, operation) => Err(unreadable(format!(
                "{service} {operation} is not a call remediation-undo makes"
            ))),
        }
    }
}

fn acl(value: &Value) -> Result<s3::Acl, AwsError> {
    s3_undo::acl_from_json(value)
        .ok_or_else(|| unreadable("an AccessControlPolicy that is not one"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `IpPermissions` as recorded (one source per permission, as `rule_json` writes them).
fn permissions(value: &Value) -> Vec<IpPermission> {
    let text = |v: &Value, name: &str| v[name].as_str().map(String::from);
    let list = |v: &Value, name: &str| v[name].as_array().cloned().unwrap_or_default();
    value
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let port = |name: &str| p[name].as_i64().and_then(|n| i32::try_from(n).ok());
            let mut permission = IpPermission::builder()
                .set_ip_protocol(text(p, "IpProtocol"))
                .set_from_port(port("FromPort"))
                .set_to_port(port("ToPort"));
            for r in list(p, "IpRanges") {
                permission = permission.ip_ranges(
                    IpRange::builder()
                        .set_cidr_ip(text(&r, "CidrIp"))
                        .set_description(text(&r, "Description"))
                        .build(),
                );
            }
            for r in list(p, "Ipv6Ranges") {
                permission = permission.ipv6_ranges(
                    Ipv6Range::builder()
                        .set_cidr_ipv6(text(&r, "CidrIpv6"))
                        .set_description(text(&r, "Description"))
                        .build(),
                );
            }
            for r in list(p, "PrefixListIds") {
                permission = permission.prefix_list_ids(
                    PrefixListId::builder()
                        .set_prefix_list_id(text(&r, "PrefixListId"))
                        .set_description(text(&r, "Description"))
                        .build(),
                );
            }
            for r in list(p, "UserIdGroupPairs") {
                permission = permission.user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .set_group_id(text(&r, "GroupId"))
                        .set_description(text(&r, "Description"))
                        .build(),
                );
            }
            permission.build()
        })
        .collect()
}

fn unreadable(message: impl Into<String>) -> AwsError {
    AwsError::new("remediation-undo", ErrorKind::Permanent, None, message)
}
