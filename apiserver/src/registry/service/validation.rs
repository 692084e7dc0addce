//! `ValidateService` / `ValidateServiceUpdate` over Service JSON, with the
//! field paths and messages kube-apiserver produces.

use super::*;
use crate::validation::field_error::FieldError;
use crate::validation::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_ipv6_string, is_label_key,
    is_valid_port_name, is_valid_port_num, validate_cidr, validate_ip,
    validate_kube_finalizer_names, validate_labels, validate_non_special_ip, validate_object_meta,
    validate_object_meta_update,
};
use serde_json::{json, Value};
use std::collections::HashSet;

/// `service.spec.sessionAffinityConfig.clientIP.timeoutSeconds` maximum.
pub const MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS: i64 = 86400;

const ANNOTATION_TOPOLOGY_AWARE_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
const ANNOTATION_TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";
const ANNOTATION_LB_SOURCE_RANGES: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const SESSION_AFFINITIES: &[&str] = &["ClientIP", "None"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
const IP_FAMILIES: &[&str] = &["IPv4", "IPv6"];
const IP_FAMILY_POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
const TRAFFIC_DISTRIBUTIONS: &[&str] = &["PreferClose", "PreferSameZone", "PreferSameNode"];

fn field_errors(path: &str, value: &str, msgs: Vec<String>) -> Vec<FieldError> {
    msgs.into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

fn annotations(svc: &Value) -> Option<&serde_json::Map<String, Value>> {
    svc.pointer("/metadata/annotations")
        .and_then(Value::as_object)
}

fn spec_value<'a>(svc: &'a Value, key: &str) -> Option<&'a Value> {
    spec(svc).and_then(|s| s.get(key)).filter(|v| !v.is_null())
}

