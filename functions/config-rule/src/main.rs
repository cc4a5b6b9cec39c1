//! Backs custom AWS Config rules (`CUSTOM_LAMBDA`): evaluates S3 buckets, security groups and
//! instances with the same policies the remediation functions enforce, and reports the results with
//! PutEvaluations. ALLOWED_PUBLIC_PORTS, REQUIRED_TAGS and EXEMPT_TAG are the defaults; a rule's
//! `ruleParameters` override them.

use remediation::config_rule::ConfigRule;

fn main() -> Result<(), remediation::Error> {
    remediation::run("config-rule", ConfigRule::from_sdk_config)
}
