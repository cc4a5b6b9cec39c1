//! `remediation`: the library every remediation function is built on.
//!
//! - [`trigger`]: every supported event shape -> one normalized [`trigger::Trigger`]
//! - [`config`]: settings read once from the environment
//! - [`invocation`]: the shared invocation loop (targets -> check/fix -> notify -> report)
//! - [`s3`], [`security_group`], [`instance`]: policies (pure) and actions (SDK calls) per resource kind
//! - [`catalog`]: the functions, the IAM actions they need, the triggers they handle
//! - [`config_rule`]: the custom AWS Config rule, evaluating with the same policies
//! - [`identity`]: recognising the function's own changes (loop guard)
//! - [`notify`]: SNS message building and publishing

pub mod catalog;
pub mod config;
pub mod config_rule;
pub mod error;
pub mod identity;
pub mod instance;
pub mod invocation;
pub mod notify;
pub mod outcome;
pub mod s3;
pub mod security_group;
pub mod shape;
pub mod startup;
pub mod trigger;

#[cfg(test)]
mod hostile_input_tests;
#[cfg(test)]
mod test_support;

pub use config::Settings;
pub use error::AwsError;
pub use invocation::{handle, handle_until, into_response, Deadline, Remediation, Targets};
pub use notify::Notifier;
pub use outcome::{Outcome, OutcomeKind, ResourceType, Severity};
