//! Services: defaults, validation, and ClusterIP/NodePort allocation joined
//! to the Service's own write transaction.

use super::service_alloc::{Allocators as Index, Reservation};
use crate::registry::service::validation;
use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};
use std::net::IpAddr;

pub use super::service_alloc::Allocators;

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    fn default(&self, obj: &mut Value, ctx: &Ctx) {
        set_defaults(obj, ctx);
    }

    fn validate_create(&self, obj: &Value, ctx: &Ctx) -> Vec<FieldError> {
        validation::validate_service(obj, &service_config(ctx))
    }

    fn validate_update(&self, new: &Value, old: &Value, ctx: &Ctx) -> Vec<FieldError> {
        validation::validate_service_update(new, old, &service_config(ctx))
    }

    fn begin_write(&self, op: WriteOp<'_>, ctx: &Ctx) -> ApiResult<Pending> {
        let mut r = Reservation::default();
        match op {
            WriteOp::Create(new) => allocate(ctx, None, new, &mut r)?,
            WriteOp::Update { old, new } => {
                keep_allocated_values(old, new);
                allocate(ctx, Some(old), new, &mut r)?;
                release_unused(ctx.allocators, old, new, &mut r);
            }
            WriteOp::Delete(old) => release_unused(ctx.allocators, old, &json!({}), &mut r),
        }
        Ok(pending(ctx.allocators.clone(), r))
    }
}

/// kube-apiserver's Service defaults (SetDefaults_Service plus the registry's
/// IP family defaulting for a single-stack cluster).
fn set_defaults(obj: &mut Value, ctx: &Ctx) {
    use super::default_field;
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    default_field(spec, "type", json!("ClusterIP"));
    let t = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    default_field(spec, "sessionAffinity", json!("None"));
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        default_field(
            spec,
            "sessionAffinityConfig",
            json!({"clientIP": {"timeoutSeconds": 10800}}),
        );
        if let Some(cip) = spec.pointer_mut("/sessionAffinityConfig/clientIP") {
            default_field(cip, "timeoutSeconds", json!(10800));
        }
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default_field(p, "protocol", json!("TCP"));
            if p.get("targetPort")
                .is_none_or(|v| v.is_null() || v == &json!(0) || v == &json!(""))
            {
                if let Some(port) = p.get("port").cloned() {
                    p["targetPort"] = port;
                }
            }
        }
    }
    if t != "ExternalName" {
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
        let family = match ctx.config.service_cidrs.first() {
            Some(ipnet::IpNet::V6(_)) => "IPv6",
            _ => "IPv4",
        };
        default_field(spec, "ipFamilyPolicy", json!("SingleStack"));
        default_field(spec, "ipFamilies", json!([family]));
    }
    if matches!(t.as_str(), "NodePort" | "LoadBalancer") {
        default_field(spec, "externalTrafficPolicy", json!("Cluster"));
    } else if let Some(m) = spec.as_object_mut() {
        // Only meaningful for external traffic; kube-apiserver clears it otherwise.
        m.remove("externalTrafficPolicy");
    }
    if t == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn service_config(ctx: &Ctx) -> crate::registry::service::ServiceConfig {
    crate::registry::service::ServiceConfig {
        service_cidrs: ctx.config.service_cidrs.clone(),
        node_port_range: ctx.config.node_port_range.clone(),
    }
}

fn pending(index: Index, r: Reservation) -> Pending {
    let side_effects = r.side.clone();
    let r = std::sync::Arc::new(r);
    let (on_commit, on_abort) = (r.clone(), r);
    let (ic, ia) = (index.clone(), index);
    Pending {
        side_effects,
        on_commit: vec![Box::new(move || ic.commit(&on_commit))],
        on_abort: vec![Box::new(move || ia.abort(&on_abort))],
    }
}

fn svc_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn owner(svc: &Value) -> String {
    let ns = svc
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = svc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("{ns}/{name}")
}

