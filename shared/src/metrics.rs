//! Metrics from the logs: one CloudWatch Embedded Metric Format (EMF) line per outcome of an invocation,
//! so that CloudWatch counts resources per function and outcome without a single extra API call
//! (CloudWatch User Guide, "Embedded metric format specification"). Lambda passes a line that is
//! already JSON through unchanged, with the JSON log format too.

use std::collections::BTreeMap;

use serde_json::json;

use crate::invocation::ReportOutcome;

/// The namespace of the metrics; dimensions `function` (the Lambda function's name) and `outcome`.
pub const NAMESPACE: &str = "Remediation";
/// The metric: how many resources (or events, for `ignored` and `unfinished`) ended with the outcome.
pub const METRIC: &str = "Resources";

/// The EMF lines for one invocation's summary, at `timestamp_ms` (milliseconds since the epoch).
pub fn emf_lines(
    function: &str,
    summary: &BTreeMap<ReportOutcome, usize>,
    timestamp_ms: u128,
) -> Vec<String> {
    summary
        .iter()
        .map(|(outcome, count)| {
            json!({
                "_aws": {
                    "Timestamp": timestamp_ms as u64,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["function", "outcome"]],
                        "Metrics": [{"Name": METRIC, "Unit": "Count"}],
                    }],
                },
                "function": function,
                "outcome": outcome.as_str(),
                METRIC: count,
            })
            .to_string()
        })
        .collect()
}

/// Writes the invocation's metrics to standard output, where Lambda sends them to CloudWatch Logs.
/// The function is named as Lambda knows it (`AWS_LAMBDA_FUNCTION_NAME`, unique per stack), else by
/// its binary's name.
pub fn emit(binary: &str, summary: &BTreeMap<ReportOutcome, usize>) {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| binary.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    for line in emf_lines(&function, summary, now) {
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeKind;
    use serde_json::Value;

    #[test]
    fn one_line_per_outcome_in_the_embedded_metric_format() {
        let mut summary = BTreeMap::new();
        summary.insert(ReportOutcome::Resource(OutcomeKind::Remediated), 3);
        summary.insert(ReportOutcome::Unfinished, 1);
        let lines = emf_lines("stack-S3PublicAccess-abc", &summary, 1_700_000_000_000);
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directive = &first["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["function", "outcome"]]));
        assert_eq!(directive["Metrics"][0]["Name"], METRIC);
        // Every dimension and metric the directive names is a member of the line (EMF requires it).
        assert_eq!(first["function"], "stack-S3PublicAccess-abc");
        assert_eq!(first["outcome"], "remediated");
        assert_eq!(first[METRIC], 3);
        let second: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            (second["outcome"].as_str(), second[METRIC].as_u64()),
            (Some("unfinished"), Some(1))
        );
    }
}
