//! The S3 and S3 Control calls, and the IAM actions they need. Converts between the SDK's types and
//! the plain ones the policy reads, field for field, so that a kept grant goes back exactly as it came.

use aws_config::SdkConfig;
use aws_sdk_s3::types as sdk;
use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};

use super::policy::{Acl, BlockPublicAccess, BucketPolicy, BucketState, Grant, Grantee, Owner};
use crate::error::{AwsError, ErrorKind};

/// The IAM actions behind every S3 call in this file (checked against the code and the template).
/// Account-level Block Public Access is `s3:*AccountPublicAccessBlock` (S3 Control's
/// Get/PutPublicAccessBlock); `GetBucketPolicyStatus` needs `s3:GetBucketPolicyStatus`.
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:GetBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetAccountPublicAccessBlock",
    "s3:PutAccountPublicAccessBlock",
    "s3:ListAllMyBuckets",
];

/// The error S3 answers an ACL write with on a bucket whose Object Ownership is "bucket owner
/// enforced" (ACLs disabled; S3 User Guide, "Controlling ownership of objects").
pub const ACLS_DISABLED: &str = "AccessControlListNotSupported";

#[derive(Clone, Debug)]
pub struct S3Actions {
    client: aws_sdk_s3::Client,
    control: aws_sdk_s3control::Client,
}

/// Behind an endpoint override, S3 Control requests go to the URL as given. Its endpoint rules put
/// the account id in front of the host, also in front of an override (`123456789012.127.0.0.1`
/// resolves nowhere); the account id still travels in the `x-amz-account-id` header.
#[derive(Debug)]
struct EndpointAsGiven;

impl ResolveEndpoint for EndpointAsGiven {
    fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(match params.endpoint() {
            Some(url) => Ok(Endpoint::builder().url(url.to_string()).build()),
            None => Err("EndpointAsGiven needs an endpoint override".into()),
        })
    }
}