/// The ClusterIPs a Service holds (none for headless and ExternalName).
fn cluster_ips(svc: &Value) -> Vec<IpAddr> {
    if svc_type(svc) == "ExternalName" {
        return Vec::new();
    }
    let spec = svc.get("spec");
    let list: Vec<String> = spec
        .and_then(|s| s.get("clusterIPs"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .or_else(|| {
            spec.and_then(|s| s.get("clusterIP"))
                .and_then(Value::as_str)
                .map(|ip| vec![ip.to_string()])
        })
        .unwrap_or_default();
    list.iter().filter_map(|ip| ip.parse().ok()).collect()
}

/// NodePorts (protocol, port) and the health-check port a Service holds.
fn node_ports(svc: &Value) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let port = u16::try_from(p.get("nodePort")?.as_u64()?).ok()?;
                    let proto = p
                        .get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("TCP")
                        .to_string();
                    (port != 0).then_some((proto, port))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(hc) = svc
        .pointer("/spec/healthCheckNodePort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
    {
        if hc != 0 {
            out.push(("TCP".into(), hc));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// An update without clusterIP/nodePorts keeps the allocated ones (kube-apiserver's
/// PatchAllocatedValues), so `kubectl apply`/`replace` of a manifest works.
fn keep_allocated_values(old: &Value, new: &mut Value) {
    let (old_t, new_t) = (svc_type(old).to_string(), svc_type(new).to_string());
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let needs_ip = new_t != "ExternalName";
    if needs_ip && old_t != "ExternalName" {
        let empty = |k: &str| {
            spec.get(k).is_none_or(|v| {
                v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(|a| a.is_empty())
            })
        };
        if empty("clusterIP") && empty("clusterIPs") {
            if let Some(ip) = old.pointer("/spec/clusterIP") {
                spec.insert("clusterIP".into(), ip.clone());
            }
            if let Some(ips) = old.pointer("/spec/clusterIPs") {
                spec.insert("clusterIPs".into(), ips.clone());
            }
        }
    }
    let keeps_node_ports = matches!(new_t.as_str(), "NodePort" | "LoadBalancer")
        && matches!(old_t.as_str(), "NodePort" | "LoadBalancer");
    if keeps_node_ports {
        let old_ports = old
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut() {
                let unset = p.get("nodePort").and_then(Value::as_u64).unwrap_or(0) == 0;
                let same = old_ports.iter().find(|o| {
                    o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol")
                });
                if let (true, Some(o)) = (unset, same) {
                    if let Some(np) = o.get("nodePort") {
                        p["nodePort"] = np.clone();
                    }
                }
            }
        }
    }
}

/// Allocates what `new` needs and `old` (if any) does not already hold.
fn allocate(ctx: &Ctx, old: Option<&Value>, new: &mut Value, r: &mut Reservation) -> ApiResult<()> {
    let idx = ctx.allocators;
    let who = owner(new);
    let held_ips = old.map(cluster_ips).unwrap_or_default();
    let held_ports = old.map(node_ports).unwrap_or_default();
    let t = svc_type(new).to_string();
    if t != "ExternalName" {
        let headless = new.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
        if headless {
            new["spec"]["clusterIPs"] = json!(["None"]);
        } else {
            let requested = new
                .pointer("/spec/clusterIPs")
                .cloned()
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                .or_else(|| {
                    new.pointer("/spec/clusterIP")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(|ip| json!([ip]))
                });
            let cidr = ctx.config.service_cidrs.first().copied().ok_or_else(|| {
                crate::rest::status::ApiError::internal("no service CIDR configured")
            })?;
            let ip = match requested
                .as_ref()
                .and_then(|r| r.get(0))
                .and_then(Value::as_str)
            {
                Some(s) => {
                    let ip: IpAddr = s.parse().map_err(|_| {
                        crate::rest::status::ApiError::invalid_fields(
                            "Service",
                            &who,
                            vec![crate::validation::field_error::FieldError::invalid(
                                "spec.clusterIPs[0]",
                                s,
                                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                            )],
                        )
                    })?;
                    if !held_ips.contains(&ip) {
                        idx.reserve_ip(
                            r,
                            &who,
                            ip,
                            &cidr,
                            requested.as_ref().unwrap_or(&json!([])),
                        )?;
                    }
                    ip
                }
                None => idx.reserve_next_ip(r, &who, &cidr)?,
            };
            new["spec"]["clusterIP"] = json!(ip.to_string());
            new["spec"]["clusterIPs"] = json!([ip.to_string()]);
        }
    }
    let wants_node_ports = t == "NodePort"
        || (t == "LoadBalancer"
            && new
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false));
    let range = ctx.config.node_port_range.clone();
    if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for (i, p) in ports.iter_mut().enumerate() {
            let proto = p
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_string();
            let asked = p.get("nodePort").and_then(Value::as_u64).unwrap_or(0);
            if !wants_node_ports {
                if t == "ClusterIP" || t == "ExternalName" {
                    if let Some(m) = p.as_object_mut() {
                        m.remove("nodePort");
                    }
                }
                continue;
            }
            let field = format!("spec.ports[{i}].nodePort");
            let port = if asked == 0 {
                idx.reserve_next_port(r, &who, &proto, &range)?
            } else {
                let port = u16::try_from(asked).unwrap_or(0);
                if !held_ports.contains(&(proto.clone(), port)) {
                    idx.reserve_port(r, &who, &proto, port, &range, &field)?;
                }
                port
            };
            p["nodePort"] = json!(port);
        }
    }
    let wants_hc = t == "LoadBalancer"
        && new
            .pointer("/spec/externalTrafficPolicy")
            .and_then(Value::as_str)
            == Some("Local");
    if wants_hc {
        let asked = new
            .pointer("/spec/healthCheckNodePort")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let port = if asked == 0 {
            idx.reserve_next_port(r, &who, "TCP", &range)?
        } else {
            let port = u16::try_from(asked).unwrap_or(0);
            if !held_ports.contains(&("TCP".into(), port)) {
                idx.reserve_port(r, &who, "TCP", port, &range, "spec.healthCheckNodePort")?;
            }
            port
        };
        new["spec"]["healthCheckNodePort"] = json!(port);
    } else if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("healthCheckNodePort");
    }
    Ok(())
}

/// Releases what `old` held and `new` no longer does.
fn release_unused(idx: &Index, old: &Value, new: &Value, r: &mut Reservation) {
    let keep_ips = cluster_ips(new);
    for ip in cluster_ips(old) {
        if !keep_ips.contains(&ip) {
            idx.release_ip(r, ip);
        }
    }
    let keep_ports = node_ports(new);
    for (proto, port) in node_ports(old) {
        if !keep_ports.contains(&(proto.clone(), port)) {
            idx.release_port(r, &proto, port);
        }
    }
}
