//! The S3 calls, and the IAM actions they need. Converts between the SDK's types and the plain
//! ones the policy reads, field for field, so that a kept grant goes back exactly as it came.

use aws_config::SdkConfig;
use aws_sdk_s3::types as sdk;

use super::policy::{Acl, BlockPublicAccess, Grant, Grantee, Owner};
use crate::error::{AwsError, ErrorKind};

/// The IAM actions behind every S3 call in this file (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:GetBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:ListAllMyBuckets",
];

#[derive(Clone, Debug)]
pub struct S3Actions {
    client: aws_sdk_s3::Client,
}

impl S3Actions {
    /// Path-style addressing when an endpoint override points at a local emulator.
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        let path_style = crate::lambda::endpoint_overridden(sdk, "S3");
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        S3Actions {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }

    pub fn from_client(client: aws_sdk_s3::Client) -> Self {
        S3Actions { client }
    }

    pub async fn bucket_acl(&self, bucket: &str) -> Result<Acl, AwsError> {
        let out = self
            .client
            .get_bucket_acl()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBucketAcl", e))?;
        Ok(acl_from_sdk(out.owner(), out.grants()))
    }

    pub async fn object_acl(&self, bucket: &str, key: &str) -> Result<Acl, AwsError> {
        let out = self
            .client
            .get_object_acl()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObjectAcl", e))?;
        Ok(acl_from_sdk(out.owner(), out.grants()))
    }

    pub async fn put_bucket_acl(&self, bucket: &str, acl: &Acl) -> Result<(), AwsError> {
        self.client
            .put_bucket_acl()
            .bucket(bucket)
            .access_control_policy(policy_to_sdk(acl).map_err(|e| unbuildable("PutBucketAcl", e))?)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutBucketAcl", e))?;
        Ok(())
    }

    pub async fn put_object_acl(&self, bucket: &str, key: &str, acl: &Acl) -> Result<(), AwsError> {
        self.client
            .put_object_acl()
            .bucket(bucket)
            .key(key)
            .access_control_policy(policy_to_sdk(acl).map_err(|e| unbuildable("PutObjectAcl", e))?)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObjectAcl", e))?;
        Ok(())
    }

    /// The bucket's tag keys; a bucket without tags answers `NoSuchTagSet`.
    pub async fn bucket_tag_keys(&self, bucket: &str) -> Result<Vec<String>, AwsError> {
        match self.client.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => Ok(out.tag_set().iter().map(|t| t.key().to_string()).collect()),
            Err(err) => {
                let err = AwsError::from_sdk("GetBucketTagging", err);
                if err.has_code("NoSuchTagSet") {
                    Ok(Vec::new())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The bucket's Block Public Access settings; `None` when it has none.
    pub async fn public_access_block(
        &self,
        bucket: &str,
    ) -> Result<Option<BlockPublicAccess>, AwsError> {
        match self
            .client
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .public_access_block_configuration()
                .map(block_public_access_from_sdk)),
            Err(err) => {
                let err = AwsError::from_sdk("GetPublicAccessBlock", err);
                if err.has_code("NoSuchPublicAccessBlockConfiguration") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Turns all four Block Public Access settings of the bucket on.
    pub async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError> {
        let all_on = sdk::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.client
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(all_on)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))?;
        Ok(())
    }

    /// Every bucket of the account in `region` (all regions when `None`), page by page.
    pub async fn list_buckets(&self, region: Option<&str>) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_buckets()
            .set_bucket_region(region.map(String::from))
            .max_buckets(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListBuckets", e))?;
            names.extend(
                page.buckets()
                    .iter()
                    .filter_map(|b| b.name().map(String::from)),
            );
        }
        Ok(names)
    }
}

fn acl_from_sdk(owner: Option<&sdk::Owner>, grants: &[sdk::Grant]) -> Acl {
    Acl {
        owner: owner.map(|o| Owner {
            id: o.id().map(String::from),
            display_name: o.display_name().map(String::from),
        }),
        grants: grants.iter().map(grant_from_sdk).collect(),
    }
}

/// A grant S3 returned. S3 always names the grantee and the permission; were one missing, the empty
/// value would make the write fail loudly rather than change the grant.
pub fn grant_from_sdk(grant: &sdk::Grant) -> Grant {
    let grantee = grant.grantee().map(|g| Grantee {
        kind: g.r#type().as_str().to_string(),
        id: g.id().map(String::from),
        display_name: g.display_name().map(String::from),
        email_address: g.email_address().map(String::from),
        uri: g.uri().map(String::from),
    });
    Grant {
        grantee: grantee.unwrap_or_default(),
        permission: grant
            .permission()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    }
}

pub fn grant_to_sdk(grant: &Grant) -> Result<sdk::Grant, aws_sdk_s3::error::BuildError> {
    let g = &grant.grantee;
    let grantee = sdk::Grantee::builder()
        .r#type(sdk::Type::from(g.kind.as_str()))
        .set_id(g.id.clone())
        .set_display_name(g.display_name.clone())
        .set_email_address(g.email_address.clone())
        .set_uri(g.uri.clone())
        .build()?;
    Ok(sdk::Grant::builder()
        .grantee(grantee)
        .permission(sdk::Permission::from(grant.permission.as_str()))
        .build())
}

fn policy_to_sdk(acl: &Acl) -> Result<sdk::AccessControlPolicy, aws_sdk_s3::error::BuildError> {
    let owner = acl.owner.as_ref().map(|o| {
        sdk::Owner::builder()
            .set_id(o.id.clone())
            .set_display_name(o.display_name.clone())
            .build()
    });
    let grants = acl
        .grants
        .iter()
        .map(grant_to_sdk)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sdk::AccessControlPolicy::builder()
        .set_owner(owner)
        .set_grants(Some(grants))
        .build())
}

fn block_public_access_from_sdk(c: &sdk::PublicAccessBlockConfiguration) -> BlockPublicAccess {
    BlockPublicAccess {
        block_public_acls: c.block_public_acls() == Some(true),
        ignore_public_acls: c.ignore_public_acls() == Some(true),
        block_public_policy: c.block_public_policy() == Some(true),
        restrict_public_buckets: c.restrict_public_buckets() == Some(true),
    }
}

fn unbuildable(operation: &'static str, err: aws_sdk_s3::error::BuildError) -> AwsError {
    AwsError::new(operation, ErrorKind::Permanent, None, err.to_string())
}