impl S3Actions {
    /// Path-style addressing (S3) and the URL as given (S3 Control) when an endpoint override points
    /// at a local emulator.
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        let path_style = crate::lambda::endpoint_overridden(sdk, "S3");
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        let mut control_config = aws_sdk_s3control::config::Builder::from(sdk);
        if crate::lambda::endpoint_overridden(sdk, "S3_CONTROL") {
            control_config = control_config.endpoint_resolver(EndpointAsGiven);
        }
        S3Actions {
            client: aws_sdk_s3::Client::from_conf(config),
            control: aws_sdk_s3control::Client::from_conf(control_config.build()),
        }
    }

    pub fn from_clients(client: aws_sdk_s3::Client, control: aws_sdk_s3control::Client) -> Self {
        S3Actions { client, control }
    }

    /// Everything that decides whether a bucket is public, read in one round: ACL, policy and S3's
    /// judgement of it, the bucket's and the account's Block Public Access. And the bucket's tags.
    pub async fn bucket_state(
        &self,
        bucket: &str,
        account: &str,
    ) -> Result<(BucketState, Vec<(String, String)>), AwsError> {
        let (acl, policy, block, account_block, tags) = tokio::try_join!(
            self.bucket_acl(bucket),
            self.bucket_policy(bucket),
            self.public_access_block(bucket),
            self.account_public_access_block(account),
            self.bucket_tags(bucket),
        )?;
        let state = BucketState {
            acl,
            policy,
            block_public_access: block,
            account_block_public_access: account_block,
        };
        Ok((state, tags))
    }

    /// The bucket policy and S3's judgement of it (`GetBucketPolicyStatus`, asked at the same time);
    /// `None` when the bucket has no policy.
    pub async fn bucket_policy(&self, bucket: &str) -> Result<Option<BucketPolicy>, AwsError> {
        let (text, is_public) =
            tokio::try_join!(self.policy_text(bucket), self.policy_is_public(bucket))?;
        Ok(text.map(|text| BucketPolicy { text, is_public }))
    }

    async fn policy_text(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Ok(out.policy().map(String::from)),
            Err(err) => none_if(
                AwsError::from_sdk("GetBucketPolicy", err),
                "NoSuchBucketPolicy",
            ),
        }
    }

    /// S3's own judgement (`PolicyStatus.IsPublic`); false when there is no policy.
    pub async fn policy_is_public(&self, bucket: &str) -> Result<bool, AwsError> {
        match self
            .client
            .get_bucket_policy_status()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => Ok(out.policy_status().and_then(|s| s.is_public()) == Some(true)),
            Err(err) => Ok(none_if(
                AwsError::from_sdk("GetBucketPolicyStatus", err),
                "NoSuchBucketPolicy",
            )?
            .unwrap_or(false)),
        }
    }

    pub async fn put_bucket_policy(&self, bucket: &str, text: &str) -> Result<(), AwsError> {
        self.client
            .put_bucket_policy()
            .bucket(bucket)
            .policy(text)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutBucketPolicy", e))?;
        Ok(())
    }

    pub async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), AwsError> {
        self.client
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteBucketPolicy", e))?;
        Ok(())
    }

    /// The account's own Block Public Access settings (S3 Control); `None` when it has none.
    pub async fn account_public_access_block(
        &self,
        account: &str,
    ) -> Result<Option<BlockPublicAccess>, AwsError> {
        if account.is_empty() {
            // An event without an account (none seen from AWS): judge by the bucket alone.
            return Ok(None);
        }
        match self
            .control
            .get_public_access_block()
            .account_id(account)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .public_access_block_configuration()
                .map(|c| BlockPublicAccess {
                    block_public_acls: c.block_public_acls() == Some(true),
                    ignore_public_acls: c.ignore_public_acls() == Some(true),
                    block_public_policy: c.block_public_policy() == Some(true),
                    restrict_public_buckets: c.restrict_public_buckets() == Some(true),
                })),
            Err(err) => none_if(
                AwsError::from_sdk("GetPublicAccessBlock (account)", err),
                "NoSuchPublicAccessBlockConfiguration",
            ),
        }
    }

    /// Turns all four account-level Block Public Access settings on.
    pub async fn block_account_public_access(&self, account: &str) -> Result<(), AwsError> {
        self.set_account_public_access_block(account, Some(&BlockPublicAccess::ALL_ON))
            .await
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

    /// The bucket's tags; a bucket without tags answers `NoSuchTagSet`.
    pub async fn bucket_tags(&self, bucket: &str) -> Result<Vec<(String, String)>, AwsError> {
        match self.client.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => Ok(out
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()),
            Err(err) => Ok(
                none_if(AwsError::from_sdk("GetBucketTagging", err), "NoSuchTagSet")?
                    .unwrap_or_default(),
            ),
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
            Err(err) => none_if(
                AwsError::from_sdk("GetPublicAccessBlock", err),
                "NoSuchPublicAccessBlockConfiguration",
            ),
        }
    }

    /// Turns all four Block Public Access settings of the bucket on.
    pub async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError> {
        self.set_public_access_block(bucket, Some(&BlockPublicAccess::ALL_ON))
            .await
    }

    /// Sets the bucket's Block Public Access to `settings` exactly, or removes its configuration
    /// (`None`): an undo putting back what a fix replaced.
    pub async fn set_public_access_block(
        &self,
        bucket: &str,
        settings: Option<&BlockPublicAccess>,
    ) -> Result<(), AwsError> {
        let Some(s) = settings else {
            self.client
                .delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeletePublicAccessBlock", e))?;
            return Ok(());
        };
        let configuration = sdk::PublicAccessBlockConfiguration::builder()
            .block_public_acls(s.block_public_acls)
            .ignore_public_acls(s.ignore_public_acls)
            .block_public_policy(s.block_public_policy)
            .restrict_public_buckets(s.restrict_public_buckets)
            .build();
        self.client
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(configuration)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))?;
        Ok(())
    }

    /// The account-level twin of [`S3Actions::set_public_access_block`], through S3 Control.
    pub async fn set_account_public_access_block(
        &self,
        account: &str,
        settings: Option<&BlockPublicAccess>,
    ) -> Result<(), AwsError> {
        let Some(s) = settings else {
            self.control
                .delete_public_access_block()
                .account_id(account)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeletePublicAccessBlock (account)", e))?;
            return Ok(());
        };
        let configuration = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(s.block_public_acls)
            .ignore_public_acls(s.ignore_public_acls)
            .block_public_policy(s.block_public_policy)
            .restrict_public_buckets(s.restrict_public_buckets)
            .build();
        self.control
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(configuration)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock (account)", e))?;
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

/// `Ok(None)` when S3 answered `code` (the thing is not there), the error otherwise.
fn none_if<T>(err: AwsError, code: &str) -> Result<Option<T>, AwsError> {
    if err.has_code(code) {
        Ok(None)
    } else {
        Err(err)
    }
}

fn unbuildable(operation: &'static str, err: aws_sdk_s3::error::BuildError) -> AwsError {
    AwsError::new(operation, ErrorKind::Permanent, None, err.to_string())
}
