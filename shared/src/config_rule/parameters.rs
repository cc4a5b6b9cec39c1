//! A rule's parameters (`ruleParameters`) over the function's settings (pure).

use serde_json::Value;

use super::policy::{DEFAULT_RESOURCE_TYPES, RESOURCE_TYPES};
use crate::config::{parse_required_tags, PortSet, Settings};

#[derive(Debug, thiserror::Error)]
#[error("invalid rule parameter {name}={value}: {reason}")]
pub struct ParameterError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// The settings and resource types one rule evaluates with.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleScope {
    pub settings: Settings,
    pub resource_types: Vec<&'static str>,
}

/// The function's settings, overridden by the rule's `ruleParameters`
/// (`resourceTypes`, `allowedPublicPorts`, `requiredTags`, `exemptTag`).
pub fn rule_scope(defaults: &Settings, parameters: &Value) -> Result<RuleScope, ParameterError> {
    let mut scope = RuleScope {
        settings: defaults.clone(),
        resource_types: DEFAULT_RESOURCE_TYPES.to_vec(),
    };
    let Some(parameters) = parameters.as_object() else {
        return Ok(scope);
    };
    for (name, value) in parameters {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        let error = |reason: String| ParameterError {
            name: name.clone(),
            value: text.clone(),
            reason,
        };
        match name.as_str() {
            "resourceTypes" => {
                let mut types = Vec::new();
                for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match RESOURCE_TYPES.iter().find(|t| **t == part) {
                        Some(t) => types.push(*t),
                        None => {
                            return Err(error(format!(
                                "{part} is not one of {}",
                                RESOURCE_TYPES.join(", ")
                            )))
                        }
                    }
                }
                if !types.is_empty() {
                    scope.resource_types = types;
                }
            }
            "allowedPublicPorts" => {
                scope.settings.allowed_public_ports = PortSet::parse(&text).map_err(error)?;
            }
            "requiredTags" => {
                scope.settings.required_tags = parse_required_tags(&text).map_err(error)?;
            }
            "exemptTag" => {
                if text.is_empty() {
                    return Err(error("the exemption tag key is empty".to_string()));
                }
                scope.settings.exempt_tag = text.clone();
            }
            _ => tracing::warn!(parameter = %name, "unknown rule parameter ignored"),
        }
    }
    Ok(scope)
}
