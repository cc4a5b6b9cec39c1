//! When an invocation stops starting new work, so that it still answers before Lambda's deadline.

use std::time::{Duration, Instant, SystemTime};

/// Most time kept back from Lambda's deadline to finish the resource at hand, notify and answer.
const MAX_DEADLINE_RESERVE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    stop_at: Option<Instant>,
}

impl Deadline {
    /// No deadline (tests, tools).
    pub fn none() -> Self {
        Deadline { stop_at: None }
    }

    /// Lambda's deadline for this invocation, less a reserve: a fifth of the time left, at most 5 s
    /// (a function with a 60 s timeout stops starting new checks 5 s before the end).
    pub fn from_lambda(context: &lambda_runtime::Context) -> Self {
        Self::before(context.deadline())
    }

    pub fn before(deadline: SystemTime) -> Self {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let reserve = (left / 5).min(MAX_DEADLINE_RESERVE);
        Deadline {
            stop_at: Some(Instant::now() + (left - reserve)),
        }
    }

    pub fn is_near(&self) -> bool {
        self.stop_at.is_some_and(|at| Instant::now() >= at)
    }
}
