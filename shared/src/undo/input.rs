//! The message a person hands `remediation-undo`, pure: the JSON document itself, or any envelope it
//! travelled in: SNS (`Message`, as an HTTP/email-JSON subscriber or `aws sns` shows it), SQS (`Body`
//! from `aws sqs receive-message`, `body` in a Lambda SQS event, `Messages` / `Records` lists), or a
//! Lambda SNS event (`Records[].Sns.Message`). Several messages in one input are undone one by one.

use serde_json::Value;

use super::restore::Restore;
use crate::outcome::ResourceType;

/// One remediated resource to put back.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub outcome: String,
    pub function: String,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub account: String,
    pub region: String,
    /// Empty when the message records no change (a dry run, a skip).
    pub restore: Restore,
}

/// Envelopes nest (SNS in SQS in a Lambda event); deeper than this is not a message.
const MAX_DEPTH: usize = 6;

/// Every message in `text`; `Err` says why the input is not one.
pub fn requests(text: &str) -> Result<Vec<Request>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the input is not JSON: {e}"))?;
    let mut documents = Vec::new();
    unwrap(&value, 0, &mut documents)?;
    if documents.is_empty() {
        return Err("the input holds no remediation message".to_string());
    }
    documents.iter().map(request).collect()
}

fn unwrap(value: &Value, depth: usize, out: &mut Vec<Value>) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("the input nests envelopes deeper than any AWS delivery does".to_string());
    }
    if value.get("resource_type").is_some() && value.get("outcome").is_some() {
        out.push(value.clone());
        return Ok(());
    }
    if let Some(items) = value.as_array() {
        return items
            .iter()
            .try_for_each(|item| unwrap(item, depth + 1, out));
    }
    for list in ["Records", "Messages"] {
        if let Some(items) = value.get(list).and_then(Value::as_array) {
            return items
                .iter()
                .try_for_each(|item| unwrap(item, depth + 1, out));
        }
    }
    if let Some(sns) = value.get("Sns") {
        return unwrap(sns, depth + 1, out);
    }
    for field in ["Message", "Body", "body"] {
        if let Some(inner) = value.get(field).and_then(Value::as_str) {
            let inner: Value = serde_json::from_str(inner)
                .map_err(|e| format!("its {field} is not a JSON document: {e}"))?;
            return unwrap(&inner, depth + 1, out);
        }
    }
    Err(
        "the input is neither a remediation message nor an SNS or SQS envelope around one"
            .to_string(),
    )
}

fn request(document: &Value) -> Result<Request, String> {
    let text = |name: &str| document[name].as_str().unwrap_or_default().to_string();
    let kind = text("resource_type");
    let resource_type = ResourceType::ALL
        .into_iter()
        .find(|t| t.as_str() == kind)
        .ok_or_else(|| format!("unknown resource_type {kind:?}"))?;
    let resource_id = text("resource_id");
    if resource_id.is_empty() {
        return Err("the message has no resource_id".to_string());
    }
    if let Some(omitted) = document["restore_omitted"].as_str() {
        return Err(format!(
            "the message for {resource_id} does not carry its undo: {omitted}; save that log line's restore (prior, after, undo) as JSON with this message's fields and run again"
        ));
    }
    let restore: Restore = serde_json::from_value(document.clone())
        .map_err(|e| format!("its prior / after / undo are not readable: {e}"))?;
    for call in &restore.undo {
        if let Some(part) = call
            .restores
            .iter()
            .find(|p| !restore.prior.contains_key(*p))
        {
            return Err(format!(
                "undo call {} restores {part:?}, which prior does not record",
                call.operation
            ));
        }
    }
    Ok(Request {
        outcome: text("outcome"),
        function: text("function"),
        resource_type,
        resource_id,
        account: text("account"),
        region: text("region"),
        restore,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn document() -> Value {
        json!({"version": 1, "function": "open-security-group", "outcome": "remediated",
               "resource_type": "security-group", "resource_id": "sg-1", "account": "123456789012",
               "region": "eu-west-1", "reason": "r", "changes": ["revoked tcp 22 from 0.0.0.0/0"],
               "trigger": {"source": "cloudtrail", "event_id": "e", "detail": "d"},
               "prior": {"ingress": []}, "after": {"ingress": []},
               "undo": [{"service": "ec2", "operation": "AuthorizeSecurityGroupIngress",
                         "parameters": {"GroupId": "sg-1", "IpPermissions": []}, "restores": ["ingress"]}]})
    }

    #[test]
    fn the_document_is_found_in_every_envelope_it_travels_in() {
        let doc = document();
        let text = doc.to_string();
        let sns = json!({"Type": "Notification", "MessageId": "m", "Message": text});
        let sqs_cli = json!({"Messages": [{"MessageId": "q", "Body": sns.to_string()}]});
        let sqs_lambda = json!({"Records": [{"eventSource": "aws:sqs", "body": sns.to_string()}]});
        let sns_lambda = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": text}}]});
        let raw_sqs = json!({"Records": [{"body": text}]});
        for input in [doc.clone(), sns, sqs_cli, sqs_lambda, sns_lambda, raw_sqs] {
            let found = requests(&input.to_string()).unwrap();
            assert_eq!(found.len(), 1, "{input}");
            assert_eq!(found[0].resource_id, "sg-1");
            assert_eq!(found[0].region, "eu-west-1");
            assert_eq!(
                found[0].restore.undo[0].operation,
                "AuthorizeSecurityGroupIngress"
            );
        }
        let two = json!({"Records": [{"body": text}, {"body": text}]});
        assert_eq!(requests(&two.to_string()).unwrap().len(), 2);
    }

    #[test]
    fn what_is_not_a_message_is_said_plainly() {
        for (input, says) in [
            ("not json", "not JSON"),
            ("{}", "neither"),
            ("[]", "no remediation message"),
            (r#"{"Message": "{oops"}"#, "Message is not a JSON document"),
            (
                r#"{"outcome": "remediated", "resource_type": "disk", "resource_id": "x"}"#,
                "unknown resource_type",
            ),
        ] {
            let err = requests(input).unwrap_err();
            assert!(err.contains(says), "{input}: {err}");
        }
        let mut doc = document();
        doc["undo"][0]["restores"] = json!(["acl"]);
        assert!(requests(&doc.to_string())
            .unwrap_err()
            .contains("prior does not record"));
        // A dry run records nothing to undo: read, with an empty restore.
        let dry = json!({"outcome": "dry-run", "resource_type": "s3-bucket", "resource_id": "b"});
        assert!(requests(&dry.to_string()).unwrap()[0].restore.is_empty());
    }

    proptest! {
        /// Hostile input: never a panic, whatever the bytes or the nesting.
        #[test]
        fn any_input_is_read_or_refused_without_a_panic(text in ".{0,200}", depth in 0usize..12) {
            let _ = requests(&text);
            let mut nested = json!({"Message": text});
            for _ in 0..depth {
                nested = json!({"Records": [{"body": nested.to_string()}]});
            }
            let _ = requests(&nested.to_string());
        }
    }
}