/// `ValidateService`: every rule of a Service on create (and, through
/// [`validate_service_update`], on update). `_cfg` is not consulted: the
/// family and range checks belong to defaulting and allocation.
pub fn validate_service(svc: &Value, _cfg: &ServiceConfig) -> Vec<FieldError> {
    let empty = json!({});
    let meta = svc.get("metadata").unwrap_or(&empty);
    let mut errs = validate_object_meta(meta, true, is_dns1035_label, "metadata");
    errs.extend(validate_kube_finalizer_names(
        meta.get("finalizers"),
        "metadata.finalizers",
    ));

    if let Some(ann) = annotations(svc) {
        let hints = ann
            .get(ANNOTATION_TOPOLOGY_AWARE_HINTS)
            .and_then(Value::as_str);
        let mode = ann.get(ANNOTATION_TOPOLOGY_MODE).and_then(Value::as_str);
        if let (Some(h), Some(m)) = (hints, mode) {
            if h != m {
                errs.push(FieldError::invalid(
                    format!("metadata.annotations[{ANNOTATION_TOPOLOGY_MODE}]"),
                    m,
                    format!(
                        "must match annotations[{ANNOTATION_TOPOLOGY_AWARE_HINTS}] when both are specified"
                    ),
                ));
            }
        }
    }

    let ty = svc_type(svc);
    let headless = is_headless(svc);
    let ports = super::ports(svc);
    if ports.is_empty() && !headless && ty != TYPE_EXTERNAL_NAME {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        TYPE_LOAD_BALANCER if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            CLUSTER_IP_NONE,
            "may not be set to 'None' for LoadBalancer services",
        )),
        TYPE_NODE_PORT if headless => errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            CLUSTER_IP_NONE,
            "may not be set to 'None' for NodePort services",
        )),
        TYPE_EXTERNAL_NAME => {
            if !cluster_ips(svc).is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !ip_families(svc).is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if spec_value(svc, "ipFamilyPolicy").is_some() {
                errs.push(FieldError::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = spec_str(svc, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                errs.extend(field_errors(
                    "spec.externalName",
                    cname,
                    is_dns1123_subdomain(cname),
                ));
            }
        }
        _ => {}
    }

    let mut names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(validate_service_port(p, ports.len() > 1, &mut names, i));
    }

    if let Some(sel) = spec_value(svc, "selector") {
        errs.extend(validate_labels(Some(sel), "spec.selector"));
    }

    let affinity = spec_str(svc, "sessionAffinity");
    if affinity.is_empty() {
        errs.push(FieldError::required("spec.sessionAffinity", ""));
    } else if !SESSION_AFFINITIES.contains(&affinity) {
        errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            affinity,
            SESSION_AFFINITIES,
        ));
    }
    let affinity_config = spec_value(svc, "sessionAffinityConfig");
    if affinity == "ClientIP" {
        errs.extend(validate_client_ip_affinity_config(affinity_config));
    } else if affinity == "None" && affinity_config.is_some() {
        errs.push(FieldError::forbidden(
            "spec.sessionAffinityConfig",
            "must not be set when session affinity is None",
        ));
    }

    errs.extend(validate_cluster_ips_related_fields(svc));

    for (i, ip) in spec_strings(svc, "externalIPs").iter().enumerate() {
        let path = format!("spec.externalIPs[{i}]");
        let e = validate_ip(&path, ip);
        if e.is_empty() {
            errs.extend(validate_non_special_ip(&path, ip));
        } else {
            errs.extend(e);
        }
    }

    if ty.is_empty() {
        errs.push(FieldError::required("spec.type", ""));
    } else if !SERVICE_TYPES.contains(&ty) {
        errs.push(FieldError::not_supported("spec.type", ty, SERVICE_TYPES));
    }

    if ty == TYPE_CLUSTER_IP {
        for (i, p) in ports.iter().enumerate() {
            if port_i64(p, "nodePort") != 0 {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }

    let mut node_ports = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = port_i64(p, "nodePort");
        if np == 0 {
            continue;
        }
        if !node_ports.insert((port_str(p, "protocol"), np)) {
            errs.push(FieldError::duplicate(
                format!("spec.ports[{i}].nodePort"),
                np,
            ));
        }
    }

    let mut seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let proto = port_str(p, "protocol");
        let port = port_i64(p, "port");
        if !seen.insert((proto, port)) {
            errs.push(FieldError::duplicate(
                format!("spec.ports[{i}]"),
                json!({"Name": "", "Protocol": proto, "AppProtocol": null, "Port": port,
                       "TargetPort": 0, "NodePort": 0}),
            ));
        }
    }

    let ranges = spec_strings(svc, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let path = "spec.LoadBalancerSourceRanges";
        if ty != TYPE_LOAD_BALANCER {
            errs.push(FieldError::forbidden(
                path,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            errs.extend(validate_cidr(&format!("{path}[{i}]"), r.trim()));
        }
    } else if let Some(val) = annotations(svc)
        .and_then(|a| a.get(ANNOTATION_LB_SOURCE_RANGES))
        .and_then(Value::as_str)
    {
        let path = format!("metadata.annotations[{ANNOTATION_LB_SOURCE_RANGES}]");
        if ty != TYPE_LOAD_BALANCER {
            errs.push(FieldError::forbidden(
                path.as_str(),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        let val = val.trim();
        if !val.is_empty() {
            for cidr in val.split(',') {
                errs.extend(validate_cidr(&path, cidr.trim()));
            }
        }
    }

    let alloc_lb = spec_value(svc, "allocateLoadBalancerNodePorts");
    if alloc_lb.is_some() && ty != TYPE_LOAD_BALANCER {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if ty == TYPE_LOAD_BALANCER && alloc_lb.is_none() {
        // The path really has no `spec.` prefix in kube-apiserver.
        errs.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }

    errs.extend(validate_load_balancer_class(None, svc));
    errs.extend(validate_external_traffic_policy(svc));
    errs.extend(validate_internal_traffic_policy(svc));
    if let Some(td) = spec_value(svc, "trafficDistribution") {
        let v = td.as_str().unwrap_or("");
        if !TRAFFIC_DISTRIBUTIONS.contains(&v) {
            errs.push(FieldError::not_supported(
                "spec.trafficDistribution",
                td.clone(),
                TRAFFIC_DISTRIBUTIONS,
            ));
        }
    }
    errs
}

fn validate_service_port(
    p: &Value,
    require_name: bool,
    names: &mut HashSet<String>,
    i: usize,
) -> Vec<FieldError> {
    let path = format!("spec.ports[{i}]");
    let mut errs = Vec::new();
    let name = port_str(p, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else if !name.is_empty() {
        errs.extend(field_errors(
            &format!("{path}.name"),
            name,
            is_dns1123_label(name),
        ));
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
    }
    let port = port_i64(p, "port");
    for m in is_valid_port_num(port) {
        errs.push(FieldError::invalid(format!("{path}.port"), port, m));
    }
    let proto = port_str(p, "protocol");
    if proto.is_empty() {
        errs.push(FieldError::required(format!("{path}.protocol"), ""));
    } else if !PROTOCOLS.contains(&proto) {
        errs.push(FieldError::not_supported(
            format!("{path}.protocol"),
            proto,
            PROTOCOLS,
        ));
    }
    errs.extend(validate_port_num_or_name(
        p.get("targetPort"),
        &format!("{path}.targetPort"),
    ));
    if let Some(app) = p.get("appProtocol").and_then(Value::as_str) {
        errs.extend(field_errors(
            &format!("{path}.appProtocol"),
            app,
            is_label_key(app),
        ));
    }
    errs
}

/// An IntOrString port: a number 1-65535 or an IANA service name.
pub fn validate_port_num_or_name(v: Option<&Value>, path: &str) -> Vec<FieldError> {
    match v {
        Some(Value::String(s)) => field_errors(path, s, is_valid_port_name(s)),
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            is_valid_port_num(n)
                .into_iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
        None | Some(Value::Null) => is_valid_port_num(0)
            .into_iter()
            .map(|m| FieldError::invalid(path, 0, m))
            .collect(),
        Some(other) => vec![FieldError::internal(
            path,
            format!(
                "unknown type: {}",
                crate::validation::field_error::go_json(other)
            ),
        )],
    }
}

fn validate_client_ip_affinity_config(config: Option<&Value>) -> Vec<FieldError> {
    let path = "spec.sessionAffinityConfig";
    let detail = "when session affinity type is ClientIP";
    let Some(config) = config else {
        return vec![FieldError::required(path, detail)];
    };
    let Some(client_ip) = config.get("clientIP").filter(|v| !v.is_null()) else {
        return vec![FieldError::required(format!("{path}.clientIP"), detail)];
    };
    let tpath = format!("{path}.clientIP.timeoutSeconds");
    let Some(timeout) = client_ip.get("timeoutSeconds").filter(|v| !v.is_null()) else {
        return vec![FieldError::required(tpath, detail)];
    };
    let t = timeout.as_i64().unwrap_or(0);
    if t <= 0 || t > MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS {
        return vec![FieldError::invalid(
            tpath,
            t,
            format!(
                "must be greater than 0 and less than {MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS}"
            ),
        )];
    }
    Vec::new()
}

fn validate_load_balancer_class(old: Option<&Value>, svc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let class = spec_value(svc, "loadBalancerClass");
    if let Some(old) = old {
        if svc_type(old) == TYPE_LOAD_BALANCER
            && svc_type(svc) == TYPE_LOAD_BALANCER
            && spec_value(old, "loadBalancerClass") != class
        {
            errs.push(FieldError::invalid(
                "spec.loadBalancerClass",
                class.cloned().unwrap_or(Value::Null),
                "may not change once set",
            ));
        }
    }
    if svc_type(svc) == TYPE_LOAD_BALANCER {
        if let Some(c) = class {
            let c = c.as_str().unwrap_or("");
            errs.extend(field_errors("spec.loadBalancerClass", c, is_label_key(c)));
        }
    } else if class.is_some() {
        errs.push(FieldError::forbidden(
            "spec.loadBalancerClass",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    errs
}

fn validate_external_traffic_policy(svc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let etp = spec_str(svc, "externalTrafficPolicy");
    if !externally_accessible(svc) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else if !TRAFFIC_POLICIES.contains(&etp) {
        errs.push(FieldError::not_supported(
            "spec.externalTrafficPolicy",
            etp,
            TRAFFIC_POLICIES,
        ));
    }
    let hc = spec_i64(svc, "healthCheckNodePort");
    if !needs_health_check(svc) {
        if hc != 0 {
            errs.push(FieldError::invalid(
                "spec.healthCheckNodePort",
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldError::required("spec.healthCheckNodePort", ""));
    } else {
        for m in is_valid_port_num(hc) {
            errs.push(FieldError::invalid("spec.healthCheckNodePort", hc, m));
        }
    }
    errs
}

fn validate_internal_traffic_policy(svc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match spec_value(svc, "internalTrafficPolicy") {
        None => {
            if matches!(
                svc_type(svc),
                TYPE_NODE_PORT | TYPE_LOAD_BALANCER | TYPE_CLUSTER_IP
            ) {
                errs.push(FieldError::required("spec.internalTrafficPolicy", ""));
            }
        }
        Some(v) => {
            if !TRAFFIC_POLICIES.contains(&v.as_str().unwrap_or("")) {
                errs.push(FieldError::not_supported(
                    "spec.internalTrafficPolicy",
                    v.clone(),
                    TRAFFIC_POLICIES,
                ));
            }
        }
    }
    errs
}

/// `ValidateServiceClusterIPsRelatedFields`: clusterIP/clusterIPs agree,
/// families and policy are known values, IPs are valid and at most one per
/// family, and match `ipFamilies`. Nothing to check for ExternalName.
pub fn validate_cluster_ips_related_fields(svc: &Value) -> Vec<FieldError> {
    if svc_type(svc) == TYPE_EXTERNAL_NAME {
        return Vec::new();
    }
    let mut errs = Vec::new();
    let cluster_ip = spec_str(svc, "clusterIP");
    let ips = cluster_ips(svc);
    let ips_json = json!(ips);
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required("spec.clusterIPs", ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid(
                "spec.clusterIPs",
                ips_json.clone(),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            ips_json.clone(),
            "must be empty when `clusterIP` is not specified",
        ));
    }

    let families = ip_families(svc);
    let mut seen = HashSet::new();
    for (i, f) in families.iter().enumerate() {
        if !IP_FAMILIES.contains(&f.as_str()) {
            errs.push(FieldError::not_supported(
                format!("spec.ipFamilies[{i}]"),
                f.as_str(),
                IP_FAMILIES,
            ));
        }
        if !seen.insert(f.as_str()) {
            errs.push(FieldError::duplicate(
                format!("spec.ipFamilies[{i}]"),
                f.as_str(),
            ));
        }
    }

    if let Some(p) = spec_value(svc, "ipFamilyPolicy") {
        if !IP_FAMILY_POLICIES.contains(&p.as_str().unwrap_or("")) {
            errs.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                p.clone(),
                IP_FAMILY_POLICIES,
            ));
        }
    }

    let mut has_invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == CLUSTER_IP_NONE {
            if ips.len() > 1 {
                has_invalid = true;
                errs.push(FieldError::invalid(
                    "spec.clusterIPs",
                    ips_json.clone(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = validate_ip(&format!("spec.clusterIPs[{i}]"), ip);
        has_invalid |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            "spec.clusterIPs",
            ips_json.clone(),
            "may only hold up to 2 values",
        ));
    }
    if has_invalid {
        return errs;
    }
    if ips.len() > 1 {
        let v6 = ips.iter().filter(|ip| is_ipv6_string(ip)).count();
        let dual = v6 > 0 && v6 < ips.len();
        if !dual {
            errs.push(FieldError::invalid(
                "spec.clusterIPs",
                ips_json.clone(),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(svc) && !ips.is_empty() && !families.is_empty() {
        for (i, ip) in ips.iter().enumerate() {
            if i >= families.len() {
                break;
            }
            let v6 = is_ipv6_string(ip);
            if families[i] == "IPv4" && v6 {
                errs.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    ip.as_str(),
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if families[i] == "IPv6" && !v6 {
                errs.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    ip.as_str(),
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

fn validate_upgrade_downgrade_cluster_ips(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if svc_type(new) == TYPE_EXTERNAL_NAME || svc_type(old) == TYPE_EXTERNAL_NAME {
        return errs;
    }
    if is_headless(old) && is_headless(new) {
        return errs;
    }
    let (o, n) = (cluster_ips(old), cluster_ips(new));
    let n_json = json!(n);
    if o.len() == n.len() {
        for (i, ip) in o.iter().enumerate() {
            if *ip != n[i] {
                errs.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    n_json.clone(),
                    "may not change once set",
                ));
            }
        }
    } else if o.len() > n.len() {
        if n.is_empty() {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                n_json.clone(),
                "primary clusterIP can not be unset",
            ));
        }
        if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                n_json.clone(),
                "may not change once set",
            ));
        }
        if n.len() == 1 && ip_family_policy(new) != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                spec_value(new, "ipFamilyPolicy")
                    .cloned()
                    .unwrap_or(Value::Null),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !o.is_empty() && n[0] != o[0] {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            n_json,
            "may not change once set",
        ));
    }
    errs
}

fn validate_upgrade_downgrade_ip_families(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if svc_type(new) == TYPE_EXTERNAL_NAME || svc_type(old) == TYPE_EXTERNAL_NAME {
        return errs;
    }
    let (old_headless, new_headless) = (is_headless(old), is_headless(new));
    if old_headless != new_headless || new_headless {
        return errs;
    }
    let (o, n) = (ip_families(old), ip_families(new));
    let n_json = json!(n);
    let new_ips = json!(cluster_ips(new));
    if o.len() == n.len() {
        for (i, f) in o.iter().enumerate() {
            if *f != n[i] {
                errs.push(FieldError::invalid(
                    "spec.ipFamilies[0]",
                    n_json.clone(),
                    "may not change once set",
                ));
            }
        }
    } else if o.len() > n.len() {
        if cluster_ips(new).is_empty() {
            errs.push(FieldError::invalid(
                "spec.ipFamilies[0]",
                n_json.clone(),
                "primary ipFamily can not be unset",
            ));
        }
        if !n.is_empty() && n[0] != o[0] {
            errs.push(FieldError::invalid(
                "spec.ipFamilies[0]",
                new_ips.clone(),
                "may not change once set",
            ));
        }
        if n.len() == 1 && ip_family_policy(new) != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                spec_value(new, "ipFamilyPolicy")
                    .cloned()
                    .unwrap_or(Value::Null),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
        errs.push(FieldError::invalid(
            "spec.ipFamilies[0]",
            new_ips,
            "may not change once set",
        ));
    }
    errs
}

/// `ValidateServiceUpdate`: metadata update rules, clusterIPs and
/// ipFamilies immutability (a secondary may be added, or released with
/// SingleStack; anything goes to or from ExternalName), loadBalancerClass
/// and healthCheckNodePort immutability, then [`validate_service`].
pub fn validate_service_update(new: &Value, old: &Value, cfg: &ServiceConfig) -> Vec<FieldError> {
    let empty = json!({});
    let mut errs = validate_object_meta_update(
        new.get("metadata").unwrap_or(&empty),
        old.get("metadata").unwrap_or(&empty),
        "metadata",
    );
    errs.extend(validate_upgrade_downgrade_cluster_ips(old, new));
    errs.extend(validate_upgrade_downgrade_ip_families(old, new));
    errs.extend(validate_load_balancer_class(Some(old), new));
    if needs_health_check(old)
        && needs_health_check(new)
        && spec_i64(old, "healthCheckNodePort") != spec_i64(new, "healthCheckNodePort")
    {
        errs.push(FieldError::forbidden(
            "spec.healthCheckNodePort",
            "field is immutable",
        ));
    }
    errs.extend(validate_service(new, cfg));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ServiceConfig {
        ServiceConfig::default()
    }

    fn base() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"],
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
            }
        })
    }

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn valid_service_passes() {
        assert!(validate_service(&base(), &cfg()).is_empty());
    }

    #[test]
    fn ports() {
        let mut s = base();
        s["spec"]["ports"] = json!([
            {"port": 70000, "protocol": "TCP", "targetPort": "HTTP"},
            {"name": "a", "port": 80, "protocol": "ICMP", "targetPort": 0},
            {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}
        ]);
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.ports[0].name: Required value",
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ports[0].targetPort: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.ports[0].targetPort: Invalid value: \"HTTP\": must contain at least one letter (a-z)",
            "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[2].name: Duplicate value: \"a\"",
        ]);
        let mut s = base();
        s["spec"]["ports"] = json!([
            {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80},
            {"name": "b", "port": 80, "protocol": "TCP", "targetPort": 81}
        ]);
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.ports[1]: Duplicate value: {\"Name\":\"\",\"Protocol\":\"TCP\",\"AppProtocol\":null,\"Port\":80,\"TargetPort\":0,\"NodePort\":0}",
        ]);
        let mut s = base();
        s["spec"]["ports"] = json!([]);
        assert_eq!(
            msgs(&validate_service(&s, &cfg())),
            vec!["spec.ports: Required value"]
        );
        let mut s = base();
        s["spec"]["ports"][0]["nodePort"] = json!(30001);
        assert_eq!(
            msgs(&validate_service(&s, &cfg())),
            vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",]
        );
    }

    #[test]
    fn affinity_and_policies() {
        let mut s = base();
        s["spec"]["sessionAffinity"] = json!("ClientIP");
        s["spec"]["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 86401}});
        s["spec"]["externalTrafficPolicy"] = json!("Local");
        s["spec"]["internalTrafficPolicy"] = json!("Nowhere");
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400",
            "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
            "spec.internalTrafficPolicy: Unsupported value: \"Nowhere\": supported values: \"Cluster\", \"Local\"",
        ]);
        let mut s = base();
        s["spec"]["sessionAffinity"] = json!("ClientIP");
        assert_eq!(
            msgs(&validate_service(&s, &cfg())),
            vec![
            "spec.sessionAffinityConfig: Required value: when session affinity type is ClientIP",
        ]
        );
        let mut s = base();
        s["spec"]["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 5}});
        assert_eq!(
            msgs(&validate_service(&s, &cfg())),
            vec![
            "spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None",
        ]
        );
        let mut s = base();
        s["spec"]["type"] = json!("Magic");
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ]);
        let mut s = base();
        s["spec"]["type"] = json!("LoadBalancer");
        s["spec"]["externalTrafficPolicy"] = json!("Local");
        s["spec"]["loadBalancerSourceRanges"] = json!(["10.0.0.1/8", " 192.168.0.0/16 "]);
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.LoadBalancerSourceRanges[0]: Invalid value: \"10.0.0.1/8\": must not have bits set beyond the prefix length",
            "allocateLoadBalancerNodePorts: Required value",
            "spec.healthCheckNodePort: Required value",
        ]);
    }

    #[test]
    fn external_name_and_ips() {
        let s = json!({
            "metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "sessionAffinity": "None", "externalName": "Bad_Host.",
                     "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ipFamilyPolicy": "SingleStack"}
        });
        let m = msgs(&validate_service(&s, &cfg()));
        assert_eq!(
            m[0],
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services"
        );
        assert_eq!(
            m[1],
            "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services"
        );
        assert!(m[2].starts_with(
            "spec.externalName: Invalid value: \"Bad_Host\": a lowercase RFC 1123 subdomain"
        ));
        let mut s = base();
        s["spec"]["externalIPs"] = json!(["127.0.0.1", "1.2.3"]);
        s["spec"]["externalTrafficPolicy"] = json!("Cluster");
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "spec.externalIPs[1]: Invalid value: \"1.2.3\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ]);
        let mut s = base();
        s["spec"]["clusterIPs"] = json!(["10.0.0.10", "10.0.0.11"]);
        assert_eq!(msgs(&validate_service(&s, &cfg())), vec![
            "spec.clusterIPs: Invalid value: [\"10.0.0.10\",\"10.0.0.11\"]: may specify no more than one IP for each IP family",
        ]);
        let mut s = base();
        s["spec"]["clusterIP"] = json!("10.0.0.11");
        assert_eq!(
            msgs(&validate_service(&s, &cfg())),
            vec![
            "spec.clusterIPs: Invalid value: [\"10.0.0.10\"]: first value must match `clusterIP`",
        ]
        );
        let mut s = base();
        s["spec"]["selector"] = json!({"app": "b@d"});
        assert!(msgs(&validate_service(&s, &cfg()))[0].starts_with(
            "spec.selector: Invalid value: \"b@d\": a valid label must be an empty string"
        ));
        let mut s = base();
        s["metadata"]["name"] = json!("1web");
        assert!(msgs(&validate_service(&s, &cfg()))[0]
            .starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist"));
    }

    #[test]
    fn updates() {
        let mut old = base();
        old["metadata"]["resourceVersion"] = json!("3");
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.0.0.11");
        new["spec"]["clusterIPs"] = json!(["10.0.0.11"]);
        assert_eq!(
            msgs(&validate_service_update(&new, &old, &cfg())),
            vec!["spec.clusterIPs[0]: Invalid value: [\"10.0.0.11\"]: may not change once set",]
        );
        // To ExternalName the IPs may go.
        let mut new = old.clone();
        new["spec"] = json!({"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]});
        assert!(validate_service_update(&new, &old, &cfg()).is_empty());
        // Releasing a secondary IP needs SingleStack.
        let mut old2 = old.clone();
        old2["spec"]["clusterIPs"] = json!(["10.0.0.10", "fd00::10"]);
        old2["spec"]["ipFamilies"] = json!(["IPv4", "IPv6"]);
        old2["spec"]["ipFamilyPolicy"] = json!("PreferDualStack");
        let mut new = old2.clone();
        new["spec"]["clusterIPs"] = json!(["10.0.0.10"]);
        new["spec"]["ipFamilies"] = json!(["IPv4"]);
        assert_eq!(msgs(&validate_service_update(&new, &old2, &cfg())), vec![
            "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be set to 'SingleStack' when releasing the secondary clusterIP",
            "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be set to 'SingleStack' when releasing the secondary ipFamily",
        ]);
        let mut old3 = old.clone();
        old3["spec"]["type"] = json!("LoadBalancer");
        old3["spec"]["externalTrafficPolicy"] = json!("Local");
        old3["spec"]["healthCheckNodePort"] = json!(30001);
        old3["spec"]["allocateLoadBalancerNodePorts"] = json!(true);
        old3["spec"]["ports"][0]["nodePort"] = json!(30002);
        let mut new = old3.clone();
        new["spec"]["healthCheckNodePort"] = json!(30003);
        assert_eq!(
            msgs(&validate_service_update(&new, &old3, &cfg())),
            vec!["spec.healthCheckNodePort: Forbidden: field is immutable",]
        );
    }
}
