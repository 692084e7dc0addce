//! Service defaulting as kube-apiserver does it: the v1 defaults applied at
//! decode, the ClusterIP/ClusterIPs normalisation and patching of allocated
//! values on update, the IP family initialisation against the cluster's
//! configured families, and the strategy's type-dependent field wiping.

use super::allocation::IpFamily;
use super::*;
use crate::validation::field_error::FieldError;
use crate::validation::names::is_ipv6_string;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
pub const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: i64 = 10800;

/// `SetDefaults_Service`: type, session affinity, ports' protocol and
/// targetPort, traffic policies, allocateLoadBalancerNodePorts, and the
/// load-balancer ingress ipMode.
pub fn set_defaults(svc: &mut Value) {
    let spec = spec_mut(svc);
    if spec
        .get("sessionAffinity")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        spec.insert("sessionAffinity".into(), json!("None"));
    }
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}}),
                );
            }
        }
        _ => {}
    }
    if spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        spec.insert("type".into(), json!(TYPE_CLUSTER_IP));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut() {
            let Some(p) = p.as_object_mut() else { continue };
            if p.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                p.insert("protocol".into(), json!("TCP"));
            }
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                p.insert("targetPort".into(), json!(port));
            }
        }
    }
    let externally_accessible = super::externally_accessible(svc);
    let spec = spec_mut(svc);
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if externally_accessible
        && spec
            .get("externalTrafficPolicy")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        spec.insert("externalTrafficPolicy".into(), json!("Cluster"));
    }
    if spec.get("internalTrafficPolicy").is_none_or(Value::is_null)
        && matches!(
            ty.as_str(),
            TYPE_NODE_PORT | TYPE_LOAD_BALANCER | TYPE_CLUSTER_IP
        )
    {
        spec.insert("internalTrafficPolicy".into(), json!("Cluster"));
    }
    if ty == TYPE_LOAD_BALANCER
        && spec
            .get("allocateLoadBalancerNodePorts")
            .is_none_or(Value::is_null)
    {
        spec.insert("allocateLoadBalancerNodePorts".into(), json!(true));
    }
    if ty == TYPE_LOAD_BALANCER {
        if let Some(Value::Array(ingress)) = svc.pointer_mut("/status/loadBalancer/ingress") {
            for ing in ingress.iter_mut().filter_map(Value::as_object_mut) {
                let has_ip = ing
                    .get("ip")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                if has_ip && ing.get("ipMode").is_none_or(Value::is_null) {
                    ing.insert("ipMode".into(), json!("VIP"));
                }
            }
        }
    }
}

fn same_plural_cluster_ips(a: &Value, b: &Value) -> bool {
    cluster_ips(a) == cluster_ips(b)
}

/// Keeps `clusterIP` and `clusterIPs` in step (old clients set only the
/// singular field; clients that patch may leave the plural one out).
pub fn normalize_cluster_ips(new: &mut Value, old: Option<&Value>) {
    let new_ip = spec_str(new, "clusterIP").to_string();
    let new_ips = cluster_ips(new);
    let Some(old) = old else {
        if !new_ip.is_empty() && new_ips.is_empty() {
            set_spec_strings(new, "clusterIPs", &[new_ip]);
        }
        return;
    };
    let old_ip = spec_str(old, "clusterIP").to_string();
    let old_ips = cluster_ips(old);
    if !old_ips.is_empty() && new_ips.is_empty() && old_ip == new_ip {
        set_spec_strings(new, "clusterIPs", &old_ips);
    }
    if old_ip != new_ip {
        if !old_ip.is_empty() && new_ip.is_empty() {
            if same_plural_cluster_ips(old, new) {
                set_spec_strings(new, "clusterIPs", &[]);
            }
        } else if same_plural_cluster_ips(old, new) {
            set_spec_strings(new, "clusterIPs", &[new_ip]);
        }
    }
}

fn node_ports_used(svc: &Value) -> BTreeSet<i64> {
    ports(svc)
        .iter()
        .map(|p| port_i64(p, "nodePort"))
        .filter(|n| *n != 0)
        .collect()
}

fn needs_hc_node_port(svc: &Value) -> bool {
    needs_health_check(svc)
}

