//! A bucket policy's statements, pure: which of them make the bucket public, and the policy without
//! them.
//!
//! S3's own judgement (`GetBucketPolicyStatus` -> `IsPublic`) decides whether a bucket is exposed by
//! its policy; this module only names the statements responsible and, with `PUBLIC_POLICY=remove`,
//! writes the policy without them. The rule follows S3's documented meaning of "public" (API
//! reference, `PublicAccessBlockConfiguration`): an `Allow` to a wildcard principal is public unless
//! a condition fixes it to specific values of `aws:SourceIp` (a set of CIDRs), `aws:SourceArn`,
//! `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`, `aws:SourceAccount`,
//! `s3:x-amz-server-side-encryption-aws-kms-key-id` or `aws:userid` (outside `AROLEID:*`); the
//! principal-identity keys (`aws:PrincipalOrgID`, `aws:PrincipalAccount`, `aws:PrincipalArn`, ...) fix
//! the principal the same way. A condition on anything else (`aws:SecureTransport`, `aws:Referer`)
//! does not make a statement private.
//!
//! Kept statements are copied byte for byte from the original text.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Condition keys that, fixed to specific values with a positive operator, keep a wildcard
/// principal from being public (lower case: IAM condition keys are case-insensitive).
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "aws:userid",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Operators that fix a key to the listed values. Negated operators (`StringNotEquals`), the
/// `...IfExists` forms (a request without the key passes) and `ForAllValues:` (an empty set passes)
/// restrict nothing.
const FIXING_OPERATORS: &[&str] = &[
    "stringequals",
    "stringequalsignorecase",
    "stringlike",
    "arnequals",
    "arnlike",
];

/// A statement that makes the bucket public, as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicStatement {
    /// Position in the policy's `Statement` list, from 0.
    pub index: usize,
    /// The `Sid`, or `#2` (position from 1) when it has none.
    pub label: String,
    /// `*`, or `everyone except ...` for a `NotPrincipal`.
    pub principal: String,
    /// `s3:GetObject, s3:ListBucket`, or `every action except ...` for a `NotAction`.
    pub actions: String,
}

impl PublicStatement {
    /// `statement "PublicRead" (Principal *, s3:GetObject)`.
    pub fn describe(&self) -> String {
        let name = if self.label.starts_with('#') {
            format!("statement {}", self.label)
        } else {
            format!("statement \"{}\"", self.label)
        };
        format!("{name} (Principal {}, {})", self.principal, self.actions)
    }
}

/// A bucket policy as S3 returned it: its statements parsed, and each one's original text.
#[derive(Debug)]
pub struct PolicyDocument {
    version: Option<Box<RawValue>>,
    id: Option<Box<RawValue>>,
    raw: Vec<Box<RawValue>>,
    statements: Vec<Value>,
}

#[derive(Deserialize)]
struct Layout {
    #[serde(rename = "Version")]
    version: Option<Box<RawValue>>,
    #[serde(rename = "Id")]
    id: Option<Box<RawValue>>,
    #[serde(rename = "Statement")]
    statement: Box<RawValue>,
}

impl PolicyDocument {
    /// Reads a policy document; `Statement` may be one object or a list of them.
    pub fn parse(text: &str) -> Result<Self, String> {
        let layout: Layout =
            serde_json::from_str(text).map_err(|e| format!("unreadable bucket policy: {e}"))?;
        let statement = layout.statement.get().trim_start();
        let raw: Vec<Box<RawValue>> = if statement.starts_with('[') {
            serde_json::from_str(statement).map_err(|e| format!("unreadable Statement: {e}"))?
        } else {
            vec![layout.statement]
        };
        let statements = raw
            .iter()
            .map(|r| serde_json::from_str(r.get()))
            .collect::<Result<Vec<Value>, _>>()
            .map_err(|e| format!("unreadable statement: {e}"))?;
        Ok(PolicyDocument {
            version: layout.version,
            id: layout.id,
            raw,
            statements,
        })
    }

    pub fn statements(&self) -> &[Value] {
        &self.statements
    }

    /// The statements that make the bucket public, in policy order.
    pub fn public_statements(&self) -> Vec<PublicStatement> {
        self.statements
            .iter()
            .enumerate()
            .filter(|(_, s)| is_public_statement(s))
            .map(|(index, s)| describe_statement(index, s))
            .collect()
    }

    /// The policy text without the statements at `removed`; `None` when no statement is left (the
    /// policy is then deleted, since S3 refuses a policy without statements).
    pub fn without(&self, removed: &[usize]) -> Option<String> {
        let kept: Vec<&str> = self
            .raw
            .iter()
            .enumerate()
            .filter(|(i, _)| !removed.contains(i))
            .map(|(_, r)| r.get())
            .collect();
        if kept.is_empty() {
            return None;
        }
        let mut text = String::from("{");
        if let Some(version) = &self.version {
            text.push_str(&format!("\"Version\":{},", version.get()));
        }
        if let Some(id) = &self.id {
            text.push_str(&format!("\"Id\":{},", id.get()));
        }
        text.push_str(&format!("\"Statement\":[{}]}}", kept.join(",")));
        Some(text)
    }
}

