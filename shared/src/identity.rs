//! Who this function is, to recognise its own changes in CloudTrail (the loop guard).
//!
//! Decided by the role, never by the session name: anyone can name a session after the function.

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::trigger::ApiCall;

pub struct OwnIdentity {
    sts: Option<aws_sdk_sts::Client>,
    /// (account, role name) from `GetCallerIdentity`, asked once per process and only when needed.
    role: OnceCell<Option<(String, String)>>,
}

impl OwnIdentity {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        OwnIdentity {
            sts: Some(aws_sdk_sts::Client::new(sdk)),
            role: OnceCell::new(),
        }
    }

    /// A fixed identity (tests): the caller ARN as `GetCallerIdentity` would return it.
    pub fn fixed(caller_arn: &str) -> Self {
        let role = OnceCell::new();
        let _ = role.set(assumed_role(caller_arn));
        OwnIdentity { sts: None, role }
    }

    async fn role(&self) -> Option<&(String, String)> {
        let sts = self.sts.as_ref();
        let role = self
            .role
            .get_or_try_init(|| async {
                let Some(sts) = sts else { return Ok(None) };
                match sts.get_caller_identity().send().await {
                    Ok(identity) => Ok(identity.arn().and_then(assumed_role)),
                    Err(err) => {
                        // Not cached: the next CloudTrail event asks again.
                        tracing::warn!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), "GetCallerIdentity failed; own changes cannot be recognised");
                        Err(())
                    }
                }
            })
            .await;
        role.ok().and_then(Option::as_ref)
    }

    /// Whether the call was made by this function's own role.
    pub async fn made(&self, call: &ApiCall) -> bool {
        let Some(issuer) = call.actor_role_arn.as_deref().and_then(role_of_iam_arn) else {
            return false;
        };
        self.role().await.is_some_and(|own| *own == issuer)
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

/// (account, role name) from `arn:aws:sts::123456789012:assumed-role/NAME/SESSION`.
fn assumed_role(arn: &str) -> Option<(String, String)> {
    let (service, account, resource) = arn_parts(arn)?;
    let name = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    (service == "sts" && !name.is_empty()).then(|| (account.to_string(), name.to_string()))
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
}
