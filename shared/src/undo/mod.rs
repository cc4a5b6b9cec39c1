//! Undo: every fix records what it changed and how to put it back, and `remediation-undo` carries
//! that out on a message.
//!
//! - [`restore`]: the record (`prior`, `after`, `undo`) and how a part compares with it (pure)
//! - [`input`]: the message as a person hands it over: the document, or the SNS / SQS envelope (pure)
//! - [`aws`]: reading the parts as they are now, making the recorded calls
//! - [`cli`]: `remediation-undo`: compare, refuse or restore, and say what happened

pub mod aws;
pub mod cli;
pub mod input;
pub mod restore;

pub use restore::{cli_commands, judge_part, same_rule, Call, PartState, Restore};
