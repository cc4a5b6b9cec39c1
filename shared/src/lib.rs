//! `remediation`: the library every remediation function is built on.
//!
//! One folder per resource kind, one file per layer: `targets.rs` (which events point at which
//! resources, pure), `policy.rs` (the rule: current state + settings -> plan, pure), `aws.rs` (the SDK
//! calls and their IAM actions), `item.rs` (the resource as an AWS Config item describes it), and
//! `mod.rs` (the [`Remediation`] that ties them into the invocation loop).
//!
//! - [`s3`], [`security_group`], [`instance`]: the three remediations
//! - [`config_rule`]: the custom AWS Config rule, judging with the same policies
//! - [`lambda`]: the entry point of every function binary ([`run`]) and its start-up
//! - [`invocation`]: the shared invocation loop (targets -> re-read and fix -> notify -> report)
//! - [`trigger`]: every supported event shape -> one normalized [`trigger::Trigger`]
//! - [`config`]: settings read once from the environment
//! - [`notify`]: SNS message building and publishing
//! - [`metrics`]: outcome counts as CloudWatch embedded metrics in the logs
//! - [`exemption`]: the exemption tag, with its end and owner (pure)
//! - [`identity`]: recognising the function's own changes (loop guard)
//! - [`undo`]: what each fix replaced and how to put it back; `remediation-undo`
//! - [`catalog`]: the functions, the IAM actions they need, the triggers they handle

pub mod catalog;
pub mod cidr;
pub mod config;
pub mod config_rule;
pub mod error;
pub mod exemption;
pub mod identity;
pub mod instance;
pub mod invocation;
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod organization;
pub mod outcome;
pub mod s3;
pub mod security_group;
pub mod security_hub;
pub mod shape;
pub mod text;
pub mod trigger;
pub mod trust;
pub mod undo;

#[cfg(test)]
mod hostile_input_tests;
#[cfg(test)]
mod test_support;

pub use config::Settings;
pub use error::AwsError;
pub use invocation::{handle, handle_until, into_response, Deadline, Remediation, Targets};
pub use lambda::{run, Error};
pub use notify::Notifier;
pub use outcome::{Outcome, OutcomeKind, ResourceType, Severity};
