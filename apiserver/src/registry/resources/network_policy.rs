//! networking.k8s.io/v1 NetworkPolicies (`pkg/registry/networking/networkpolicy`).

use super::{default_field, object_field};
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, present};
use crate::validation::field_error::FieldError;
use crate::validation::label_selector::validate_label_selector;
use crate::validation::names::{
    is_valid_cidr_for_legacy_field, is_valid_port_name, is_valid_port_num, parse_cidr_sloppy,
};
use serde_json::{json, Value};

pub struct NetworkPolicyStrategy;

impl Strategy for NetworkPolicyStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_network_policy(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_spec(obj, false, &[])
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_update(new, old)
    }
}

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`.
pub fn default_network_policy(obj: &mut Value) {
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    let has_types = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_types {
        let egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let types = if egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec["policyTypes"] = types;
    }
    for key in ["ingress", "egress"] {
        let rules = spec.get_mut(key).and_then(Value::as_array_mut);
        for rule in rules.into_iter().flatten() {
            let ports = rule.get_mut("ports").and_then(Value::as_array_mut);
            for port in ports.into_iter().flatten() {
                default_field(port, "protocol", json!("TCP"));
            }
        }
    }
}

/// `ValidateNetworkPolicyUpdate`: CIDRs already stored stay accepted, and
/// so do invalid selector values when the old pod selector had them.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let allow_values =
        !validate_label_selector(old.pointer("/spec/podSelector"), false, "").is_empty();
    let mut cidrs = Vec::new();
    for (rules, peers) in [("/spec/ingress", "from"), ("/spec/egress", "to")] {
        for rule in arr_at(old, rules) {
            for peer in rule
                .get(peers)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(block) = peer.get("ipBlock") else {
                    continue;
                };
                cidrs.extend(block.get("cidr").and_then(Value::as_str));
                cidrs.extend(arr_at(block, "/except").iter().filter_map(Value::as_str));
            }
        }
    }
    validate_spec(new, allow_values, &cidrs)
}

/// `ValidateNetworkPolicySpec`.
pub fn validate_spec(obj: &Value, allow_values: bool, old_cidrs: &[&str]) -> Vec<FieldError> {
    let mut errs = validate_label_selector(
        obj.pointer("/spec/podSelector"),
        allow_values,
        "spec.podSelector",
    );
    for (key, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr_at(obj, &format!("/spec/{key}")).iter().enumerate() {
            let path = format!("spec.{key}[{i}]");
            for (j, port) in arr_at(rule, "/ports").iter().enumerate() {
                errs.extend(validate_port(port, &format!("{path}.ports[{j}]")));
            }
            for (j, peer) in arr_at(rule, &format!("/{peers}")).iter().enumerate() {
                let p = format!("{path}.{peers}[{j}]");
                errs.extend(validate_peer(peer, allow_values, old_cidrs, &p));
            }
        }
    }
    errs.extend(validate_policy_types(obj));
    errs
}

fn validate_policy_types(obj: &Value) -> Vec<FieldError> {
    let types = arr_at(obj, "/spec/policyTypes");
    if types.len() > 2 {
        return vec![FieldError::invalid(
            "spec.policyTypes",
            Value::Array(types.to_vec()),
            "may not specify more than two policyTypes",
        )];
    }
    types
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.as_str(), Some("Ingress" | "Egress")))
        .map(|(i, t)| {
            FieldError::not_supported(
                format!("spec.policyTypes[{i}]"),
                t.clone(),
                &["Ingress", "Egress"],
            )
        })
        .collect()
}

/// `ValidateNetworkPolicyPort`.
pub fn validate_port(port: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(proto) = present(port, "/protocol") {
        if !matches!(proto.as_str(), Some("TCP" | "UDP" | "SCTP")) {
            errs.push(FieldError::not_supported(
                format!("{path}.protocol"),
                proto.clone(),
                &["TCP", "UDP", "SCTP"],
            ));
        }
    }
    let end = present(port, "/endPort").cloned();
    let end_path = format!("{path}.endPort");
    match present(port, "/port") {
        Some(Value::String(name)) => {
            if let Some(end) = end {
                errs.push(FieldError::invalid(
                    &end_path,
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for m in is_valid_port_name(name) {
                errs.push(FieldError::invalid(
                    format!("{path}.port"),
                    name.as_str(),
                    m,
                ));
            }
        }
        Some(p) => {
            let num = p.as_i64().unwrap_or(0);
            for m in is_valid_port_num(num) {
                errs.push(FieldError::invalid(format!("{path}.port"), num, m));
            }
            if let Some(e) = end.as_ref().and_then(Value::as_i64) {
                if e < num {
                    errs.push(FieldError::invalid(
                        &end_path,
                        e,
                        "must be greater than or equal to `port`",
                    ));
                }
                for m in is_valid_port_num(e) {
                    errs.push(FieldError::invalid(&end_path, e, m));
                }
            }
        }
        None => {
            if let Some(end) = end {
                errs.push(FieldError::invalid(
                    &end_path,
                    end,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    errs
}

/// `ValidateNetworkPolicyPeer`.
fn validate_peer(
    peer: &Value,
    allow_values: bool,
    old_cidrs: &[&str],
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    for key in ["podSelector", "namespaceSelector"] {
        if let Some(sel) = present(peer, &format!("/{key}")) {
            count += 1;
            errs.extend(validate_label_selector(
                Some(sel),
                allow_values,
                &format!("{path}.{key}"),
            ));
        }
    }
    let block = present(peer, "/ipBlock");
    if let Some(block) = block {
        count += 1;
        errs.extend(validate_ip_block(
            block,
            old_cidrs,
            &format!("{path}.ipBlock"),
        ));
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if count > 1 && block.is_some() {
        errs.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

/// `ValidateIPBlock`: a valid CIDR, and excepts that are strict subsets.
fn validate_ip_block(block: &Value, old_cidrs: &[&str], path: &str) -> Vec<FieldError> {
    let cidr = block.get("cidr").and_then(Value::as_str).unwrap_or("");
    if cidr.is_empty() {
        return vec![FieldError::required(format!("{path}.cidr"), "")];
    }
    let mut errs = legacy_cidr(&format!("{path}.cidr"), cidr, old_cidrs);
    let Some((_, net)) = parse_cidr_sloppy(cidr) else {
        return errs;
    };
    for (i, except) in arr_at(block, "/except").iter().enumerate() {
        let p = format!("{path}.except[{i}]");
        let s = except.as_str().unwrap_or("");
        errs.extend(legacy_cidr(&p, s, old_cidrs));
        let Some((_, ex)) = parse_cidr_sloppy(s) else {
            continue;
        };
        if !net.contains(&ex.network()) || net.prefix_len() >= ex.prefix_len() {
            errs.push(FieldError::invalid(
                p,
                s,
                "must be a strict subset of `cidr`",
            ));
        }
    }
    errs
}

fn legacy_cidr(path: &str, value: &str, old: &[&str]) -> Vec<FieldError> {
    is_valid_cidr_for_legacy_field(value, false, old)
        .into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(obj: &Value) -> Vec<String> {
        validate_spec(obj, false, &[])
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn defaults_policy_types_and_protocol() {
        let mut np = json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}});
        default_network_policy(&mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(np["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
        let mut np = json!({"spec": {"podSelector": {}, "egress": [{}]}});
        default_network_policy(&mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let mut np = json!({"spec": {"policyTypes": ["Egress"]}});
        default_network_policy(&mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Egress"]));
    }

    #[test]
    fn ports() {
        let np = json!({"spec": {"ingress": [{"ports": [
            {"port": 0},
            {"port": 100, "endPort": 50},
            {"port": "http", "endPort": 90},
            {"endPort": 90},
            {"protocol": "ICMP", "port": "Bad_Name"}
        ]}]}});
        assert_eq!(
            errs(&np),
            [
                "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ingress[0].ports[1].endPort: Invalid value: 50: must be greater than or equal to `port`",
                "spec.ingress[0].ports[2].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
                "spec.ingress[0].ports[3].endPort: Invalid value: 90: may not be specified when `port` is not specified",
                "spec.ingress[0].ports[4].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                "spec.ingress[0].ports[4].port: Invalid value: \"Bad_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ]
        );
    }

    #[test]
    fn peers_and_ip_blocks() {
        let np = json!({"spec": {"egress": [{"to": [
            {},
            {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16", "10.0.0.0/8"]}},
            {"ipBlock": {"cidr": "nope"}},
            {"ipBlock": {}}
        ]}], "policyTypes": ["Egress", "Sideways"]}});
        assert_eq!(
            errs(&np),
            [
                "spec.egress[0].to[0]: Required value: must specify a peer",
                "spec.egress[0].to[1]: Forbidden: may not specify both ipBlock and another peer",
                "spec.egress[0].to[2].ipBlock.except[0]: Invalid value: \"11.0.0.0/16\": must be a strict subset of `cidr`",
                "spec.egress[0].to[2].ipBlock.except[1]: Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`",
                "spec.egress[0].to[3].ipBlock.cidr: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                "spec.egress[0].to[4].ipBlock.cidr: Required value",
                "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
            ]
        );
    }

    #[test]
    fn selector_and_too_many_types() {
        let np = json!({"spec": {
            "podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "policyTypes": ["Ingress", "Egress", "Ingress"]
        }});
        assert_eq!(
            errs(&np),
            [
                "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.policyTypes: Invalid value: [\"Ingress\",\"Egress\",\"Ingress\"]: may not specify more than two policyTypes",
            ]
        );
    }

    #[test]
    fn update_keeps_stored_cidrs() {
        let old = json!({"spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/8x"}}]}]}});
        assert!(validate_update(&old, &old).is_empty());
    }
}
