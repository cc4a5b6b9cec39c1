//! Lenient readers for the JSON shapes AWS events use (`events/README.md` in the repository, "Shapes
//! to expect", lists them).
//!
//! CloudTrail renders XML bodies and HTTP headers as JSON, so the same field can be a string or an
//! array of strings, one element or a list, and EC2 lists are `{"items": [...]}` or `{}`.

use serde_json::Value;

/// A field looked up by name, ignoring ASCII case (`Host` and `host` both occur).
pub fn field_ignore_case<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The string values of a header-like field: `"x"`, `["x", "y"]`, or nothing.
pub fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// One XML element or several: an object is a list of one, an array is itself, anything else is empty.
pub fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// An EC2 list: `{"items": [...]}` (or `{"item": [...]}`), `{}` for empty, or a plain array.
pub fn ec2_items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => {
            let inner = map.get("items").or_else(|| map.get("item"));
            match inner {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(v @ Value::Object(_)) => vec![v],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// A field that holds JSON either as an object or as a string of JSON, as AWS Config items do
/// (`supplementaryConfiguration.AccessControlList`, `configuration`); `Null` when absent or unreadable.
pub fn embedded_json(value: Option<&Value>) -> Value {
    match value {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// A non-empty string field.
pub fn str_field<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object.get(name)?.as_str().filter(|s| !s.is_empty())
}

/// A number that may also arrive as a string (`"22"`).
pub fn number_field(object: &Value, name: &str) -> Option<i64> {
    match object.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An AWS Config configuration item's `tags` map, as (key, value) pairs.
pub fn config_item_tags(item: &Value) -> Vec<(String, String)> {
    item.get("tags")
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn header_values_accept_string_and_array_in_any_case() {
        let newer = json!({"x-amz-acl": "public-read"});
        let older = json!({"X-Amz-Acl": ["public-read", "private"]});
        assert_eq!(
            strings(field_ignore_case(&newer, "x-amz-acl")),
            ["public-read"]
        );
        assert_eq!(
            strings(field_ignore_case(&older, "x-amz-acl")),
            ["public-read", "private"]
        );
        assert!(strings(field_ignore_case(&json!({}), "x-amz-acl")).is_empty());
        assert!(strings(Some(&json!(7))).is_empty());
    }

    #[test]
    fn xml_elements_are_one_or_many() {
        assert_eq!(one_or_many(Some(&json!({"a": 1}))).len(), 1);
        assert_eq!(one_or_many(Some(&json!([{"a": 1}, {"a": 2}]))).len(), 2);
        assert!(one_or_many(Some(&json!("x"))).is_empty());
        assert!(one_or_many(None).is_empty());
    }

    #[test]
    fn ec2_lists_in_every_shape() {
        assert_eq!(ec2_items(Some(&json!({"items": [1, 2]}))).len(), 2);
        assert_eq!(ec2_items(Some(&json!({"item": [1]}))).len(), 1);
        assert!(ec2_items(Some(&json!({}))).is_empty());
        assert_eq!(ec2_items(Some(&json!([1, 2, 3]))).len(), 3);
        assert!(ec2_items(Some(&Value::Null)).is_empty());
    }

    #[test]
    fn numbers_as_numbers_or_strings() {
        let v = json!({"a": 22, "b": "443", "c": 8.0, "d": "x", "e": null});
        assert_eq!(number_field(&v, "a"), Some(22));
        assert_eq!(number_field(&v, "b"), Some(443));
        assert_eq!(number_field(&v, "c"), Some(8));
        assert_eq!(number_field(&v, "d"), None);
        assert_eq!(number_field(&v, "e"), None);
    }
}
