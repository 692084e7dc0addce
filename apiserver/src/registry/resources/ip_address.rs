//! networking.k8s.io/v1 IPAddresses and ServiceCIDRs (`ValidateIPAddress`,
//! `ValidateIPAddressUpdate`, `ValidateServiceCIDR`, `ValidateServiceCIDRUpdate`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{
    arr_at, invalid_each, is_path_segment_name, present, str_at, validate_immutable,
    FIELD_IMMUTABLE,
};
use crate::validation::field_error::FieldError;
use crate::validation::names::{
    is_dns1123_subdomain, is_valid_cidr, is_valid_ip, parse_cidr_sloppy,
};
use serde_json::{json, Value};

pub struct IpAddressStrategy;
pub struct ServiceCidrStrategy;

impl Strategy for IpAddressStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_ip_address(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_immutable(
            present(new, "/spec/parentRef"),
            present(old, "/spec/parentRef"),
            "spec.parentRef",
        )
    }
}

impl Strategy for ServiceCidrStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_cidrs(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_service_cidr_update(new, old)
    }
}

/// `ValidateIPAddress`: the name is a canonical IP, the parent reference
/// names a resource and an object.
pub fn validate_ip_address(obj: &Value) -> Vec<FieldError> {
    let name = str_at(obj, "/metadata/name");
    let mut errs = invalid_each("metadata.name", name, is_valid_ip(name));
    let Some(parent) = present(obj, "/spec/parentRef") else {
        errs.push(FieldError::required("spec.parentRef", ""));
        return errs;
    };
    let group = str_at(parent, "/group");
    if !group.is_empty() {
        errs.extend(invalid_each(
            "spec.parentRef.group",
            group,
            is_dns1123_subdomain(group),
        ));
    }
    for key in ["resource", "name"] {
        let v = str_at(parent, &format!("/{key}"));
        let path = format!("spec.parentRef.{key}");
        if v.is_empty() {
            errs.push(FieldError::required(path, ""));
        } else {
            errs.extend(invalid_each(&path, v, is_path_segment_name(v)));
        }
    }
    let ns = str_at(parent, "/namespace");
    if !ns.is_empty() {
        errs.extend(invalid_each(
            "spec.parentRef.namespace",
            ns,
            is_path_segment_name(ns),
        ));
    }
    errs
}

fn cidr_strings(obj: &Value) -> Vec<&str> {
    arr_at(obj, "/spec/cidrs")
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect()
}

fn is_v6(cidr: &str) -> Option<bool> {
    parse_cidr_sloppy(cidr).map(|(ip, _)| ip.is_ipv6())
}

/// `validateServiceCIDRSpec`: one or two valid CIDRs, one per family.
pub fn validate_cidrs(obj: &Value) -> Vec<FieldError> {
    let cidrs = cidr_strings(obj);
    if cidrs.is_empty() {
        return vec![FieldError::required(
            "spec.cidrs",
            "at least one CIDR required",
        )];
    }
    if cidrs.len() > 2 {
        return vec![FieldError::invalid(
            "spec.cidrs",
            json!({"CIDRs": cidrs}),
            "may only hold up to 2 values",
        )];
    }
    let mut errs = Vec::new();
    for (i, c) in cidrs.iter().enumerate() {
        errs.extend(invalid_each(
            &format!("spec.cidrs[{i}]"),
            c,
            is_valid_cidr(c),
        ));
    }
    if cidrs.len() == 2 && is_v6(cidrs[0]).is_some() && is_v6(cidrs[0]) == is_v6(cidrs[1]) {
        errs.push(FieldError::invalid(
            "spec.cidrs",
            json!(cidrs),
            "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
        ));
    }
    errs
}

/// `ValidateServiceCIDRUpdate`: CIDRs are fixed, but a single-stack range
/// may gain a second family.
pub fn validate_service_cidr_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let (n, o) = (cidr_strings(new), cidr_strings(old));
    let changed =
        |i: usize, v: &str| FieldError::invalid(format!("spec.cidrs[{i}]"), v, FIELD_IMMUTABLE);
    if n.len() == o.len() {
        return (0..n.len())
            .filter(|&i| n[i] != o[i])
            .map(|i| changed(i, n[i]))
            .collect();
    }
    if o.len() == 1 && n.len() == 2 {
        let mut errs = Vec::new();
        if n[0] != o[0] {
            errs.push(changed(0, n[0]));
        }
        errs.extend(validate_cidrs(new));
        return errs;
    }
    vec![FieldError::invalid("spec.cidrs", json!(n), FIELD_IMMUTABLE)]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    #[test]
    fn ip_addresses() {
        let ok = json!({"metadata": {"name": "10.0.0.1"},
            "spec": {"parentRef": {"resource": "services", "name": "web", "namespace": "default"}}});
        assert!(validate_ip_address(&ok).is_empty());
        let bad = json!({"metadata": {"name": "10.0.0.1"}, "spec": {"parentRef": {"group": "", "name": "a/b"}}});
        assert_eq!(
            strs(validate_ip_address(&bad)),
            [
                "spec.parentRef.resource: Required value",
                "spec.parentRef.name: Invalid value: \"a/b\": may not contain '/'",
            ]
        );
        assert_eq!(
            strs(validate_ip_address(
                &json!({"metadata": {"name": "10.0.0.1"}, "spec": {}})
            )),
            ["spec.parentRef: Required value"]
        );
    }

    #[test]
    fn service_cidrs() {
        let sc = |c: Value| json!({"spec": {"cidrs": c}});
        assert!(validate_cidrs(&sc(json!(["10.0.0.0/24", "fd00::/108"]))).is_empty());
        assert_eq!(
            strs(validate_cidrs(&sc(json!([])))),
            ["spec.cidrs: Required value: at least one CIDR required"]
        );
        assert_eq!(
            strs(validate_cidrs(&sc(json!(["10.0.0.0/24", "10.1.0.0/24"])))),
            ["spec.cidrs: Invalid value: [\"10.0.0.0/24\",\"10.1.0.0/24\"]: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"]
        );
        let old = sc(json!(["10.0.0.0/24"]));
        assert!(
            validate_service_cidr_update(&sc(json!(["10.0.0.0/24", "fd00::/108"])), &old)
                .is_empty()
        );
        assert_eq!(
            strs(validate_service_cidr_update(
                &sc(json!(["10.9.0.0/24"])),
                &old
            )),
            ["spec.cidrs[0]: Invalid value: \"10.9.0.0/24\": field is immutable"]
        );
    }
}