/// Restores values allocated earlier that an update left out (re-applying
/// the original manifest keeps its clusterIP, nodePorts and health check
/// port). NodePorts are matched by port name.
pub fn patch_allocated_values(new: &mut Value, old: &Value) {
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        if spec_str(new, "clusterIP").is_empty() {
            let ip = spec_str(old, "clusterIP").to_string();
            set_spec_str(new, "clusterIP", &ip);
        }
        let old_ips = cluster_ips(old);
        if cluster_ips(new).is_empty() && !old_ips.is_empty() {
            set_spec_strings(new, "clusterIPs", &old_ips);
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let used: BTreeSet<i64> = node_ports_used(old)
            .intersection(&node_ports_used(new))
            .copied()
            .collect();
        let mut by_name = std::collections::HashMap::new();
        for p in ports(old) {
            by_name.insert(port_str(p, "name").to_string(), port_i64(p, "nodePort"));
        }
        if let Some(Value::Array(ports)) = spec_mut(new).get_mut("ports") {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                let np = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
                if np != 0 {
                    continue;
                }
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                let old_val = by_name.get(name).copied().unwrap_or(0);
                if old_val != 0 && !used.contains(&old_val) {
                    p.insert("nodePort".into(), json!(old_val));
                }
            }
        }
    }
    if needs_hc_node_port(old)
        && needs_hc_node_port(new)
        && spec_i64(new, "healthCheckNodePort") == 0
    {
        let hc = spec_i64(old, "healthCheckNodePort");
        if hc != 0 {
            spec_mut(new).insert("healthCheckNodePort".into(), json!(hc));
        }
    }
}

fn is_matching_prefer_dual_stack(new: &Value, old: Option<&Value>) -> bool {
    let Some(old) = old else { return false };
    let Some(policy) = ip_family_policy(new) else {
        return false;
    };
    if svc_type(old) != svc_type(new) {
        return false;
    }
    if !matches!(
        svc_type(new),
        TYPE_CLUSTER_IP | TYPE_NODE_PORT | TYPE_LOAD_BALANCER
    ) {
        return false;
    }
    if policy != "PreferDualStack" {
        return false;
    }
    if ip_family_policy(old).is_some_and(|p| p != "PreferDualStack") {
        return false;
    }
    cluster_ips(old) == cluster_ips(new) && ip_families(old) == ip_families(new)
}

fn policy_value(svc: &Value) -> Value {
    ip_family_policy(svc)
        .map(|p| Value::String(p.to_string()))
        .unwrap_or(Value::Null)
}

/// Defaults and checks `ipFamilyPolicy` and `ipFamilies` against the
/// cluster's families (as the Service allocator does before allocating):
/// no policy means SingleStack (RequireDualStack for headless selectorless
/// Services, the old policy on update); families follow the given
/// clusterIPs, then the cluster default, and gain the second family for
/// Prefer/RequireDualStack on a dual-stack cluster. Errors are the 422
/// field errors kube-apiserver returns.
pub fn init_ip_family_fields(
    svc: &mut Value,
    old: Option<&Value>,
    cfg: &ServiceConfig,
) -> Result<(), Vec<FieldError>> {
    if svc_type(svc) == TYPE_EXTERNAL_NAME {
        return Ok(());
    }
    if is_matching_prefer_dual_stack(svc, old) {
        return Ok(());
    }
    if ip_family_policy(svc).is_none() {
        let policy = match old.and_then(ip_family_policy) {
            Some(p) => p.to_string(),
            None if spec_str(svc, "clusterIP") == CLUSTER_IP_NONE && selector_len(svc) == 0 => {
                "RequireDualStack".to_string()
            }
            None => "SingleStack".to_string(),
        };
        set_spec_str(svc, "ipFamilyPolicy", &policy);
    }

    let errs = super::validation::validate_cluster_ips_related_fields(svc);
    if !errs.is_empty() {
        return Err(errs);
    }

    let mut el = Vec::new();
    let policy = ip_family_policy(svc).unwrap_or("").to_string();
    if let Some(old) = old {
        if policy == "SingleStack" {
            let ips = cluster_ips(svc);
            if cluster_ips(old) == ips && ips.len() > 1 {
                set_spec_strings(svc, "clusterIPs", &ips[..1]);
            }
            let fams = ip_families(svc);
            if ip_families(old) == fams && fams.len() > 1 {
                set_spec_strings(svc, "ipFamilies", &fams[..1]);
            }
        } else {
            let (n, o) = (cluster_ips(svc).len(), cluster_ips(old).len());
            if n != 0 && n < o {
                el.push(FieldError::invalid(
                    "spec.ipFamilyPolicy",
                    policy_value(svc),
                    "must be 'SingleStack' to release the secondary cluster IP",
                ));
            }
            let (n, o) = (ip_families(svc).len(), ip_families(old).len());
            if n != 0 && n < o {
                el.push(FieldError::invalid(
                    "spec.ipFamilyPolicy",
                    policy_value(svc),
                    "must be 'SingleStack' to release the secondary IP family",
                ));
            }
        }
    }
    if policy == "SingleStack" {
        if cluster_ips(svc).len() == 2 {
            el.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy_value(svc),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            ));
        }
        if ip_families(svc).len() == 2 {
            el.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy_value(svc),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            ));
        }
    }

    let ips = cluster_ips(svc);
    let mut families = ip_families(svc);
    for (i, ip) in ips.iter().enumerate() {
        if ip == CLUSTER_IP_NONE {
            break;
        }
        let fam = if is_ipv6_string(ip) {
            IpFamily::IPv6
        } else {
            IpFamily::IPv4
        };
        if i >= families.len() {
            if !cfg.has_family(fam) {
                el.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    json!(ips),
                    format!("{} is not configured on this cluster", fam.as_str()),
                ));
            } else {
                families.push(fam.as_str().to_string());
            }
        }
    }
    set_spec_strings(svc, "ipFamilies", &families);
    if !el.is_empty() {
        return Err(el);
    }

    let default = cfg.default_family();
    if spec_str(svc, "clusterIP") == CLUSTER_IP_NONE && selector_len(svc) == 0 {
        if families.is_empty() {
            families.push(default.as_str().to_string());
        }
        if families.len() < 2 && policy != "SingleStack" {
            let other = if families[0] == "IPv4" {
                "IPv6"
            } else {
                "IPv4"
            };
            families.push(other.to_string());
        }
        set_spec_strings(svc, "ipFamilies", &families);
        return Ok(());
    }

    if policy == "RequireDualStack" && !cfg.is_dual_stack() {
        el.push(FieldError::invalid(
            "spec.ipFamilyPolicy",
            policy_value(svc),
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, f) in families.iter().enumerate() {
        let configured = IpFamily::parse(f).is_some_and(|f| cfg.has_family(f));
        if !configured {
            el.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                f.as_str(),
                "not configured on this cluster",
            ));
        }
    }
    if !el.is_empty() {
        return Err(el);
    }
    if families.is_empty() {
        families.push(default.as_str().to_string());
    }
    if policy != "SingleStack" && families.len() == 1 && cfg.is_dual_stack() {
        match families[0].as_str() {
            "IPv4" => families.push("IPv6".into()),
            "IPv6" => families.push("IPv4".into()),
            _ => {}
        }
    }
    set_spec_strings(svc, "ipFamilies", &families);
    Ok(())
}

