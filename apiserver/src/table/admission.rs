//! admissionregistration.k8s.io webhook configurations and admission
//! policies (printers.go `printMutatingWebhook`, `printValidatingWebhook`,
//! `printValidatingAdmissionPolicy`, `printValidatingAdmissionPolicyBinding`,
//! `printMutatingAdmissionPolicy`, `printMutatingAdmissionPolicyBinding`).

use super::{age_cell, age_col, arr_at, col, get, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Mutating and validating webhook configurations: NAME WEBHOOKS AGE.
pub struct WebhookConfigurationPrinter;

impl Printer for WebhookConfigurationPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Webhooks",
                "integer",
                "Webhooks indicates the number of webhooks registered in this configuration",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let n = arr_at(obj, "/webhooks").len() as i64;
        vec![name_cell(obj), Value::from(n), age_cell(obj, now)]
    }
}

/// Validating and mutating admission policies: the rule count column is
/// VALIDATIONS or MUTATIONS.
pub struct PolicyPrinter {
    count_column: &'static str,
    count_desc: &'static str,
    /// The spec field holding the rules.
    rules: &'static str,
}

pub static VALIDATING_POLICY: PolicyPrinter = PolicyPrinter {
    count_column: "Validations",
    count_desc:
        "Validations indicates the number of validation rules defined in this configuration",
    rules: "/spec/validations",
};

pub static MUTATING_POLICY: PolicyPrinter = PolicyPrinter {
    count_column: "Mutations",
    count_desc: "Mutation indicates the number of mutations rules defined in this configuration",
    rules: "/spec/mutations",
};

impl Printer for PolicyPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(self.count_column, "integer", self.count_desc),
            col(
                "ParamKind",
                "string",
                "ParamKind specifies the kind of resources used to parameterize this policy",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let param_kind = match get(obj, "/spec/paramKind") {
            None => "<unset>".to_string(),
            Some(k) => format!("{}/{}", str_at(k, "/apiVersion"), str_at(k, "/kind")),
        };
        vec![
            name_cell(obj),
            Value::from(arr_at(obj, self.rules).len() as i64),
            Value::from(param_kind),
            age_cell(obj, now),
        ]
    }
}

/// Validating and mutating admission policy bindings.
pub struct PolicyBindingPrinter;

impl Printer for PolicyBindingPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "PolicyName",
                "string",
                "PolicyName indicates the policy definition which the policy binding binded to",
            ),
            col(
                "ParamRef",
                "string",
                "ParamRef indicates the param resource which sets the configration param",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/policyName")),
            Value::from(param_ref(get(obj, "/spec/paramRef"))),
            age_cell(obj, now),
        ]
    }
}

/// `namespace/name` (`*/name` without a namespace), else the selector in
/// its Go debug form, else `<unset>`.
fn param_ref(pr: Option<&Value>) -> String {
    let Some(pr) = pr else {
        return "<unset>".to_string();
    };
    match (str_at(pr, "/name"), str_at(pr, "/namespace")) {
        ("", _) => match get(pr, "/selector") {
            Some(sel) => selector_debug_string(sel),
            None => "<unset>".to_string(),
        },
        (name, "") => format!("*/{}", name),
        (name, ns) => format!("{}/{}", ns, name),
    }
}

/// metav1.LabelSelector's generated `String()`, which is what the upstream
/// printer shows for a selector param reference, e.g.
/// `&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]LabelSelectorRequirement{},}`.
fn selector_debug_string(sel: &Value) -> String {
    let mut labels: Vec<(&String, &str)> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let labels: String = labels
        .iter()
        .map(|(k, v)| format!("{}: {},", k, v))
        .collect();
    let exprs: String = arr_at(sel, "/matchExpressions")
        .iter()
        .map(|e| {
            let values: Vec<&str> = arr_at(e, "/values")
                .iter()
                .map(|v| v.as_str().unwrap_or(""))
                .collect();
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                str_at(e, "/key"),
                str_at(e, "/operator"),
                values.join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{}}},MatchExpressions:[]LabelSelectorRequirement{{{}}},}}",
        labels, exprs
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    use crate::table::testutil::names;

    #[test]
    fn webhook_configuration() {
        assert_eq!(
            names(&WebhookConfigurationPrinter),
            ["Name", "Webhooks", "Age"]
        );
        let w = json!({"metadata": {"name": "cert-manager", "creationTimestamp": ago(30)},
            "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]});
        assert_eq!(
            WebhookConfigurationPrinter.cells(&w, now()),
            vec![json!("cert-manager"), json!(2), json!("30s")]
        );
        assert_eq!(
            WebhookConfigurationPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(0), json!("<unknown>")]
        );
    }

    #[test]
    fn policies() {
        assert_eq!(
            names(&VALIDATING_POLICY),
            ["Name", "Validations", "ParamKind", "Age"]
        );
        assert_eq!(
            names(&MUTATING_POLICY),
            ["Name", "Mutations", "ParamKind", "Age"]
        );
        let vap = json!({"metadata": {"name": "replicas", "creationTimestamp": ago(600)},
            "spec": {"paramKind": {"apiVersion": "rules.example.com/v1", "kind": "ReplicaLimit"},
                     "validations": [{"expression": "object.spec.replicas <= 5"}]}});
        assert_eq!(
            VALIDATING_POLICY.cells(&vap, now()),
            vec![
                json!("replicas"),
                json!(1),
                json!("rules.example.com/v1/ReplicaLimit"),
                json!("10m")
            ]
        );
        assert_eq!(
            MUTATING_POLICY.cells(&json!({}), now()),
            vec![json!(""), json!(0), json!("<unset>"), json!("<unknown>")]
        );
    }

    #[test]
    fn bindings() {
        assert_eq!(
            names(&PolicyBindingPrinter),
            ["Name", "PolicyName", "ParamRef", "Age"]
        );
        let b = json!({"metadata": {"name": "replicas-test", "creationTimestamp": ago(5)},
            "spec": {"policyName": "replicas", "paramRef": {"name": "limit", "namespace": "default"},
                     "validationActions": ["Deny"]}});
        assert_eq!(
            PolicyBindingPrinter.cells(&b, now()),
            vec![
                json!("replicas-test"),
                json!("replicas"),
                json!("default/limit"),
                json!("5s")
            ]
        );
        assert_eq!(param_ref(Some(&json!({"name": "limit"}))), "*/limit");
        let sel = json!({"selector": {"matchLabels": {"tier": "prod", "app": "x"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}});
        assert_eq!(
            param_ref(Some(&sel)),
            "&LabelSelector{MatchLabels:map[string]string{app: x,tier: prod,},\
             MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:env,Operator:In,Values:[a b],},},}"
        );
        assert_eq!(param_ref(Some(&json!({}))), "<unset>");
        assert_eq!(
            PolicyBindingPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!("<unset>"), json!("<unknown>")]
        );
    }
}