/// Whether one statement, by itself, makes the bucket public.
pub fn is_public_statement(statement: &Value) -> bool {
    let allows = statement
        .get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("Allow"));
    allows && principal_is_public(statement) && !condition_restricts(statement.get("Condition"))
}

/// `Principal: "*"`, a `*` under any principal type, or a `NotPrincipal` (everyone but the listed).
fn principal_is_public(statement: &Value) -> bool {
    if statement.get("NotPrincipal").is_some() {
        return true;
    }
    match statement.get("Principal") {
        Some(Value::String(p)) => p.trim() == "*",
        Some(Value::Object(types)) => types
            .values()
            .any(|v| values(v).iter().any(|p| p.trim() == "*")),
        _ => false,
    }
}

/// Whether some condition fixes the requester to specific values (then the statement is not public).
fn condition_restricts(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.iter().any(|(operator, keys)| {
        let operator = operator.to_ascii_lowercase();
        let operator = operator.strip_prefix("foranyvalue:").unwrap_or(&operator);
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().any(|(key, value)| {
            let key = key.to_ascii_lowercase();
            let fixed = values(value);
            if fixed.is_empty() {
                return false;
            }
            if key == "aws:sourceip" {
                return operator == "ipaddress" && fixed.iter().all(|cidr| narrow_cidr(cidr));
            }
            RESTRICTING_KEYS.contains(&key.as_str())
                && FIXING_OPERATORS.contains(&operator)
                && fixed.iter().all(|v| !v.contains('*') && !v.contains('?'))
        })
    })
}

/// A CIDR that fixes who may ask: IPv4 `/8` or narrower, IPv6 `/32` or narrower. A wider range
/// (`0.0.0.0/1`) lets so much of the internet in that the statement stays public.
fn narrow_cidr(cidr: &str) -> bool {
    match crate::cidr::parse(cidr) {
        Some((IpAddr::V4(_), prefix)) => prefix >= 8,
        Some((IpAddr::V6(_), prefix)) => prefix >= 32,
        None => false,
    }
}

