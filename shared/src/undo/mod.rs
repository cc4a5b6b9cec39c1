//! Undo: every fix records what it changed and how to put it back ([`restore`], pure), and
//! `remediation-undo` carries that out on a message ([`cli`], reading and calling through [`aws`]).

pub mod restore;

pub use restore::{cli_commands, judge_part, same_rule, Call, PartState, Restore};
