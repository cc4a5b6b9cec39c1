//! Closing the loop with Security Hub: after a function acted on the findings an invocation brought,
//! each finding is updated with what was done (`BatchUpdateFindings`).
//!
//! - [`update`]: which workflow status and note each finding gets, and the batches (pure)
//! - [`aws`]: the calls, per account and region, and their IAM action
//!
//! The findings themselves are triggers like any other (`trigger::security_hub`).

pub mod aws;
pub mod update;

pub use aws::{SecurityHub, IAM_ACTIONS};
pub use update::{batches, FindingUpdate, WorkflowStatus};