/// A string or a list of strings (anything else contributes nothing).
fn values(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn describe_statement(index: usize, statement: &Value) -> PublicStatement {
    let label = statement
        .get("Sid")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(String::from)
        .unwrap_or_else(|| format!("#{}", index + 1));
    let principal = match statement.get("NotPrincipal") {
        Some(not) => format!("everyone except {}", compact(not)),
        None => "*".to_string(),
    };
    let actions = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(action), _) => values(action).join(", "),
        (None, Some(not)) => format!("every action except {}", values(not).join(", ")),
        (None, None) => "no action".to_string(),
    };
    PublicStatement {
        index,
        label,
        principal,
        actions,
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::Object(types) => types
            .values()
            .flat_map(values)
            .collect::<Vec<_>>()
            .join(", "),
        other => values(other).join(", "),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn public(statement: Value) -> bool {
        is_public_statement(&statement)
    }

    #[test]
    fn a_wildcard_principal_without_a_fixing_condition_is_public() {
        assert!(public(
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"})
        ));
        assert!(public(
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*"})
        ));
        assert!(public(
            json!({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}, "Action": "s3:GetObject"})
        ));
        assert!(public(
            json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject"})
        ));
        // Conditions that say nothing about who asks.
        assert!(public(
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
        ));
        assert!(public(
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"StringLike": {"aws:Referer": "https://example.com/*"}}})
        ));
    }

    #[test]
    fn fixed_principals_denies_and_fixing_conditions_are_not_public() {
        assert!(!public(
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*"})
        ));
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject"})
        ));
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject"})
        ));
        for condition in [
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}),
            json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}),
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}}),
            json!({"ForAnyValue:StringEquals": {"AWS:SourceAccount": ["111122223333"]}}),
        ] {
            let statement = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": condition});
            assert!(!public(statement.clone()), "{statement}");
        }
    }

    #[test]
    fn conditions_that_fix_nothing_leave_the_statement_public() {
        for condition in [
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}),
            json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
            json!({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
            json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}),
            json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
            json!({"StringEquals": {"aws:SourceVpce": []}}),
        ] {
            let statement = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": condition});
            assert!(public(statement.clone()), "{statement}");
        }
    }

    #[test]
    fn public_statements_are_named_by_sid_else_by_position() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
                {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"},
                {"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"NotAction":"s3:DeleteBucket","Resource":"*"}]}"#,
        )
        .unwrap();
        let described: Vec<String> = doc
            .public_statements()
            .iter()
            .map(PublicStatement::describe)
            .collect();
        assert_eq!(
            described,
            [
                "statement \"PublicRead\" (Principal *, s3:GetObject, s3:ListBucket)",
                "statement #3 (Principal everyone except arn:aws:iam::111122223333:root, every action except s3:DeleteBucket)",
            ]
        );
    }

    #[test]
    fn the_rewrite_keeps_other_statements_byte_for_byte_and_deletes_when_none_is_left() {
        let partner = r#"{ "Sid" : "PartnerRead",  "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*" }"#;
        let text = format!(
            r#"{{"Version":"2012-10-17","Id":"p1","Statement":[{partner},{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}]}}"#
        );
        let doc = PolicyDocument::parse(&text).unwrap();
        let kept = doc.without(&[1]).unwrap();
        assert_eq!(
            kept,
            format!(r#"{{"Version":"2012-10-17","Id":"p1","Statement":[{partner}]}}"#)
        );
        assert_eq!(doc.without(&[0, 1]), None);

        let single = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#,
        )
        .unwrap();
        assert_eq!(single.public_statements().len(), 1);
        assert_eq!(single.without(&[0]), None);
    }

    #[test]
    fn unreadable_policies_are_an_error_not_a_panic() {
        for text in [
            "",
            "[]",
            "{}",
            r#"{"Statement": 5}"#,
            r#"{"Statement": [1, "x"]}"#,
            "{\"Statement\": [",
        ] {
            let parsed = PolicyDocument::parse(text);
            if let Ok(doc) = parsed {
                // A statement that is not an object is never public.
                assert!(doc.public_statements().is_empty(), "{text}");
            }
        }
    }

    /// A generated statement and whether it is public, decided by how it was generated (not by the
    /// function under test).
    pub(crate) fn statement() -> impl Strategy<Value = (Value, bool)> {
        let principal = prop_oneof![
            Just((json!("*"), true)),
            Just((json!({"AWS": "*"}), true)),
            Just((
                json!({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
                true
            )),
            Just((json!({"AWS": "arn:aws:iam::111122223333:root"}), false)),
            Just((json!({"Service": "cloudtrail.amazonaws.com"}), false)),
            Just((
                json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
                false
            )),
        ];
        let condition = prop_oneof![
            Just((None, false)),
            Just((
                Some(json!({"Bool": {"aws:SecureTransport": "true"}})),
                false
            )),
            Just((
                Some(json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}})),
                false
            )),
            Just((
                Some(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})),
                false
            )),
            Just((
                Some(json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}})),
                true
            )),
            Just((
                Some(json!({"StringEquals": {"aws:SourceVpce": "vpce-1"}})),
                true
            )),
            Just((
                Some(json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}})),
                true
            )),
        ];
        let effect = prop_oneof![Just(("Allow", true)), Just(("Deny", false))];
        let sid = proptest::option::of("[A-Za-z0-9]{1,8}");
        let actions = proptest::sample::subsequence(
            vec!["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:*"],
            1..=3,
        );
        (principal, condition, effect, sid, actions).prop_map(
            |((principal, public_principal), (condition, restricts), (effect, allows), sid, actions)| {
                let mut statement = json!({"Effect": effect, "Principal": principal, "Action": actions, "Resource": "arn:aws:s3:::b/*"});
                if let Some(sid) = sid {
                    statement["Sid"] = json!(sid);
                }
                if let Some(condition) = condition {
                    statement["Condition"] = condition;
                }
                (statement, allows && public_principal && !restricts)
            },
        )
    }

    proptest! {
        #[test]
        fn removing_public_statements_removes_exactly_those_and_keeps_the_rest_exactly(
            statements in proptest::collection::vec(statement(), 1..8),
            pretty in any::<bool>(),
        ) {
            let policy = json!({"Version": "2012-10-17", "Statement": statements.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>()});
            let text = if pretty { serde_json::to_string_pretty(&policy).unwrap() } else { policy.to_string() };
            let doc = PolicyDocument::parse(&text).unwrap();
            let public = doc.public_statements();
            let removed: Vec<usize> = public.iter().map(|p| p.index).collect();
            let expected: Vec<usize> = statements.iter().enumerate().filter(|(_, (_, p))| *p).map(|(i, _)| i).collect();
            prop_assert_eq!(&removed, &expected, "never removes a private statement, never leaves a public one");

            let kept: Vec<Value> = statements.iter().filter(|(_, p)| !p).map(|(s, _)| s.clone()).collect();
            match doc.without(&removed) {
                None => prop_assert!(kept.is_empty()),
                Some(rewritten) => {
                    let again = PolicyDocument::parse(&rewritten).unwrap();
                    prop_assert_eq!(again.statements(), kept.as_slice());
                    prop_assert!(again.public_statements().is_empty());
                    let value: Value = serde_json::from_str(&rewritten).unwrap();
                    prop_assert_eq!(&value["Version"], &json!("2012-10-17"));
                    // Each kept statement's text appears exactly as it was written.
                    for (raw, statement) in doc.raw.iter().zip(doc.statements()) {
                        if !is_public_statement(statement) {
                            prop_assert!(rewritten.contains(raw.get()));
                        }
                    }
                }
            }
        }
    }
}