/// `PrepareForCreate`: status starts empty.
pub fn prepare_for_create(svc: &mut Value) {
    if let Some(obj) = svc.as_object_mut() {
        obj.insert("status".into(), json!({"loadBalancer": {}}));
    }
}

/// `PrepareForUpdate`'s `dropTypeDependentFields`: wipes values that only
/// made sense for the old type when the user did not
/// change them (they are released by the allocator): clusterIP(s) and IP
/// family fields when switching to ExternalName, nodePorts when leaving
/// NodePort/LoadBalancer, the health check port, allocateLoadBalancerNodePorts,
/// loadBalancerClass, externalTrafficPolicy, and the load-balancer status.
pub fn drop_type_dependent_fields(new: &mut Value, old: &Value) {
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if spec_str(old, "clusterIP") == spec_str(new, "clusterIP")
            && cluster_ips(old) == cluster_ips(new)
        {
            set_spec_str(new, "clusterIP", "");
            set_spec_strings(new, "clusterIPs", &[]);
        }
        if ip_families(old) == ip_families(new) {
            set_spec_strings(new, "ipFamilies", &[]);
        }
        if ip_family_policy(old) == ip_family_policy(new) {
            spec_mut(new).remove("ipFamilyPolicy");
        }
    }
    if needs_node_port(old) && !needs_node_port(new) {
        let old_ports = node_ports_used(old);
        if node_ports_used(new).is_subset(&old_ports) {
            if let Some(Value::Array(ports)) = spec_mut(new).get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.remove("nodePort");
                }
            }
        }
    }
    if needs_hc_node_port(old)
        && !needs_hc_node_port(new)
        && spec_i64(old, "healthCheckNodePort") == spec_i64(new, "healthCheckNodePort")
    {
        spec_mut(new).remove("healthCheckNodePort");
    }
    let old_lb = svc_type(old) == TYPE_LOAD_BALANCER;
    let new_lb = svc_type(new) == TYPE_LOAD_BALANCER;
    if old_lb && !new_lb {
        let a = spec(old)
            .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
            .and_then(Value::as_bool);
        let b = spec(new)
            .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
            .and_then(Value::as_bool);
        if a.is_some() && a == b {
            spec_mut(new).remove("allocateLoadBalancerNodePorts");
        }
        if spec_opt_str(old, "loadBalancerClass") == spec_opt_str(new, "loadBalancerClass") {
            spec_mut(new).remove("loadBalancerClass");
        }
    }
    if needs_node_port(old)
        && !needs_node_port(new)
        && spec_str(old, "externalTrafficPolicy") == spec_str(new, "externalTrafficPolicy")
    {
        spec_mut(new).remove("externalTrafficPolicy");
    }
    if !new_lb {
        if let Some(obj) = new.as_object_mut() {
            let status = obj.entry("status").or_insert_with(|| json!({}));
            if let Some(st) = status.as_object_mut() {
                st.insert("loadBalancer".into(), json!({}));
            } else {
                *status = json!({"loadBalancer": {}});
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dual() -> ServiceConfig {
        ServiceConfig {
            service_cidrs: vec![
                "10.0.0.0/24".parse().unwrap(),
                "fd00::/108".parse().unwrap(),
            ],
            node_port_range: 30000..=32767,
        }
    }

    #[test]
    fn v1_defaults() {
        let mut s = json!({"spec": {"sessionAffinity": "ClientIP",
            "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}});
        set_defaults(&mut s);
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(
            s["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            10800
        );
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ports"][1]["targetPort"], "dns");
        assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
        assert!(s["spec"].get("externalTrafficPolicy").is_none());

        let mut s = json!({"spec": {"type": "LoadBalancer", "sessionAffinityConfig": {"clientIP": {}}},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "x"}]}}});
        set_defaults(&mut s);
        assert_eq!(s["spec"]["sessionAffinity"], "None");
        assert!(s["spec"].get("sessionAffinityConfig").is_none());
        assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(s["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(s["status"]["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
        assert!(s["status"]["loadBalancer"]["ingress"][1]
            .get("ipMode")
            .is_none());

        let mut s = json!({"spec": {"type": "ClusterIP", "externalIPs": ["1.2.3.4"]}});
        set_defaults(&mut s);
        assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
        let mut s = json!({"spec": {"type": "ExternalName", "externalName": "a.b"}});
        set_defaults(&mut s);
        assert!(s["spec"].get("internalTrafficPolicy").is_none());
    }

    #[test]
    fn families_single_and_dual() {
        let single = ServiceConfig::default();
        let mut s = json!({"spec": {"type": "ClusterIP", "selector": {"a": "b"}}});
        init_ip_family_fields(&mut s, None, &single).unwrap();
        assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));

        let mut s = json!({"spec": {"type": "ClusterIP", "ipFamilyPolicy": "PreferDualStack"}});
        init_ip_family_fields(&mut s, None, &single).unwrap();
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
        init_ip_family_fields(&mut s, None, &dual()).unwrap();
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));

        let mut s = json!({"spec": {"type": "ClusterIP", "ipFamilyPolicy": "RequireDualStack"}});
        let e = init_ip_family_fields(&mut s, None, &single).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"
        );

        let mut s = json!({"spec": {"type": "ClusterIP", "clusterIP": "fd00::5", "clusterIPs": ["fd00::5"]}});
        let e = init_ip_family_fields(&mut s, None, &single).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "spec.clusterIPs[0]: Invalid value: [\"fd00::5\"]: IPv6 is not configured on this cluster"
        );

        let mut s = json!({"spec": {"type": "ClusterIP", "ipFamilies": ["IPv6"]}});
        let e = init_ip_family_fields(&mut s, None, &single).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"
        );

        // Headless without selector: RequireDualStack and both families, even single-stack.
        let mut s =
            json!({"spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}});
        init_ip_family_fields(&mut s, None, &single).unwrap();
        assert_eq!(s["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));

        let mut s = json!({"spec": {"type": "ClusterIP", "ipFamilyPolicy": "SingleStack",
            "ipFamilies": ["IPv4", "IPv6"]}});
        let e = init_ip_family_fields(&mut s, None, &dual()).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"
        );
    }

    #[test]
    fn normalize_and_patch() {
        let mut s = json!({"spec": {"clusterIP": "10.0.0.5"}});
        normalize_cluster_ips(&mut s, None);
        assert_eq!(s["spec"]["clusterIPs"], json!(["10.0.0.5"]));

        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"],
            "ports": [{"name": "a", "port": 80, "nodePort": 30001}, {"name": "b", "port": 81, "nodePort": 30002}]}});
        let mut new = json!({"spec": {"type": "NodePort",
            "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30001}]}});
        patch_allocated_values(&mut new, &old);
        normalize_cluster_ips(&mut new, Some(&old));
        assert_eq!(new["spec"]["clusterIP"], "10.0.0.5");
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.0.0.5"]));
        // 30001 is used by port b now, so port a is not patched.
        assert!(new["spec"]["ports"][0].get("nodePort").is_none());
    }
}
