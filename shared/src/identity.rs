//! Who this function is, to recognise its own changes in CloudTrail (the loop guard).
//!
//! Decided by the role, never by the session name: anyone can name a session after the function.

use std::sync::OnceLock;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::error::AwsError;
use crate::trigger::ApiCall;

/// Who the function runs as, from STS `GetCallerIdentity`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// `aws`, `aws-cn`, `aws-us-gov`: the partition of the roles it assumes.
    pub partition: String,
    /// The role behind the session; `None` for a user.
    pub role: Option<String>,
}

impl Caller {
    /// From a caller ARN as `GetCallerIdentity` returns it.
    pub fn from_arn(arn: &str) -> Option<Caller> {
        let (service, account, resource) = arn_parts(arn)?;
        let partition = arn.split(':').nth(1)?.to_string();
        let role = (service == "sts")
            .then(|| resource.strip_prefix("assumed-role/")?.split('/').next())
            .flatten()
            .filter(|name| !name.is_empty())
            .map(String::from);
        Some(Caller {
            account: account.to_string(),
            partition,
            role,
        })
    }
}

/// The function's own account as the ARN it is invoked by names it (the Runtime API's
/// `Lambda-Runtime-Invoked-Function-Arn`, `arn:aws:lambda:<region>:<account>:function:<name>`): known
/// at the first invocation without an AWS call, so that single-account mode can tell an event from
/// another account without an STS round trip before the first fix.
static INVOKED_ACCOUNT: OnceLock<String> = OnceLock::new();

/// Remembers the account of the function's ARN (the first one seen; it never changes in a process).
pub fn learn_own_account(invoked_function_arn: &str) {
    if INVOKED_ACCOUNT.get().is_some() {
        return;
    }
    if let Some((_, account, _)) = arn_parts(invoked_function_arn) {
        if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
            let _ = INVOKED_ACCOUNT.set(account.to_string());
        }
    }
}

pub struct OwnIdentity {
    sts: Option<aws_sdk_sts::Client>,
    /// Asked once per process and only when needed; a failure is not kept, the next use asks again.
    caller: OnceCell<Caller>,
    /// Organization mode: the role the functions act through in member accounts, whose changes are
    /// theirs too.
    member_role: Option<String>,
}

impl OwnIdentity {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        OwnIdentity {
            sts: Some(aws_sdk_sts::Client::new(sdk)),
            caller: OnceCell::new(),
            member_role: None,
        }
    }

    /// A fixed identity (tests): the caller ARN as `GetCallerIdentity` would return it.
    pub fn fixed(caller_arn: &str) -> Self {
        let caller = OnceCell::new();
        if let Some(known) = Caller::from_arn(caller_arn) {
            let _ = caller.set(known);
        }
        OwnIdentity {
            sts: None,
            caller,
            member_role: None,
        }
    }

    pub fn with_member_role(mut self, member_role: Option<String>) -> Self {
        self.member_role = member_role;
        self
    }

    /// The function's own account: from the ARN it was invoked by, else from STS.
    pub async fn account(&self) -> Result<&str, AwsError> {
        match INVOKED_ACCOUNT.get() {
            Some(account) if self.sts.is_some() => Ok(account),
            _ => Ok(&self.caller().await?.account),
        }
    }

    /// The function's own account, partition and role.
    pub async fn caller(&self) -> Result<&Caller, AwsError> {
        self.caller
            .get_or_try_init(|| async {
                let Some(sts) = self.sts.as_ref() else {
                    return Err(AwsError::new(
                        "GetCallerIdentity",
                        crate::error::ErrorKind::Permanent,
                        None,
                        "no identity is known",
                    ));
                };
                let identity = sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|err| AwsError::from_sdk("GetCallerIdentity", err))?;
                identity.arn().and_then(Caller::from_arn).ok_or_else(|| {
                    AwsError::new(
                        "GetCallerIdentity",
                        crate::error::ErrorKind::Permanent,
                        None,
                        "the caller ARN could not be read",
                    )
                })
            })
            .await
    }

    /// Whether the call was made by this function: its own role in its own account, or (organization
    /// mode) the member role it acts through in any account.
    pub async fn made(&self, call: &ApiCall) -> bool {
        let Some((account, role)) = call.actor_role_arn.as_deref().and_then(role_of_iam_arn) else {
            return false;
        };
        if self.member_role.as_deref() == Some(role.as_str()) {
            return true;
        }
        match self.caller().await {
            Ok(me) => me.account == account && me.role.as_deref() == Some(role.as_str()),
            Err(err) => {
                tracing::warn!(error = %err, "own changes cannot be recognised");
                false
            }
        }
    }
}

