//! The clients a function acts through in each account and region.
//!
//! Single-account mode (no member role): the function's own credentials, in the event's region; an
//! event from another account is not for it. Organization mode: for any account other than its own,
//! the member role `arn:<partition>:iam::<account>:role/<MEMBER_ROLE_NAME>` is assumed (session name:
//! the function's name), and the credentials are kept until shortly before they expire, so one
//! `AssumeRole` serves an account's every region and event for most of an hour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};

use crate::error::{AwsError, ErrorKind};
use crate::identity::OwnIdentity;
use crate::invocation::Unrelated;

/// Credentials this close to their expiry are replaced before use: longer than the longest AWS call
/// with its retries (25 s), so no call is signed with credentials that lapse on the way.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// The clients (`A`: a remediation's actions) of every account and region it acts in, made on first
/// use and kept.
pub struct Accounts<A> {
    reach: Reach<A>,
}

enum Reach<A> {
    /// The same clients whatever the account and region (tests with mocked clients).
    Fixed(Arc<A>),
    Live(Box<Live<A>>),
}

struct Live<A> {
    own: SdkConfig,
    own_region: String,
    build: fn(&SdkConfig) -> A,
    identity: Arc<OwnIdentity>,
    member_role: Option<String>,
    session_name: String,
    sts: aws_sdk_sts::Client,
    clients: Mutex<HashMap<(String, String), Kept<A>>>,
}

struct Kept<A> {
    actions: Arc<A>,
    /// When the assumed credentials behind them expire; `None`: the function's own.
    expires: Option<SystemTime>,
}

impl<A> Kept<A> {
    fn fresh(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|at| at > now + REFRESH_BEFORE)
    }
}

impl<A> Accounts<A> {
    /// The same actions for every account and region (tests).
    pub fn fixed(actions: A) -> Self {
        Accounts {
            reach: Reach::Fixed(Arc::new(actions)),
        }
    }

    /// Clients made by `build` from the function's SDK configuration, in the event's region, through
    /// `member_role` in other accounts when it is set.
    pub fn new(
        sdk: &SdkConfig,
        build: fn(&SdkConfig) -> A,
        identity: Arc<OwnIdentity>,
        member_role: Option<String>,
        session_name: &str,
    ) -> Self {
        Accounts {
            reach: Reach::Live(Box::new(Live {
                own: sdk.clone(),
                own_region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
                build,
                identity,
                member_role,
                session_name: session_name.to_string(),
                sts: aws_sdk_sts::Client::new(sdk),
                clients: Mutex::new(HashMap::new()),
            })),
        }
    }

    /// Why an event from `account` is not for this function: single-account mode and another account.
    pub async fn foreign(&self, account: &str) -> Result<Option<Unrelated>, AwsError> {
        let Reach::Live(live) = &self.reach else {
            return Ok(None);
        };
        if live.member_role.is_some() || account.is_empty() {
            return Ok(None);
        }
        let own = live.identity.account().await?;
        Ok((account != own).then(|| {
            Unrelated::new(format!(
                "the event is from account {account}; this function acts only in its own account {own} (MEMBER_ROLE_NAME is not set)"
            ))
        }))
    }

    /// The clients for `account` (empty: the function's own) in `region` (empty: its own).
    /// A member role that cannot be assumed is a permanent error naming the account and the role.
    pub async fn get(&self, account: &str, region: &str) -> Result<Arc<A>, AwsError> {
        let live = match &self.reach {
            Reach::Fixed(actions) => return Ok(actions.clone()),
            Reach::Live(live) => live,
        };
        let region = if region.is_empty() {
            live.own_region.as_str()
        } else {
            region
        };
        let own = live.identity.account().await?;
        let account = if account.is_empty() { own } else { account };
        let key = (account.to_string(), region.to_string());
        let now = SystemTime::now();
        if let Some(kept) = live.lock().get(&key).filter(|kept| kept.fresh(now)) {
            return Ok(kept.actions.clone());
        }
        let mut config = live.own.to_builder();
        config.set_region(Some(Region::new(region.to_string())));
        let mut expires = None;
        if account != own {
            let Some(role_name) = &live.member_role else {
                return Err(AwsError::new(
                    "AssumeRole",
                    ErrorKind::Permanent,
                    None,
                    format!("cannot act in account {account}: MEMBER_ROLE_NAME is not set"),
                ));
            };
            let partition = &live.identity.caller().await?.partition;
            let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
            let credentials = live.assume(&role_arn, account).await?;
            expires = credentials.expiry();
            config.set_credentials_provider(Some(SharedCredentialsProvider::new(credentials)));
        }
        let actions = Arc::new((live.build)(&config.build()));
        live.lock().insert(
            key,
            Kept {
                actions: actions.clone(),
                expires,
            },
        );
        Ok(actions)
    }
}

impl<A> Live<A> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Kept<A>>> {
        // A panic while holding the lock cannot leave the map half-written (one insert or get).
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn assume(&self, role_arn: &str, account: &str) -> Result<Credentials, AwsError> {
        let answer = self
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&self.session_name)
            .send()
            .await
            .map_err(|err| {
                let mut err = AwsError::from_sdk("AssumeRole", err);
                err.message = format!(
                    "cannot act in account {account}: the member role {role_arn} could not be assumed: {}",
                    err.message
                );
                err
            })?;
        let given = answer.credentials().ok_or_else(|| {
            AwsError::new(
                "AssumeRole",
                ErrorKind::Transient,
                None,
                format!("STS returned no credentials for {role_arn}"),
            )
        })?;
        let expires = SystemTime::try_from(*given.expiration()).ok();
        tracing::info!(account, role_arn, "assumed the member role");
        Ok(Credentials::new(
            given.access_key_id(),
            given.secret_access_key(),
            Some(given.session_token().to_string()),
            expires,
            "member-role",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn credentials_are_replaced_five_minutes_before_they_expire() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let kept = |expires| Kept {
            actions: Arc::new(()),
            expires,
        };
        assert!(
            kept(None).fresh(now),
            "the function's own never expire here"
        );
        assert!(kept(Some(now + Duration::from_secs(3600))).fresh(now));
        assert!(!kept(Some(now + Duration::from_secs(299))).fresh(now));
        assert!(!kept(Some(now - Duration::from_secs(1))).fresh(now));
    }
}
