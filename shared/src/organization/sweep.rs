//! Fanned-out sweeps, pure: the jobs a scheduled sweep sends (one per account x region), and the
//! continuation a job sends when it runs short of time.
//!
//! A job sweeps its account and region in a fixed order (by resource type, then id); a continuation
//! is the same job with a cursor, `after`: the last resource checked, so the next run starts right
//! behind it. One message, whatever the estate's size, and never two jobs for one account x region
//! at once (the continuation is sent only when the job stops).

use serde::{Deserialize, Serialize};

use crate::outcome::ResourceType;

/// What every job message says it is, so that nothing else on the queue is taken for one.
pub const JOB_KIND: &str = "sweep-job";

/// One account x region of a sweep, as its SQS message body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepJob {
    /// Always [`JOB_KIND`].
    pub kind: String,
    pub version: u32,
    /// The function that sweeps (each has its own queue; a job for another is refused).
    pub function: String,
    /// The scheduled event that started the sweep: every job and notification of it carries this id.
    pub sweep_id: String,
    pub account: String,
    /// The account's name, when Organizations told it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    pub region: String,
    /// A continuation: start after this resource (by type, then id); absent: from the beginning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Cursor>,
    /// 0 for the first run of the job, then 1, 2, ... for its continuations.
    #[serde(default)]
    pub part: u32,
}

/// A place in a job's order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cursor {
    pub resource_type: String,
    pub resource_id: String,
}

impl Cursor {
    pub fn at(resource_type: ResourceType, resource_id: &str) -> Self {
        Cursor {
            resource_type: resource_type.as_str().to_string(),
            resource_id: resource_id.to_string(),
        }
    }
}

/// An account to sweep, with its name when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: Option<String>,
}

/// One job per account x region, accounts in the order given and each account's regions together.
pub fn jobs(
    function: &str,
    sweep_id: &str,
    accounts: &[Member],
    regions: &[String],
) -> Vec<SweepJob> {
    accounts
        .iter()
        .flat_map(|account| {
            regions.iter().map(move |region| SweepJob {
                kind: JOB_KIND.to_string(),
                version: 1,
                function: function.to_string(),
                sweep_id: sweep_id.to_string(),
                account: account.id.clone(),
                account_name: account.name.clone(),
                region: region.clone(),
                after: None,
                part: 0,
            })
        })
        .collect()
}

impl SweepJob {
    /// The job that goes on after `last`, the last resource this run checked (`None`: from where
    /// this run started).
    pub fn continuation(&self, last: Option<Cursor>) -> SweepJob {
        SweepJob {
            after: last,
            part: self.part + 1,
            ..self.clone()
        }
    }

    /// Whether a resource is still to do in this run: after the cursor, if there is one.
    pub fn includes(&self, resource: &Cursor) -> bool {
        self.after.as_ref().is_none_or(|after| resource > after)
    }

    /// Reads a queue message body; `None` when it is not a job.
    pub fn from_body(body: &str) -> Option<Result<SweepJob, String>> {
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(JOB_KIND) {
            return None;
        }
        Some(
            serde_json::from_value::<SweepJob>(value)
                .map_err(|err| format!("malformed sweep job: {err}"))
                .and_then(|job| match job.version {
                    1 if job.account.is_empty() || job.region.is_empty() => {
                        Err("sweep job without an account or region".to_string())
                    }
                    1 => Ok(job),
                    v => Err(format!(
                        "sweep job version {v} is not one this function reads (1)"
                    )),
                }),
        )
    }
}

/// Sorts a job's resources into its order, and keeps those after its cursor.
pub fn in_job_order<T>(job: &SweepJob, targets: Vec<T>, cursor: impl Fn(&T) -> Cursor) -> Vec<T> {
    let mut keyed: Vec<(Cursor, T)> = targets
        .into_iter()
        .map(|t| (cursor(&t), t))
        .filter(|(c, _)| job.includes(c))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(id: &str) -> Member {
        Member {
            id: id.into(),
            name: None,
        }
    }

    #[test]
    fn one_job_per_account_and_region() {
        let regions = vec!["us-east-1".to_string(), "eu-west-1".to_string()];
        let jobs = jobs(
            "open-security-group",
            "sweep-1",
            &[member("111111111111"), member("222222222222")],
            &regions,
        );
        let places: Vec<(&str, &str)> = jobs
            .iter()
            .map(|j| (j.account.as_str(), j.region.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                ("111111111111", "us-east-1"),
                ("111111111111", "eu-west-1"),
                ("222222222222", "us-east-1"),
                ("222222222222", "eu-west-1"),
            ]
        );
        assert!(jobs
            .iter()
            .all(|j| j.after.is_none() && j.part == 0 && j.sweep_id == "sweep-1"));
    }

    #[test]
    fn a_job_reads_back_what_it_wrote_and_nothing_else_is_a_job() {
        let job = jobs(
            "s3-public-access",
            "s",
            &[member("111111111111")],
            &["us-east-1".into()],
        )
        .remove(0)
        .continuation(Some(Cursor::at(ResourceType::S3Bucket, "b-0042")));
        let body = serde_json::to_string(&job).unwrap();
        assert_eq!(SweepJob::from_body(&body), Some(Ok(job)));
        // An event, a notification, junk: not jobs (the caller decides what they are).
        for other in [
            r#"{"detail-type":"Scheduled Event"}"#,
            "[]",
            "not json",
            r#"{"kind":"other"}"#,
        ] {
            assert_eq!(SweepJob::from_body(other), None, "{other}");
        }
        for broken in [
            r#"{"kind":"sweep-job","version":1}"#,
            r#"{"kind":"sweep-job","version":2,"function":"f","sweep_id":"s","account":"1","region":"r"}"#,
            r#"{"kind":"sweep-job","version":1,"function":"f","sweep_id":"s","account":"","region":"r"}"#,
        ] {
            assert!(
                matches!(SweepJob::from_body(broken), Some(Err(_))),
                "{broken}"
            );
        }
    }

    proptest! {
        /// However a job is cut into runs, the runs together check every resource exactly once, in order.
        #[test]
        fn continuations_reach_every_resource_exactly_once(
            ids in prop::collection::btree_set("[a-z0-9]{1,6}", 0..60),
            cuts in prop::collection::vec(1usize..15, 1..20),
            shuffle_seed in any::<u64>(),
        ) {
            let mut listed: Vec<String> = ids.iter().cloned().collect();
            // The listing's order is whatever AWS returns.
            let n = listed.len().max(1);
            listed.rotate_left((shuffle_seed as usize) % n);
            let cursor = |id: &String| Cursor::at(ResourceType::S3Bucket, id);
            let mut job = jobs("f", "s", &[member("111111111111")], &["us-east-1".into()]).remove(0);
            let mut checked: Vec<String> = Vec::new();
            let mut cuts = cuts.into_iter().cycle();
            for _run in 0..=ids.len() {
                let todo = in_job_order(&job, listed.clone(), cursor);
                let take = cuts.next().unwrap().min(todo.len());
                checked.extend(todo[..take].iter().cloned());
                if take == todo.len() {
                    break;
                }
                job = job.continuation(Some(cursor(&todo[take - 1])));
            }
            let expected: Vec<String> = ids.iter().cloned().collect();
            prop_assert_eq!(checked, expected);
        }
    }
}
