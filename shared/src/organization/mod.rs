//! Organization mode: acting in every account and region of an AWS Organization from one deployment.
//!
//! - [`accounts`]: the clients of each account x region, through the member role
//! - [`sweep`]: the jobs of a fanned-out sweep and their continuations (pure)
//! - [`aws`]: the sweep queue and the organization's accounts

pub mod accounts;
pub mod aws;
pub mod sweep;

pub use accounts::Accounts;
pub use aws::Organization;
pub use sweep::{Cursor, SweepJob};
