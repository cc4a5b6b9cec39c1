//! Seeding and reading S3 state in moto, for tests and the demo.

use aws_sdk_s3::types::{BucketCannedAcl, Grant, ObjectCannedAcl, Tag, Tagging, Type};
use aws_sdk_s3::Client;

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// A partner account's canonical id (AWS documentation example) that must keep its grant.
pub const PARTNER_ID: &str = "a9a7b886d6fd24a52fe8ca5bef65f89a64e0193f23000e241bf9b1c61be666e9";

/// `id:<canonical id> READ`, `uri:AllUsers WRITE_ACP`, `email:x@y READ`: one line per grant, sorted.
pub fn describe_grants(grants: &[Grant]) -> Vec<String> {
    let mut lines: Vec<String> = grants
        .iter()
        .map(|grant| {
            let permission = grant.permission().map(|p| p.as_str()).unwrap_or("?");
            let who = match grant.grantee() {
                Some(g) if g.r#type() == &Type::Group => {
                    format!(
                        "uri:{}",
                        g.uri().unwrap_or("").rsplit('/').next().unwrap_or("")
                    )
                }
                Some(g) if g.r#type() == &Type::AmazonCustomerByEmail => {
                    format!("email:{}", g.email_address().unwrap_or(""))
                }
                Some(g) => format!("id:{}", g.id().unwrap_or("")),
                None => "none".to_string(),
            };
            format!("{who} {permission}")
        })
        .collect();
    lines.sort();
    lines
}

pub async fn owner_id(s3: &Client, bucket: &str) -> String {
    let acl = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .expect("get bucket acl");
    acl.owner()
        .and_then(|o| o.id())
        .unwrap_or_default()
        .to_string()
}

pub async fn bucket_grants(s3: &Client, bucket: &str) -> Vec<String> {
    let acl = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .expect("get bucket acl");
    describe_grants(acl.grants())
}

pub async fn object_grants(s3: &Client, bucket: &str, key: &str) -> Vec<String> {
    let acl = s3
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get object acl");
    describe_grants(acl.grants())
}

/// The four Block Public Access flags, or `None` when the bucket has no configuration.
pub async fn block_public_access(s3: &Client, bucket: &str) -> Option<[bool; 4]> {
    let out = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    let c = out.public_access_block_configuration()?;
    Some([
        c.block_public_acls().unwrap_or(false),
        c.ignore_public_acls().unwrap_or(false),
        c.block_public_policy().unwrap_or(false),
        c.restrict_public_buckets().unwrap_or(false),
    ])
}

pub async fn create_private_bucket(s3: &Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
}

/// A bucket whose ACL grants the owner FULL_CONTROL, a partner account READ, AllUsers READ and
/// AuthenticatedUsers WRITE_ACP (two grantees in one header, as people write them).
pub async fn create_public_bucket(s3: &Client, bucket: &str) {
    create_private_bucket(s3, bucket).await;
    let owner = owner_id(s3, bucket).await;
    s3.put_bucket_acl()
        .bucket(bucket)
        .grant_full_control(format!("id={owner}"))
        .grant_read(format!("uri={ALL_USERS}, id={PARTNER_ID}"))
        .grant_write_acp(format!("uri={AUTHENTICATED_USERS}"))
        .send()
        .await
        .expect("put public bucket acl");
}

pub async fn create_bucket_with_canned_acl(s3: &Client, bucket: &str, acl: BucketCannedAcl) {
    s3.create_bucket()
        .bucket(bucket)
        .acl(acl)
        .send()
        .await
        .expect("create bucket");
}

/// An object readable by everyone (canned `public-read`) plus a READ grant for the partner.
pub async fn put_public_object(s3: &Client, bucket: &str, key: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"quarterly numbers",
        ))
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .expect("put object");
}

pub async fn tag_bucket(s3: &Client, bucket: &str, key: &str, value: &str) {
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key(key).value(value).build().expect("tag"))
        .build()
        .expect("tagging");
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging)
        .send()
        .await
        .expect("tag bucket");
}

/// A bucket policy with a partner account's read (kept by every fix) and `public` as its second statement.
pub fn policy_with(bucket: &str, public: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PartnerRead","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}},{public}]}}"#
    )
}

/// The public statement of the sample event: anyone may read every object.
pub fn public_read_statement(bucket: &str) -> String {
    format!(
        r#"{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}"#
    )
}

pub async fn put_bucket_policy(s3: &Client, bucket: &str, policy: &str) {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .expect("put bucket policy");
}

/// The bucket policy text, `None` when the bucket has none.
pub async fn bucket_policy(s3: &Client, bucket: &str) -> Option<String> {
    s3.get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|out| out.policy().map(String::from))
}
