//! flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfigurations
//! (`ValidatePriorityLevelConfiguration`, `ValidateLimitResponse`,
//! `ValidatePriorityLevelQueuingConfiguration`; v1 defaults).

use super::default_field;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{present, str_at};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct PriorityLevelConfigurationStrategy;

impl Strategy for PriorityLevelConfigurationStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_priority_level(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_priority_level(obj)
    }
}

/// Shares 30 (Limited) or 0 (Exempt), lendable 0, queuing 64/8/50.
pub fn default_priority_level(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    if let Some(exempt) = spec.get_mut("exempt").filter(|e| e.is_object()) {
        default_field(exempt, "nominalConcurrencyShares", json!(0));
        default_field(exempt, "lendablePercent", json!(0));
    }
    let Some(limited) = spec.get_mut("limited").filter(|l| l.is_object()) else {
        return;
    };
    default_field(limited, "nominalConcurrencyShares", json!(30));
    default_field(limited, "lendablePercent", json!(0));
    let queuing = limited
        .get_mut("limitResponse")
        .and_then(|r| r.get_mut("queuing"))
        .filter(|q| q.is_object());
    if let Some(q) = queuing {
        for (key, value) in [("handSize", 8), ("queues", 64), ("queueLengthLimit", 50)] {
            if q.get(key).and_then(Value::as_i64).unwrap_or(0) == 0 {
                q[key] = json!(value);
            }
        }
    }
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// `ValidatePriorityLevelConfigurationSpec`.
pub fn validate_priority_level(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(obj, "/metadata/name");
    let type_ = str_at(obj, "/spec/type");
    if (type_ == "Exempt") != (name == "exempt") {
        errs.push(FieldError::invalid(
            "spec.type",
            type_,
            "type must be 'Exempt' if and only if name is 'exempt'",
        ));
    }
    let limited = present(obj, "/spec/limited");
    let exempt = present(obj, "/spec/exempt");
    match type_ {
        "Exempt" => {
            if limited.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.limited",
                    "must be nil if the type is not Limited",
                ));
            }
            if let Some(e) = exempt {
                errs.extend(validate_shares(e, "spec.exempt"));
            }
        }
        "Limited" => {
            if exempt.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.exempt",
                    "must be nil if the type is Limited",
                ));
            }
            match limited {
                None => errs.push(FieldError::required(
                    "spec.limited",
                    "must not be empty when type is Limited",
                )),
                Some(l) => errs.extend(validate_limited(l)),
            }
        }
        _ => errs.push(FieldError::not_supported(
            "spec.type",
            type_,
            &["Exempt", "Limited"],
        )),
    }
    errs
}

fn validate_shares(v: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let shares = int(v, "nominalConcurrencyShares");
    if shares < 0 {
        errs.push(FieldError::invalid(
            format!("{path}.nominalConcurrencyShares"),
            shares,
            "must be a non-negative integer",
        ));
    }
    let lendable = int(v, "lendablePercent");
    if !(0..=100).contains(&lendable) {
        errs.push(FieldError::invalid(
            format!("{path}.lendablePercent"),
            lendable,
            "must be between 0 and 100, inclusive",
        ));
    }
    errs
}

fn validate_limited(l: &Value) -> Vec<FieldError> {
    let mut errs = validate_shares(l, "spec.limited");
    if let Some(b) = l.get("borrowingLimitPercent").and_then(Value::as_i64) {
        if b < 0 {
            errs.push(FieldError::invalid(
                "spec.limited.borrowingLimitPercent",
                b,
                "if specified, must be a non-negative integer",
            ));
        }
    }
    let empty = json!({});
    let response = l.get("limitResponse").unwrap_or(&empty);
    let path = "spec.limited.limitResponse";
    let queuing = present(response, "/queuing");
    match str_at(response, "/type") {
        "Reject" if queuing.is_some() => errs.push(FieldError::forbidden(
            format!("{path}.queuing"),
            "must be nil if limited.limitResponse.type is not Limited",
        )),
        "Reject" => {}
        "Queue" => match queuing {
            None => errs.push(FieldError::required(
                format!("{path}.queuing"),
                "must not be empty if limited.limitResponse.type is Limited",
            )),
            Some(q) => errs.extend(validate_queuing(q, &format!("{path}.queuing"))),
        },
        other => errs.push(FieldError::not_supported(
            format!("{path}.type"),
            other,
            &["Queue", "Reject"],
        )),
    }
    errs
}

/// `ValidatePriorityLevelQueuingConfiguration` (without the entropy check).
fn validate_queuing(q: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (limit, queues, hand) = (
        int(q, "queueLengthLimit"),
        int(q, "queues"),
        int(q, "handSize"),
    );
    if limit <= 0 {
        errs.push(FieldError::invalid(
            format!("{path}.queueLengthLimit"),
            limit,
            "must be positive",
        ));
    }
    if queues <= 0 {
        errs.push(FieldError::invalid(
            format!("{path}.queues"),
            queues,
            "must be positive",
        ));
    } else if queues > 10_000_000 {
        errs.push(FieldError::invalid(
            format!("{path}.queues"),
            queues,
            "must not be greater than 10000000",
        ));
    }
    if hand <= 0 {
        errs.push(FieldError::invalid(
            format!("{path}.handSize"),
            hand,
            "must be positive",
        ));
    } else if hand > queues {
        errs.push(FieldError::invalid(
            format!("{path}.handSize"),
            hand,
            format!("should not be greater than queues ({queues})"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    #[test]
    fn defaults() {
        let mut pl = json!({"metadata": {"name": "workload"}, "spec": {"type": "Limited",
            "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}});
        default_priority_level(&mut pl);
        let l = &pl["spec"]["limited"];
        assert_eq!(l["nominalConcurrencyShares"], 30);
        assert_eq!(l["lendablePercent"], 0);
        assert_eq!(
            l["limitResponse"]["queuing"],
            json!({"handSize": 8, "queues": 64, "queueLengthLimit": 50})
        );
        assert!(validate_priority_level(&pl).is_empty());
    }

    #[test]
    fn invalid_levels() {
        let pl = json!({"metadata": {"name": "workload"}, "spec": {"type": "Limited",
            "limited": {"lendablePercent": 120, "limitResponse": {"type": "Queue",
                "queuing": {"queues": 4, "handSize": 8, "queueLengthLimit": 50}}}}});
        assert_eq!(
            strs(validate_priority_level(&pl)),
            [
                "spec.limited.lendablePercent: Invalid value: 120: must be between 0 and 100, inclusive",
                "spec.limited.limitResponse.queuing.handSize: Invalid value: 8: should not be greater than queues (4)",
            ]
        );
        let exempt = json!({"metadata": {"name": "mine"}, "spec": {"type": "Exempt"}});
        assert_eq!(
            strs(validate_priority_level(&exempt)),
            ["spec.type: Invalid value: \"Exempt\": type must be 'Exempt' if and only if name is 'exempt'"]
        );
        let missing = json!({"metadata": {"name": "x"}, "spec": {"type": "Limited"}});
        assert_eq!(
            strs(validate_priority_level(&missing)),
            ["spec.limited: Required value: must not be empty when type is Limited"]
        );
    }
}