/// (service, account, resource) of an ARN.
fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_arn, _partition) = (parts.next()?, parts.next()?);
    let (service, _region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((service, account, resource))
}

/// (account, role name) from `arn:aws:iam::123456789012:role/path/NAME`.
fn role_of_iam_arn(arn: &str) -> Option<(String, String)> {
    let (service, account, resource) = arn_parts(arn)?;
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (service == "iam" && !name.is_empty()).then(|| (account.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn call(role_arn: Option<&str>) -> ApiCall {
        ApiCall {
            event_source: "ec2.amazonaws.com".into(),
            event_name: "AuthorizeSecurityGroupIngress".into(),
            cloudtrail_event_id: "e".into(),
            actor: "a".into(),
            actor_role_arn: role_arn.map(String::from),
            request: Value::Null,
            response: Value::Null,
            resources: vec![],
        }
    }

    #[tokio::test]
    async fn own_role_is_recognised_by_role_not_session() {
        let me = OwnIdentity::fixed("arn:aws:sts::123456789012:assumed-role/remediation-open-security-group/open-security-group");
        assert!(
            me.made(&call(Some(
                "arn:aws:iam::123456789012:role/remediation-open-security-group"
            )))
            .await
        );
        assert!(
            me.made(&call(Some(
                "arn:aws:iam::123456789012:role/service/remediation-open-security-group"
            )))
            .await
        );
        // Same role name in another account, another role, or no role: not us.
        assert!(
            !me.made(&call(Some(
                "arn:aws:iam::999999999999:role/remediation-open-security-group"
            )))
            .await
        );
        assert!(
            !me.made(&call(Some("arn:aws:iam::123456789012:role/admin")))
                .await
        );
        assert!(!me.made(&call(None)).await);
        // A user (not a role) never matches.
        let user = OwnIdentity::fixed("arn:aws:iam::123456789012:user/moto");
        assert!(
            !user
                .made(&call(Some("arn:aws:iam::123456789012:role/moto")))
                .await
        );
    }

    #[tokio::test]
    async fn the_member_role_is_ours_in_every_account_and_nothing_else_is() {
        let me =
            OwnIdentity::fixed("arn:aws:sts::123456789012:assumed-role/central/s3-public-access")
                .with_member_role(Some("remediation-member".into()));
        for account in ["111111111111", "222222222222"] {
            let arn = format!("arn:aws:iam::{account}:role/remediation-member");
            assert!(me.made(&call(Some(&arn))).await, "{arn}");
            // Anyone else in that account is a person or another tool.
            let other = format!("arn:aws:iam::{account}:role/admin");
            assert!(!me.made(&call(Some(&other))).await, "{other}");
        }
        // Without organization mode the same role is someone else's.
        let single =
            OwnIdentity::fixed("arn:aws:sts::123456789012:assumed-role/central/s3-public-access");
        assert!(
            !single
                .made(&call(Some(
                    "arn:aws:iam::111111111111:role/remediation-member"
                )))
                .await
        );
    }

    #[test]
    fn the_caller_arn_gives_account_partition_and_role() {
        let caller =
            Caller::from_arn("arn:aws-cn:sts::123456789012:assumed-role/fn-role/session").unwrap();
        assert_eq!(caller.account, "123456789012");
        assert_eq!(caller.partition, "aws-cn");
        assert_eq!(caller.role.as_deref(), Some("fn-role"));
        let user = Caller::from_arn("arn:aws:iam::123456789012:user/moto").unwrap();
        assert_eq!(user.role, None);
        assert_eq!(Caller::from_arn("not an arn"), None);
    }
}
